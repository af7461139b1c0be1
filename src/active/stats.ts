/** Summaries over seeds: mean with a Student-t 95 % interval, area under a learning curve. */
import { normalQuantile } from '../util/normal.js';

// t(0.975, df) for df = 1..30; beyond that the normal quantile is within 2 %.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Two-sided 95 % Student-t quantile for `df` degrees of freedom. */
export function t975(df: number): number {
  return df >= 1 && df <= 30 ? T975[df - 1]! : normalQuantile(0.975);
}

/**
 * Mean and 95 % t-interval of finite values; the interval is null with fewer than two.
 *
 * @example meanCi([0.8, 0.82, 0.84]) // { mean: 0.82, ci95: [0.770, 0.870], n: 3 }
 */
export function meanCi(values: readonly number[]): { mean: number | null; ci95: [number, number] | null; n: number } {
  const v = values.filter((x) => Number.isFinite(x));
  if (!v.length) return { mean: null, ci95: null, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length < 2) return { mean, ci95: null, n: 1 };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  const h = (t975(v.length - 1) * sd) / Math.sqrt(v.length);
  return { mean, ci95: [mean - h, mean + h], n: v.length };
}

/**
 * Normalised area under a learning curve: the trapezoid area over labels divided by the label
 * range, i.e. the curve's mean height (an AUROC-like number). NaN points are skipped.
 *
 * @example aulc([50, 100, 150], [0.7, 0.8, 0.9]) // 0.8
 */
export function aulc(labels: readonly number[], y: readonly number[]): number {
  const pts = labels.map((x, i) => [x, y[i]!] as const).filter(([, v]) => Number.isFinite(v));
  if (pts.length === 0) return NaN;
  if (pts.length === 1) return pts[0]![1];
  let a = 0;
  for (let i = 1; i < pts.length; i++) a += ((pts[i]![0] - pts[i - 1]![0]) * (pts[i]![1] + pts[i - 1]![1])) / 2;
  const span = pts[pts.length - 1]![0] - pts[0]![0];
  return span > 0 ? a / span : pts[0]![1];
}

/**
 * The first label count at which a curve reaches `target`, interpolating linearly between
 * measured points; null when it never does.
 *
 * @example labelsToReach([50, 100], [0.7, 0.9], 0.8) // 75
 */
export function labelsToReach(labels: readonly number[], y: readonly (number | null)[], target: number): number | null {
  for (let i = 0; i < labels.length; i++) {
    const v = y[i];
    if (v === null || v === undefined || !Number.isFinite(v) || v < target) continue;
    const p = i > 0 ? y[i - 1] : null;
    if (i === 0 || p === null || p === undefined || !Number.isFinite(p)) return labels[i]!;
    return labels[i - 1]! + ((target - p) / (v - p)) * (labels[i]! - labels[i - 1]!);
  }
  return null;
}
