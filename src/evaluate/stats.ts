/** Small statistical building blocks: normal distribution, Wilson interval, quantiles, binomial tails. */

export { normalCdf, normalQuantile } from '../util/normal.js';
import { normalQuantile } from '../util/normal.js';

/** z for a two-sided interval of the given level, e.g. 1.96 for 0.95. */
export function zFor(level = 0.95): number {
  return normalQuantile(1 - (1 - level) / 2);
}

/**
 * Wilson score interval for a proportion (as statsmodels `proportion_confint(method='wilson')`).
 * Returns null when there are no trials.
 * @example wilsonInterval(8, 10) // [0.4902, 0.9433]
 */
export function wilsonInterval(successes: number, trials: number, level = 0.95): [number, number] | null {
  if (!(trials > 0)) return null;
  const z = zFor(level);
  const p = successes / trials;
  const z2 = z * z;
  const denom = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Sample quantile, R type 7 (linear interpolation, as R's and numpy's default). `sorted` must be ascending. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** log of the binomial pmf, stable for large n. */
function logBinomPmf(k: number, n: number, p: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log(1 - p);
}

/** Lanczos approximation of log Γ(x) for x > 0 (relative error ~1e-15). */
export function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

export function binomialPmf(k: number, n: number, p = 0.5): number {
  if (k < 0 || k > n) return 0;
  return Math.exp(logBinomPmf(k, n, p));
}

/** P(X ≤ k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p = 0.5): number {
  let s = 0;
  for (let i = 0; i <= Math.min(k, n); i++) s += binomialPmf(i, n, p);
  return Math.min(1, s);
}

/** Mean of an array-like. */
export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Finite number or null, so results never carry NaN or Infinity. */
export function fin(x: number | undefined | null): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/**
 * `out[k] = src[idx[k]]` into a new typed array. `Float64Array.from(idx, fn)` boxes every value on
 * the way (a million rows cost tens of MB of garbage per call); a plain loop does not.
 * @example gatherFloat([0.1, 0.2, 0.3], [2, 0]) // Float64Array [0.3, 0.1]
 */
export function gatherFloat(src: ArrayLike<number>, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = src[idx[k]!]!;
  return out;
}

/** `gatherFloat` for 0/1 labels. */
export function gatherBytes(src: ArrayLike<number>, idx: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = src[idx[k]!]!;
  return out;
}

/**
 * `fn` applied to every value, into a new Float64Array (without `from`'s boxing).
 * @example mapFloat([1, 2], (v) => v * 2) // Float64Array [2, 4]
 */
export function mapFloat(src: ArrayLike<number>, fn: (v: number) => number): Float64Array {
  const out = new Float64Array(src.length);
  for (let k = 0; k < src.length; k++) out[k] = fn(src[k]!);
  return out;
}
