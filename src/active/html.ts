/** active.html: the simulation's learning curves (inline SVG, no scripts) and the label savings table. */
import { esc, fmt, linePlot, PALETTE } from '../report/svg.js';
import type { ActiveResult } from './simulate.js';

const CSS = `body{margin:0;font:15px/1.55 system-ui,sans-serif;color:#1f2937;background:#f8fafc}main{max-width:1180px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 24px 16px;margin:20px 0}table{border-collapse:collapse;font-size:13.5px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:left;vertical-align:top}thead th{background:#f1f5f9}.ci{color:#6b7280;font-size:12.5px}
.plot{background:#fff;max-width:100%;height:auto}.plot .ptitle{font-size:13px;font-weight:600}.plot .tick{font-size:11px;fill:#6b7280}.plot .axis{font-size:12px}
.plot .legend{font-size:11.5px}.plot .frame{fill:none;stroke:#cbd5e1}.plot .grid{stroke:#eef2f7}.note{color:#4b5563}`;

const ciText = (c: [number | null, number | null] | null | undefined, d = 3) => (c && c[0] !== null && c[1] !== null ? `<span class="ci">[${fmt(c[0], d)}, ${fmt(c[1], d)}]</span>` : '');

/**
 * @example writeFileAtomic('sim/active.html', renderActiveHtml(result))
 */
export function renderActiveHtml(r: ActiveResult, title = 'Active learning simulation'): string {
  const names = Object.keys(r.strategies);
  const all = names.flatMap((n) => r.strategies[n]!.auroc_ci95.flatMap((c) => c).concat(r.strategies[n]!.auroc_mean)).filter((v): v is number => typeof v === 'number');
  const lo = Math.max(0, Math.floor((Math.min(...all) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...all) + 0.01) * 20) / 20);
  const labels = r.strategies[names[0]!]!.labels;
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const plot = linePlot({
    title: 'AUROC against labels acquired (mean over seeds, 95 % CI shaded)', xLabel: 'labels acquired', yLabel: 'AUROC',
    xDomain: [labels[0]!, labels[labels.length - 1]!], yDomain: [lo, hi], width: 640, height: 420, legendAt: 'br',
    series: names.map((n, i) => ({ label: n, color: color(i), dash: n === 'random', points: labels.map((x, j) => ({ x, y: r.strategies[n]!.auroc_mean[j] ?? NaN })) })),
    bands: r.settings.seeds.length > 1 ? names.map((n, i) => {
      const c = r.strategies[n]!.auroc_ci95;
      return { label: `${n} 95 % CI`, color: color(i), x: labels, lower: c.map((v) => v[0] ?? NaN), upper: c.map((v) => v[1] ?? NaN) };
    }) : [],
  });
  const rows = names.map((n) => {
    const s = r.summary[n]!;
    return `<tr><th>${esc(n)}</th><td>${fmt(s.final_auroc_mean)}</td><td>${fmt(s.aulc_mean)} ${ciText(s.aulc_ci95)}</td><td>${n === 'random' ? '—' : `${fmt(s.aulc_minus_random_mean, 4)} ${ciText(s.aulc_minus_random_ci95, 4)}`}</td><td>${s.labels_to_reach_random_final ?? 'not reached'}</td><td>${s.label_savings_vs_random ?? '—'}</td></tr>`;
  }).join('');
  const st = r.settings;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head><body><main><h1>${esc(title)}</h1>
<section><h2>Learning curves</h2>${plot}
<p class="note">Pool of ${st.pool} images with labels hidden until acquired; ${st.initial} random labels to start, then ${st.rounds} rounds of ${st.batch}; the model is retrained from scratch each round. AUROC on ${st.evaluation} images (${esc(st.evaluation_source)}); ${st.validation} validation images for early stopping, not counted as labels. Seeds: ${st.seeds.join(', ')}.</p></section>
<section><h2>Summary</h2><table><thead><tr><th>strategy</th><th>final AUROC</th><th>area under the curve (mean AUROC) [95 % CI]</th><th>area − random, paired [95 % CI]</th><th>labels to reach random's final AUROC (${fmt(r.random_final_auroc)})</th><th>labels saved</th></tr></thead><tbody>${rows}</tbody></table>
<p class="note">Labels to reach: first point (linear interpolation between rounds) where the mean curve reaches random's final mean AUROC at ${labels[labels.length - 1]} labels.</p></section>
${r.notes.length ? `<section><h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>` : ''}
</main></body></html>\n`;
}
