/**
 * Population stability index per categorical field and per numeric feature (reference deciles as
 * bins). Reported as an effect size (conventionally < 0.1 stable, > 0.25 a major shift); never alarms.
 */
import { categoricalTable, psi } from './categorical.js';
import { finite, referenceColumn } from './numeric.js';
import { type Detector, lastN } from './types.js';

/** Decile bin proportions of weighted reference and window values, bins from the reference. */
export function decileProportions(refX: number[], refW: number[], winX: number[], refOrder?: number[]): { expected: number[]; actual: number[] } {
  const order = refOrder ?? refX.map((_, i) => i).sort((a, b) => refX[a]! - refX[b]!);
  const W = refW.reduce((s, w) => s + w, 0);
  const raw: number[] = [];
  let acc = 0, q = 1;
  for (const i of order) {
    acc += refW[i]!;
    while (q <= 9 && acc >= (q / 10) * W) { raw.push(refX[i]!); q++; }
  }
  const edges = [...new Set(raw)].sort((a, b) => a - b);
  const bin = (v: number) => { let k = 0; while (k < edges.length && v > edges[k]!) k++; return k; };
  const e = new Array<number>(edges.length + 1).fill(0), a = new Array<number>(edges.length + 1).fill(0);
  refX.forEach((v, i) => (e[bin(v)]! += refW[i]! / W));
  for (const v of winX) a[bin(v)]! += 1 / winX.length;
  return { expected: e, actual: a };
}

export const psiDetector: Detector = {
  name: 'psi',
  kind: 'covariate',
  description: 'population stability index per header field and image statistic (effect size; > 0.25 = major shift)',
  run(ctx) {
    const out = [];
    for (const [f, refVals] of Object.entries(ctx.ref.categorical)) {
      const t = categoricalTable(refVals, ctx.refWeights, ctx.window.categorical[f] ?? []);
      const R = t.ref.reduce((a, b) => a + b, 0), n = t.win.reduce((a, b) => a + b, 0);
      if (t.categories.length < 2 || n < 10) continue;
      const v = psi(t.ref.map((x) => x / R), t.win.map((x) => x / n));
      out.push({ detector: 'psi', kind: 'covariate' as const, feature: f, statistic: v, pValue: null, effect: v, alarming: false, message: `${f.replace(/_/g, ' ')}: PSI ${v.toFixed(3)} over ${lastN(n)}` });
    }
    for (const [f, refVals] of Object.entries(ctx.ref.numeric)) {
      const col = referenceColumn(refVals);
      const r = { x: col.x, w: col.idx.map((i) => ctx.refWeights[i]!) }, w = finite(ctx.window.numeric[f] ?? []);
      if (r.x.length < 10 || w.x.length < 10) continue;
      const { expected, actual } = decileProportions(r.x, r.w, w.x, col.order);
      const v = psi(expected, actual);
      out.push({ detector: 'psi', kind: 'covariate' as const, feature: f, statistic: v, pValue: null, effect: v, alarming: false, message: `${f.replace(/_/g, ' ')}: PSI ${v.toFixed(3)} over ${lastN(w.x.length)}` });
    }
    return out;
  },
};
