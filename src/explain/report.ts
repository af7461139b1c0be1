/**
 * Saliency in the HTML report: a ReportSection (id `saliency`, data in ctx.extras.saliency = the
 * `explain.json` object of `radml explain`) with localisation scores against chance and the
 * randomisation sanity test.
 */
import type { ReportSection } from '../report/index.js';
import { esc, fmt, pct } from '../report/index.js';
import type { ExplainSummary } from './run.js';

/** The saliency section body for an `explain.json` object, or null when empty. */
export function saliencyHtml(data: unknown): string | null {
  const s = data as ExplainSummary | undefined;
  if (!s || !Array.isArray(s.methods)) return null;
  const loc = Object.entries(s.localisation);
  const from = s.split ? ` from ${s.split === 'all rows' ? 'every row of the data' : `the ${esc(s.split)} split`}` : '';
  const parts = [`<p>${s.images} images${from} explained with ${esc(s.methods.join(', '))}${s.layer ? ` (Grad-CAM at ${esc(s.layer)})` : ''}.</p>`];
  const caveats = (s.skipped ?? []).filter((k) => k.method === 'image selection');
  if (caveats.length) parts.push(`<p class="warn">${caveats.map((k) => esc(k.reason)).join('; ')}.</p>`);
  if (loc.length) {
    parts.push(`<table><thead><tr><th>method</th><th>pointing game</th><th>chance</th><th>IoU (top 10%)</th><th>energy in mask</th><th>uniform map</th><th>images scored</th><th>flat maps (not scored)</th></tr></thead><tbody>${loc.map(([m, l]) =>
      `<tr><td>${esc(m)}</td><td>${pct(l!.pointingHitRate)}</td><td>${pct(l!.chanceHitRate)}</td><td>${fmt(l!.meanIoU)}</td><td>${fmt(l!.meanEnergyInMask)}</td><td>${fmt(l!.chanceEnergy)}</td><td>${l!.images}</td><td>${l!.degenerate ?? '—'}</td></tr>`).join('')}</tbody></table>`);
    const flat = loc.filter(([, l]) => (l!.degenerate ?? 0) > 0);
    if (flat.length) parts.push(`<p class="ci">A flat map (the same value at every pixel — for occlusion, no patch changed the score) points nowhere; ${flat.map(([m, l]) => `${l!.degenerate} ${esc(m)} map(s)`).join(', ')} were flat and are left out of the scores above.</p>`);
  } else parts.push('<p>No ground-truth masks: localisation not measured.</p>');
  const san = Object.entries(s.sanity);
  if (san.length) {
    parts.push(`<p>Randomisation sanity test (Adebayo et al. 2018): Spearman rank correlation between maps of the trained model and of the model with every layer re-initialised; a map that still looks the same does not explain what the model learned.</p><table><thead><tr><th>method</th><th>Spearman (fully randomised)</th><th>verdict</th></tr></thead><tbody>${san.map(([m, r]) =>
      `<tr><td>${esc(m)}</td><td>${fmt(r!.fullyRandomisedSpearman)}</td><td>${r!.passed ? 'depends on the weights' : 'insensitive to the weights — do not trust'}</td></tr>`).join('')}</tbody></table>`);
  }
  return parts.join('\n');
}

/** Report section; put the `explain.json` object in ctx.extras.saliency. */
export const saliencySection: ReportSection = {
  id: 'saliency',
  title: 'Saliency: localisation and sanity checks',
  render: (ctx) => saliencyHtml(ctx.extras?.['saliency']),
};
