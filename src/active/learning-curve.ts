/**
 * Learning curves: AUROC against the number of labelled training images, fitted with an inverse
 * power law y(n) = a − b·n^(−c) (a = the asymptote, b > 0, c > 0; Figueroa et al. 2012,
 * Hestness et al. 2017), with a bootstrap-over-seeds interval. Predictions beyond the largest
 * training size are extrapolations and are labelled as such.
 *
 * The fit is variable projection: for each exponent c on a log grid (then refined by golden-section
 * search) a and b follow from weighted linear least squares, with a ≤ 1 (an AUROC cannot exceed 1)
 * and b ≥ 0 (more labels do not hurt on average).
 */
import { Rng } from '../util/rng.js';
import { t975 } from './stats.js';

export interface PowerLawFit {
  a: number;
  b: number;
  c: number;
  /** Weighted sum of squared residuals. */
  sse: number;
}

/** a, b for fixed c by weighted least squares on y = a − b·x, x = n^(−c), with a ≤ 1 and b ≥ 0. */
function linearPart(n: readonly number[], y: readonly number[], w: readonly number[], c: number): PowerLawFit {
  const x = n.map((v) => v ** -c);
  const sw = w.reduce((s, v) => s + v, 0);
  const mx = x.reduce((s, v, i) => s + w[i]! * v, 0) / sw;
  const my = y.reduce((s, v, i) => s + w[i]! * v, 0) / sw;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += w[i]! * (x[i]! - mx) ** 2;
    sxy += w[i]! * (x[i]! - mx) * (y[i]! - my);
  }
  // y = a + s·x with s = −b.
  let s = sxx > 0 ? sxy / sxx : 0;
  let a = my - s * mx;
  if (s > 0) { s = 0; a = my; }
  if (a > 1) {
    a = 1;
    // Best slope with the asymptote fixed at 1: minimise Σ w (y − 1 − s·x)².
    const sx2 = x.reduce((t, v, i) => t + w[i]! * v * v, 0);
    const sxr = x.reduce((t, v, i) => t + w[i]! * v * (y[i]! - 1), 0);
    s = sx2 > 0 ? Math.min(0, sxr / sx2) : 0;
  }
  let sse = 0;
  for (let i = 0; i < x.length; i++) sse += w[i]! * (y[i]! - a - s * x[i]!) ** 2;
  return { a, b: -s, c, sse };
}

/**
 * Fit y = a − b·n^(−c) to points (n, y) by weighted least squares.
 *
 * @example fitInversePowerLaw([100, 200, 400, 800], [0.80, 0.85, 0.88, 0.90]) // { a: ≈0.93, b, c, sse }
 */
export function fitInversePowerLaw(n: readonly number[], y: readonly number[], w: readonly number[] = n.map(() => 1)): PowerLawFit {
  if (n.length < 3) throw new RangeError(`an inverse power law has 3 parameters; ${n.length} points cannot fix them`);
  const lo = Math.log(1e-3);
  const hi = Math.log(4);
  const steps = 300;
  let best = linearPart(n, y, w, Math.exp(lo));
  let bi = 0;
  for (let i = 1; i <= steps; i++) {
    const f = linearPart(n, y, w, Math.exp(lo + ((hi - lo) * i) / steps));
    if (f.sse < best.sse) { best = f; bi = i; }
  }
  // Golden-section refinement in log c around the best grid point.
  let a = lo + ((hi - lo) * Math.max(0, bi - 1)) / steps;
  let b = lo + ((hi - lo) * Math.min(steps, bi + 1)) / steps;
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (t: number) => linearPart(n, y, w, Math.exp(t));
  let x1 = b - g * (b - a);
  let x2 = a + g * (b - a);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let it = 0; it < 80; it++) {
    if (f1.sse < f2.sse) { b = x2; x2 = x1; f2 = f1; x1 = b - g * (b - a); f1 = f(x1); } else { a = x1; x1 = x2; f1 = f2; x2 = a + g * (b - a); f2 = f(x2); }
  }
  for (const cand of [f1, f2]) if (cand.sse < best.sse) best = cand;
  return best;
}

/** @example predictPowerLaw(fit, 5000) // AUROC the curve reaches at 5,000 labels */
export function predictPowerLaw(fit: PowerLawFit, n: number): number {
  return fit.a - fit.b * n ** -fit.c;
}

/**
 * Labels at which the curve reaches `target`; null when it never does (target ≥ the asymptote a).
 *
 * @example labelsForAuroc(fit, 0.9) // 1234.5
 */
export function labelsForAuroc(fit: PowerLawFit, target: number): number | null {
  if (!(target < fit.a) || fit.b <= 0) return null;
  return (fit.b / (fit.a - target)) ** (1 / fit.c);
}

export interface CurveBootstrap {
  fit: PowerLawFit;
  /** Per `at`: prediction and 95 % percentile interval over bootstrap refits. */
  predictions: { n: number; auroc: number; ci95: [number, number] }[];
  /** Per target: labels needed (null when unreachable in the point fit) and the interval (null ends: unreachable in over 2.5 % of refits). */
  labelsFor: { auroc: number; labels: number | null; ci95: [number | null, number | null] }[];
  replicates: number;
}

const quantile = (v: number[], q: number) => {
  const s = v.slice().sort((x, y) => x - y);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo]! + (s[Math.min(s.length - 1, lo + 1)]! - s[lo]!) * (h - lo);
};

/**
 * Fit the mean curve over seeds and bootstrap the seeds (resampled with replacement at each
 * training size) for intervals on predictions and on the labels needed for target AUROCs.
 *
 * @example bootstrapLearningCurve([100, 200, 400], [[0.8, 0.82], [0.85, 0.86], [0.88, 0.87]], { at: [4000], targets: [0.9] })
 */
export function bootstrapLearningCurve(
  sizes: readonly number[], perSeed: readonly (readonly number[])[],
  o: { at: number[]; targets: number[]; replicates?: number; seed?: number },
): CurveBootstrap {
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const fit = fitInversePowerLaw(sizes, perSeed.map(mean));
  const B = o.replicates ?? 400;
  const rng = new Rng(`${o.seed ?? 1}:learning-curve`);
  const preds: number[][] = o.at.map(() => []);
  const labels: number[][] = o.targets.map(() => []);
  for (let r = 0; r < B; r++) {
    const y = perSeed.map((v) => mean(Array.from({ length: v.length }, () => v[rng.int(v.length)]!)));
    const f = fitInversePowerLaw(sizes, y);
    o.at.forEach((n, i) => preds[i]!.push(predictPowerLaw(f, n)));
    o.targets.forEach((t, i) => labels[i]!.push(labelsForAuroc(f, t) ?? Infinity));
  }
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    fit,
    predictions: o.at.map((n, i) => ({ n, auroc: predictPowerLaw(fit, n), ci95: [quantile(preds[i]!, 0.025), quantile(preds[i]!, 0.975)] })),
    labelsFor: o.targets.map((t, i) => ({ auroc: t, labels: labelsForAuroc(fit, t), ci95: [fin(quantile(labels[i]!, 0.025)), fin(quantile(labels[i]!, 0.975))] })),
    replicates: B,
  };
}

/**
 * The interval a new mean of `k` seeds at one size should fall in: the fit's interval (half-width
 * from its 95 % bootstrap interval) widened by the seed-to-seed noise of such a mean (pooled
 * within-size SD of the fitted points, Student t on the pooled degrees of freedom). Null without
 * repeated seeds.
 *
 * @example measurementInterval(0.976, [0.970, 0.982], fittedPerSeed, 3) // [0.965, 0.987]
 */
export function measurementInterval(predicted: number, ci95: [number, number], perSeed: readonly (readonly number[])[], k: number): [number, number] | null {
  let ss = 0;
  let df = 0;
  for (const v of perSeed) {
    if (v.length < 2) continue;
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    ss += v.reduce((a, b) => a + (b - m) ** 2, 0);
    df += v.length - 1;
  }
  if (df === 0 || k < 1) return null;
  const noise = (t975(df) * Math.sqrt(ss / df)) / Math.sqrt(k);
  const fitHalf = (ci95[1] - ci95[0]) / 2;
  const h = Math.sqrt(fitHalf ** 2 + noise ** 2);
  return [predicted - h, predicted + h];
}
