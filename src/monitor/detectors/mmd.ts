/**
 * Embedding drift: maximum mean discrepancy between the window's whitened PCA coordinates and a
 * (weight-resampled) reference subset, Gaussian kernel with the median-distance bandwidth of the
 * reference, and a permutation test. The biased (V-statistic) MMD² is used so the permutation null
 * is positive; its far tail (beyond what B permutations can resolve) comes from a gamma fitted to
 * the permutation moments (Gretton et al. 2009), so a strong shift gets a small enough p-value to
 * pass the multiple-testing correction.
 */
import { gammaSf } from '../math.js';
import { Rng } from '../../util/rng.js';
import { type Detector, lastN } from './types.js';

export interface MmdResult {
  statistic: number;
  /** (1 + #{permuted ≥ observed}) / (B + 1). */
  pPermutation: number;
  /** Gamma approximation of the same null. */
  pGamma: number;
  /** The p-value used for alarms: the permutation one, or the gamma tail when the permutations cannot resolve it. */
  pValue: number;
  bandwidth: number;
  permuted: Float64Array;
}

function sqDist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) { const d = a[k]! - b[k]!; s += d * d; }
  return s;
}

/** Median of squared distances within `x` (all pairs up to 300 points). */
export function medianSqDistance(x: ArrayLike<number>[]): number {
  const n = Math.min(x.length, 300);
  const d = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[k++] = sqDist(x[i]!, x[j]!);
  d.sort();
  return d.length ? d[Math.floor((d.length - 1) / 2)]! || 1 : 1;
}

/** Random permutations of 0..n−1 (seeded), for the test and for reproducing it elsewhere. */
export function permutations(n: number, count: number, seed: number | string): Int32Array[] {
  // xorshift32 seeded from the project RNG: the shuffles are many, and only need to be reproducible.
  let state = new Rng(`mmd:${seed}`).nextUint32() || 1;
  const next = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state; };
  const out: Int32Array[] = [];
  for (let b = 0; b < count; b++) {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = next() % (i + 1); const t = p[i]!; p[i] = p[j]!; p[j] = t; }
    out.push(p);
  }
  return out;
}

/**
 * MMD² (biased) of x vs y with kernel exp(−‖a−b‖² / (2·bandwidth)), and its permutation test.
 * The first x.length entries of each permutation of the pooled sample form the first group.
 * @example const r = mmdTest(refRows, windowRows, { permutations: 200, seed: 1 }); r.pValue
 */
export function mmdTest(x: ArrayLike<number>[], y: ArrayLike<number>[], o: { permutations?: number | Int32Array[]; seed?: number | string; bandwidth?: number } = {}): MmdResult {
  const n = x.length, m = y.length, N = n + m;
  const z = [...x, ...y];
  const bw = o.bandwidth ?? medianSqDistance(x);
  const D = z[0]?.length ?? 0;
  const flat = new Float64Array(N * D);
  z.forEach((row, i) => { for (let k = 0; k < D; k++) flat[i * D + k] = row[k]!; });
  const K = new Float64Array(N * N);
  const inv = -1 / (2 * bw);
  for (let i = 0; i < N; i++) {
    K[i * N + i] = 1;
    for (let j = i + 1; j < N; j++) {
      let d2 = 0;
      for (let k = 0; k < D; k++) { const t = flat[i * D + k]! - flat[j * D + k]!; d2 += t * t; }
      K[i * N + j] = K[j * N + i] = Math.exp(d2 * inv);
    }
  }
  // Only the window group's kernel block and row sums change with a permutation:
  // with h the membership of group 2 (size m), r = K·1 and T = 1ᵀK1,
  // S_yy = hᵀKh, S_xy = hᵀr − S_yy, S_xx = T − 2hᵀr + S_yy, MMD² = S_xx/n² + S_yy/m² − 2S_xy/(nm).
  const r = new Float64Array(N);
  let T = 0;
  for (let i = 0; i < N; i++) { let s = 0; const row = i * N; for (let j = 0; j < N; j++) s += K[row + j]!; r[i] = s; T += s; }
  const members = new Int32Array(m);
  const stat = (perm: Int32Array | null) => {
    // Group 2 is the positions n..N−1 of the (permuted) pooled sample.
    for (let k = 0; k < m; k++) members[k] = perm ? perm[n + k]! : n + k;
    let syy = 0, hr = 0;
    for (let a = 0; a < m; a++) {
      const i = members[a]!, row = i * N;
      hr += r[i]!;
      let s = 0;
      for (let b = 0; b < m; b++) s += K[row + members[b]!]!;
      syy += s;
    }
    const sxy = hr - syy, sxx = T - 2 * hr + syy;
    return sxx / (n * n) + syy / (m * m) - (2 * sxy) / (n * m);
  };
  const obs = stat(null);
  const perms = Array.isArray(o.permutations) ? o.permutations : permutations(N, o.permutations ?? 200, o.seed ?? 1);
  const permuted = Float64Array.from(perms, (p) => stat(p));
  let ge = 0;
  for (const v of permuted) if (v >= obs) ge++;
  const B = permuted.length;
  const pPermutation = (1 + ge) / (B + 1);
  let mean = 0; for (const v of permuted) mean += v / B;
  let v2 = 0; for (const v of permuted) v2 += (v - mean) ** 2 / Math.max(1, B - 1);
  const pGamma = mean > 0 && v2 > 0 ? gammaSf(obs, (mean * mean) / v2, v2 / mean) : pPermutation;
  // The permutation p-value is exact but bottoms out at 1/(B+1); below 5/(B+1) the gamma tail takes over.
  const pValue = pPermutation > 5 / (B + 1) ? pPermutation : Math.min(pPermutation, pGamma);
  return { statistic: obs, pPermutation, pGamma, pValue, bandwidth: bw, permuted };
}

/**
 * Draw `count` distinct reference rows with probability in proportion to their weights
 * (Efraimidis–Spirakis keys u^(1/w), seeded). Without replacement: duplicated rows in one group
 * would make the groups non-exchangeable and the permutation test anti-conservative.
 */
export function weightedSubset(n: number, weights: ArrayLike<number>, count: number, seed: number | string): number[] {
  const rng = new Rng(`mmd-subset:${seed}`);
  const keys = Array.from({ length: n }, (_, i) => [Math.log(Math.max(rng.random(), 1e-300)) / Math.max(weights[i]!, 1e-12), i] as const);
  keys.sort((a, b) => b[0] - a[0]);
  return keys.slice(0, Math.min(n, count)).map((k) => k[1]).sort((a, b) => a - b);
}

export const MMD_REFERENCE_SUBSET = 200;
export const MMD_PERMUTATIONS = 60;
export const MMD_MIN_WINDOW = 100;

export const mmdDetector: Detector = {
  name: 'mmd',
  kind: 'covariate',
  description: 'maximum mean discrepancy on whitened PCA coordinates of penultimate embeddings, permutation test',
  run(ctx) {
    const ref = ctx.ref.embedding, win = ctx.window.embedding;
    // Below 100 studies the gamma tail of the permutation null is too optimistic.
    if (!ref || !win || win.length < MMD_MIN_WINDOW) return [];
    const idx = weightedSubset(ref.length, ctx.refWeights, MMD_REFERENCE_SUBSET, ctx.seed);
    const r = mmdTest(idx.map((i) => ref[i]!), win, { permutations: MMD_PERMUTATIONS, seed: ctx.seed });
    return [{
      detector: 'mmd', kind: 'covariate' as const, feature: 'embedding', statistic: r.statistic, pValue: r.pValue, effect: null, alarming: true,
      message: `image embeddings of ${lastN(win.length)} differ from the reference (MMD² = ${r.statistic.toExponential(2)}, permutation p ${r.pPermutation < 0.01 ? '< 0.01' : `= ${r.pPermutation.toFixed(2)}`})`,
    }];
  },
};
