/**
 * Stratified bootstrap over pre-sorted scores. A resample draws nPositive positives and nNegative
 * negatives with replacement; it is held as a multinomial count per tied-score group, so each
 * resample's AUROC (and average precision, and ROC band) is one linear pass with no re-sorting.
 */
import { Rng } from '../util/rng.js';
import type { ProgressCallback } from '../util/progress.js';
import { type RankedScores, aurocFromGroups, averagePrecisionFromGroups } from './ranking.js';
import { quantileSorted } from './stats.js';

export interface BootstrapOptions {
  resamples: number;
  seed: number;
  level?: number;
  /** Also resample average precision. */
  averagePrecision?: boolean;
  /** FPR values at which to collect a pointwise TPR band (e.g. 0, 0.02, …, 1). */
  bandFpr?: number[];
  /** Thresholds (positive when score ≥ t) at which to record each resample's TP and FP counts. */
  thresholds?: number[];
  onProgress?: ProgressCallback;
  stage?: string;
}

export interface BootstrapResult {
  resamples: number;
  /** Resamples whose AUROC was defined (always all of them in a stratified bootstrap with both classes). */
  auroc: Float64Array;
  aurocCi: [number, number];
  averagePrecision?: Float64Array;
  averagePrecisionCi?: [number, number];
  /** Pointwise percentile band of TPR at `bandFpr`. */
  band?: { fpr: number[]; lower: number[]; upper: number[] };
  /** Per requested threshold: TP and FP of every resample (positives and negatives are fixed per resample). */
  atThreshold?: { threshold: number; tp: Int32Array; fp: Int32Array }[];
}

export function percentileCi(values: Float64Array, level: number): [number, number] {
  const sorted = Float64Array.from(values).sort();
  const a = (1 - level) / 2;
  return [quantileSorted(sorted, a), quantileSorted(sorted, 1 - a)];
}

/**
 * Stratified percentile bootstrap of AUROC (as pROC's `ci.auc(method = "bootstrap")`).
 * Requires at least one positive and one negative.
 * @example bootstrapAuroc(rankScores(scores, labels), { resamples: 2000, seed: 1 }).aurocCi
 */
export function bootstrapAuroc(r: RankedScores, opts: BootstrapOptions): BootstrapResult {
  const B = opts.resamples;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed);
  const G = r.groupScore.length;
  const wp = new Int32Array(G);
  const wn = new Int32Array(G);
  const aucs = new Float64Array(B);
  const aps = opts.averagePrecision ? new Float64Array(B) : undefined;
  const band = opts.bandFpr;
  const bandTpr = band ? band.map(() => new Float64Array(B)) : undefined;
  const m = r.nPositive;
  const n = r.nNegative;
  const posGroup = r.positiveGroup;
  const negGroup = r.negativeGroup;
  const every = Math.max(1, Math.floor(B / 50));
  // Number of tie groups called positive at each threshold; groups are in descending score order.
  const cuts = (opts.thresholds ?? []).map((t) => {
    let c = 0;
    while (c < G && r.groupScore[c]! >= t) c++;
    return c;
  });
  const atThreshold = (opts.thresholds ?? []).map((threshold) => ({ threshold, tp: new Int32Array(B), fp: new Int32Array(B) }));
  const cutOrder = cuts.map((_, k) => k).sort((a, b) => cuts[a]! - cuts[b]!);
  // xoshiro128** inlined on local state (seeded from the Rng): the draw loop is the whole cost of a
  // bootstrap, and a method call with property writes per draw is several times slower.
  let s0 = rng.nextUint32() | 1;
  let s1 = rng.nextUint32();
  let s2 = rng.nextUint32();
  let s3 = rng.nextUint32();
  const mScale = m / 4294967296;
  const nScale = n / 4294967296;
  for (let b = 0; b < B; b++) {
    wp.fill(0);
    wn.fill(0);
    for (let i = 0; i < m; i++) {
      const x = Math.imul(s1, 5);
      const u = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      wp[posGroup[(u * mScale) | 0]!]!++;
    }
    for (let j = 0; j < n; j++) {
      const x = Math.imul(s1, 5);
      const u = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      wn[negGroup[(u * nScale) | 0]!]!++;
    }
    aucs[b] = aurocFromGroups(wp, wn);
    if (aps) aps[b] = averagePrecisionFromGroups(wp, wn);
    if (cutOrder.length) {
      let tp = 0;
      let fp = 0;
      let g = 0;
      for (const k of cutOrder) {
        for (; g < cuts[k]!; g++) {
          tp += wp[g]!;
          fp += wn[g]!;
        }
        atThreshold[k]!.tp[b] = tp;
        atThreshold[k]!.fp[b] = fp;
      }
    }
    if (band && bandTpr) {
      // TPR of the ROC step curve at each FPR in the band grid (highest TPR reached with FPR ≤ f).
      let tp = 0;
      let fp = 0;
      let k = 0;
      for (let g = 0; g < G && k < band.length; g++) {
        const nfp = fp + wn[g]!;
        while (k < band.length && nfp / n > band[k]! + 1e-12) {
          bandTpr[k]![b] = tp / m;
          k++;
        }
        tp += wp[g]!;
        fp = nfp;
      }
      for (; k < band.length; k++) bandTpr[k]![b] = tp / m;
    }
    if (opts.onProgress && (b % every === 0 || b === B - 1)) opts.onProgress({ stage: opts.stage ?? 'bootstrap', done: b + 1, total: B });
  }
  const out: BootstrapResult = { resamples: B, auroc: aucs, aurocCi: percentileCi(aucs, level) };
  if (atThreshold.length) out.atThreshold = atThreshold;
  if (aps) {
    out.averagePrecision = aps;
    out.averagePrecisionCi = percentileCi(aps, level);
  }
  if (band && bandTpr) {
    const lower: number[] = [];
    const upper: number[] = [];
    for (const t of bandTpr) {
      const ci = percentileCi(t, level);
      lower.push(ci[0]);
      upper.push(ci[1]);
    }
    out.band = { fpr: band, lower, upper };
  }
  return out;
}
