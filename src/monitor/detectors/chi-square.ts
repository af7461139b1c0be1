/** Chi-square test (Pearson; G with the `g-test` variant) per categorical header field, with sparse categories pooled. */
import { categoricalTable, chiSquareTable, poolSparse, type CategoricalTable } from './categorical.js';
import { type Detector, type DetectorContext, lastN, pct } from './types.js';

/** The category that moved most, in words. */
export function describeShift(feature: string, t: CategoricalTable, n: number): string {
  const R = t.ref.reduce((a, b) => a + b, 0), W = t.win.reduce((a, b) => a + b, 0);
  let best = 0, bi = 0;
  t.categories.forEach((_, i) => { const d = Math.abs(t.win[i]! / W - t.ref[i]! / R); if (d > best) { best = d; bi = i; } });
  const name = feature.replace(/_/g, ' ');
  const q = t.win[bi]! / W, p = t.ref[bi]! / R;
  if (t.ref[bi] === 0) return `${name} '${t.categories[bi]}' never seen in the reference: ${pct(q)} of ${lastN(n)}`;
  return `${name} '${t.categories[bi]}': ${pct(q)} of ${lastN(n)} vs ${pct(p)} in the reference`;
}

function run(ctx: DetectorContext, g: boolean) {
  const out = [];
  for (const [f, refVals] of Object.entries(ctx.ref.categorical)) {
    const win = ctx.window.categorical[f] ?? [];
    const raw = categoricalTable(refVals, ctx.refWeights, win);
    if (raw.categories.length < 2 || raw.win.reduce((a, b) => a + b, 0) < 10) continue;
    const t = poolSparse(raw);
    const r = chiSquareTable(t, g);
    if (r.df === 0) continue;
    out.push({ detector: g ? 'g-test' : 'chi-square', kind: 'covariate' as const, feature: f, statistic: r.statistic, pValue: r.pValue, effect: null, alarming: true, message: `${describeShift(f, raw, win.filter((v) => v !== '').length)} (χ² = ${r.statistic.toFixed(1)}, ${r.df} df)` });
  }
  return out;
}

export const chiSquareDetector: Detector = { name: 'chi-square', kind: 'covariate', description: 'Pearson chi-square test per categorical header field (sparse categories pooled)', run: (ctx) => run(ctx, false) };
export const gTestDetector: Detector = { name: 'g-test', kind: 'covariate', description: 'G-test (likelihood ratio) per categorical header field (sparse categories pooled)', run: (ctx) => run(ctx, true) };
