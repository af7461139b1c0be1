/**
 * Robustness in the HTML report: a ReportSection (id `robustness`, data in ctx.extras.robustness =
 * the `stress.json` object of `radml stress`) with one curve per attack and per corruption, the OOD
 * gate's acceptance figures and the poisoning screen; and a standalone page for `radml stress`.
 */
import type { ReportSection } from '../report/index.js';
import { esc, fmt, linePlot, pct } from '../report/index.js';
import { PALETTE } from '../report/svg.js';
import type { StressResult } from './stress.js';

interface StressJson {
  stress?: StressResult;
  ood?: { acceptanceRate: number; heldOutAccepted: number; heldOutImages: number; sources: { source: string; accepted: number; rejected: number; skipped: unknown[] }[] };
  poisoning?: { count: number; threshold: number; flagged: { path?: string; reasons: string[] }[] };
}

function curvesHtml(r: StressResult): string {
  const parts: string[] = [];
  for (const kind of ['attack', 'corruption'] as const) {
    const curves = r.curves.filter((c) => c.kind === kind);
    if (!curves.length) continue;
    for (const metric of ['auroc', 'sensitivity'] as const) {
      const series = curves.map((c, i) => ({
        label: c.name,
        color: PALETTE[i % PALETTE.length]!,
        dash: i >= PALETTE.length,
        points: c.points.filter((p) => p[metric] !== null).map((p, j) => ({ x: kind === 'attack' ? (c.name === 'pgd-l2' ? j : p.strength * 255) : p.strength, y: p[metric]! })),
      }));
      parts.push(linePlot({
        title: `${metric === 'auroc' ? 'AUROC' : 'Sensitivity at the operating point'} vs ${kind === 'attack' ? 'attack radius' : 'corruption severity'}`,
        xLabel: kind === 'attack' ? 'ε (grey levels of 255; pgd-l2: radius index)' : 'severity (0 = clean)',
        yLabel: metric === 'auroc' ? 'AUROC' : 'sensitivity',
        yDomain: [0, 1], series, legendAt: 'tr',
        description: `${metric} of the model as ${kind === 'attack' ? 'adversarial perturbations' : 'corruptions'} grow`,
      }));
    }
  }
  const rows = r.curves.map((c) => `<tr><td>${esc(c.name)}</td><td>${esc(c.unit)}</td>${c.points.map((p) => `<td>${fmt(p.auroc, 3)}</td>`).join('')}</tr>`).join('');
  const from = r.split ? ` from ${r.split === 'all rows' ? 'every row of the data' : `the ${esc(r.split)} split`}` : '';
  return `<p>${r.images} labelled images${from}; scored ${esc(r.scoredClasses.join(', '))}; operating point (${esc(r.operatingPoint.rule)}) fixed on the clean images.</p>
<div class="plots">${parts.join('')}</div>
<table><thead><tr><th>test</th><th>unit</th><th colspan="6">AUROC by strength</th></tr></thead><tbody>${rows}</tbody></table>
${r.notes.length ? `<ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}`;
}

/** The robustness section body (HTML fragment) for a `stress.json` object, or null when empty. */
export function robustnessHtml(data: unknown): string | null {
  const d = data as StressJson | undefined;
  if (!d || (!d.stress && !d.ood && !d.poisoning)) return null;
  const out: string[] = [];
  if (d.stress) out.push(curvesHtml(d.stress));
  if (d.ood) {
    out.push(`<h3>Out-of-distribution gate</h3><p>${pct(d.ood.heldOutAccepted)} of ${d.ood.heldOutImages} held-out in-distribution images accepted (target ${pct(d.ood.acceptanceRate, 0)}).</p>`);
    if (d.ood.sources.length) {
      out.push(`<table><thead><tr><th>source</th><th>rejected</th><th>accepted</th><th>unreadable</th></tr></thead><tbody>${d.ood.sources.map((s) => `<tr><td>${esc(s.source)}</td><td>${s.rejected} (${pct(s.rejected / Math.max(1, s.rejected + s.accepted))})</td><td>${s.accepted}</td><td>${s.skipped.length}</td></tr>`).join('')}</tbody></table>`);
    }
  }
  if (d.poisoning) {
    out.push(`<h3>Poisoning screen</h3><p>${d.poisoning.flagged.length} of ${d.poisoning.count} training samples have a per-sample loss or last-layer gradient norm with robust z-score above ${d.poisoning.threshold}; review them first.</p>`);
    if (d.poisoning.flagged.length) out.push(`<ul>${d.poisoning.flagged.slice(0, 20).map((f) => `<li>${esc(f.path ?? '')}: ${esc(f.reasons.join('; '))}</li>`).join('')}</ul>`);
  }
  return out.join('\n');
}

/** Report section; put the `stress.json` object in ctx.extras.robustness. */
export const robustnessSection: ReportSection = {
  id: 'robustness',
  title: 'Robustness: adversarial attacks, corruptions, out-of-distribution inputs',
  render: (ctx) => robustnessHtml(ctx.extras?.['robustness']),
};

/** A self-contained page for `radml stress`. */
export function renderStressHtml(data: unknown): string {
  const body = robustnessHtml(data) ?? '<p>No results.</p>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>radml stress test</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}.plot text{font-size:11px}.plot .frame{fill:none;stroke:#999}.plot .grid{stroke:#eee}</style>
</head><body><h1>radml stress test</h1>${body}</body></html>`;
}
