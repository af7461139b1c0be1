/**
 * Two-sample comparisons of a numeric feature, window vs weighted reference: the Kolmogorov–Smirnov
 * distance with its asymptotic p-value (reference size taken as its effective size) and the
 * Wasserstein-1 distance, both from one merge of the two sorted samples.
 */
import { effectiveSize, kolmogorovSf } from '../math.js';
import type { DetectorContext } from './types.js';

export interface NumericComparison {
  ks: number;
  pValue: number;
  wasserstein: number;
  nRef: number;
  nWin: number;
}

/** Finite values (and their weights) of a column with nulls. */
export function finite(values: (number | null)[], weights?: ArrayLike<number>): { x: number[]; w: number[] } {
  const x: number[] = [], w: number[] = [];
  values.forEach((v, i) => { if (v !== null && Number.isFinite(v)) { x.push(v); w.push(weights ? weights[i]! : 1); } });
  return { x, w };
}

const columns = new WeakMap<object, { x: number[]; idx: number[]; order: number[] }>();

/**
 * A reference column's finite values, their row indices and their sort order, cached per column
 * (the reference sample never changes, only its weights do).
 */
export function referenceColumn(values: (number | null)[]): { x: number[]; idx: number[]; order: number[] } {
  let c = columns.get(values);
  if (!c) {
    const x: number[] = [], idx: number[] = [];
    values.forEach((v, i) => { if (v !== null && Number.isFinite(v)) { x.push(v); idx.push(i); } });
    c = { x, idx, order: x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!) };
    columns.set(values, c);
  }
  return c;
}

/**
 * KS and Wasserstein between weighted reference values and window values (as scipy's
 * `ks_2samp(method='asymp')` and `wasserstein_distance(u, v, u_weights)` when weights are equal).
 * @example compareNumeric([1, 2, 3], [1, 1, 1], [2, 3, 4]).ks // 0.333…
 */
export function compareNumeric(refX: number[], refW: number[], winX: number[], refOrder?: number[]): NumericComparison {
  const n = refX.length, m = winX.length;
  if (n === 0 || m === 0) return { ks: 0, pValue: 1, wasserstein: 0, nRef: n, nWin: m };
  const ri = refOrder ?? refX.map((_, i) => i).sort((a, b) => refX[a]! - refX[b]!);
  const wx = Float64Array.from(winX).sort();
  const W = refW.reduce((a, b) => a + b, 0);
  let i = 0, j = 0, fr = 0, fw = 0, d = 0, area = 0;
  let prev = Math.min(refX[ri[0]!]!, wx[0]!);
  while (i < n || j < m) {
    const v = Math.min(i < n ? refX[ri[i]!]! : Infinity, j < m ? wx[j]! : Infinity);
    area += Math.abs(fr - fw) * (v - prev);
    while (i < n && refX[ri[i]!]! === v) { fr += refW[ri[i]!]! / W; i++; }
    while (j < m && wx[j]! === v) { fw += 1 / m; j++; }
    d = Math.max(d, Math.abs(fr - fw));
    prev = v;
  }
  const ne = effectiveSize(refW);
  const en = (ne * m) / (ne + m);
  return { ks: d, pValue: kolmogorovSf(Math.sqrt(en) * d), wasserstein: area, nRef: n, nWin: m };
}

export interface FeatureComparison {
  feature: string;
  /** Reference values and their current weights. */
  ref: { x: number[]; w: number[] };
  /** The reference values' sort order (cached with the column). */
  refOrder: number[];
  window: { x: number[] };
  comparison: NumericComparison;
}

const perWindow = new WeakMap<DetectorContext, FeatureComparison[]>();

/**
 * Window-vs-reference comparisons of every numeric feature with at least 10 values on each side,
 * computed once per window: the KS and Wasserstein detectors both read them.
 */
export function numericComparisons(ctx: DetectorContext): FeatureComparison[] {
  let out = perWindow.get(ctx);
  if (out) return out;
  out = [];
  for (const [feature, refVals] of Object.entries(ctx.ref.numeric)) {
    const col = referenceColumn(refVals);
    const ref = { x: col.x, w: col.idx.map((i) => ctx.refWeights[i]!) };
    const win = finite(ctx.window.numeric[feature] ?? [], undefined);
    if (ref.x.length < 10 || win.x.length < 10) continue;
    out.push({ feature, ref, refOrder: col.order, window: { x: win.x }, comparison: compareNumeric(ref.x, ref.w, win.x, col.order) });
  }
  perWindow.set(ctx, out);
  return out;
}
