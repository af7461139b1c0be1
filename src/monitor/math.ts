/**
 * Distribution tails the drift tests need: regularised incomplete gamma (chi-square and gamma
 * tails), the Kolmogorov limiting distribution, weighted empirical CDFs and effective sample size.
 */
import { logGamma } from '../evaluate/stats.js';

/** Regularised lower incomplete gamma P(a, x) (Numerical Recipes series / continued fraction). */
export function gammaP(a: number, x: number): number {
  if (!(x > 0)) return 0;
  if (x < a + 1) {
    let sum = 1 / a, term = sum, ap = a;
    for (let i = 0; i < 10000; i++) { ap += 1; term *= x / ap; sum += term; if (Math.abs(term) < Math.abs(sum) * 1e-15) break; }
    return Math.min(1, sum * Math.exp(-x + a * Math.log(x) - logGamma(a)));
  }
  return 1 - gammaQ(a, x);
}

/** Regularised upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate in the far tail. */
export function gammaQ(a: number, x: number): number {
  if (!(x > 0)) return 1;
  if (x < a + 1) return 1 - gammaP(a, x);
  const tiny = 1e-300;
  let b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.max(0, Math.exp(-x + a * Math.log(x) - logGamma(a)) * h);
}

/**
 * Upper tail of the chi-square distribution with `df` degrees of freedom.
 * @example chiSquareSf(3.84, 1) // ≈ 0.05
 */
export function chiSquareSf(x: number, df: number): number {
  if (df <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

/** Upper tail of a gamma distribution with the given shape and scale. */
export function gammaSf(x: number, shape: number, scale: number): number {
  return gammaQ(shape, x / scale);
}

/**
 * Kolmogorov limiting distribution P(K > t) = 2 Σ (−1)^{k−1} e^{−2k²t²} (scipy's `kstwobign.sf`).
 * @example kolmogorovSf(1.36) // ≈ 0.049
 */
export function kolmogorovSf(t: number): number {
  if (t <= 0) return 1;
  if (t < 0.2) return 1;
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * t * t);
    s += (k % 2 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

/** Kish effective sample size of a weight vector: (Σw)² / Σw². */
export function effectiveSize(w: ArrayLike<number>): number {
  let s = 0, s2 = 0;
  for (let i = 0; i < w.length; i++) { s += w[i]!; s2 += w[i]! * w[i]!; }
  return s2 > 0 ? (s * s) / s2 : 0;
}

/** Weighted mean and variance (weights need not sum to 1). */
export function weightedMoments(x: ArrayLike<number>, w?: ArrayLike<number>): { mean: number; variance: number } {
  let sw = 0, s = 0;
  for (let i = 0; i < x.length; i++) { const wi = w ? w[i]! : 1; sw += wi; s += wi * x[i]!; }
  const mean = s / sw;
  let v = 0;
  for (let i = 0; i < x.length; i++) { const wi = w ? w[i]! : 1; v += wi * (x[i]! - mean) ** 2; }
  return { mean, variance: v / sw };
}

/** Weighted quantile (weights on sorted values, linear in cumulative weight). */
export function weightedQuantile(x: ArrayLike<number>, w: ArrayLike<number> | undefined, p: number): number {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  let total = 0;
  for (const i of idx) total += w ? w[i]! : 1;
  let acc = 0;
  for (const i of idx) {
    acc += w ? w[i]! : 1;
    if (acc >= p * total) return x[i]!;
  }
  return x[idx[idx.length - 1]!]!;
}

/** Holm step-down: which p-values are rejected at family-wise level alpha. */
export function holm(pValues: number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const out = pValues.map(() => false);
  for (let r = 0; r < order.length; r++) {
    if (order[r]![0] <= alpha / (order.length - r)) out[order[r]![1]] = true;
    else break;
  }
  return out;
}

/** Benjamini–Hochberg step-up at false-discovery rate q. */
export function benjaminiHochberg(pValues: number[], q: number): boolean[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  let k = -1;
  for (let r = 0; r < m; r++) if (order[r]![0] <= (q * (r + 1)) / m) k = r;
  const out = pValues.map(() => false);
  for (let r = 0; r <= k; r++) out[order[r]![1]] = true;
  return out;
}
