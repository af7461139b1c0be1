/**
 * Poisoning / label-corruption screen: training samples whose loss or gradient norm is far out of
 * line with the rest of the training set (robust z-score: (v − median) / (1.4826·MAD)) are flagged
 * for review. It does not prove poisoning; it lists what a person should look at first.
 */
import { InputError } from '../util/errors.js';

export function median(v: ArrayLike<number>): number {
  const s = Array.from(v).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Robust z-scores; when the MAD is 0 (over half the values identical) the mean absolute deviation
 * ×1.2533 is used instead, and if that is 0 too every score is 0.
 * @example robustZ([1, 1.1, 0.9, 1, 9])[4] // ≫ 3
 */
export function robustZ(v: ArrayLike<number>): Float64Array {
  const med = median(v);
  const dev = Array.from(v, (x) => Math.abs(x - med));
  let scale = 1.4826 * median(dev);
  if (!(scale > 0)) scale = 1.2533 * (dev.reduce((a, b) => a + b, 0) / Math.max(1, dev.length));
  return Float64Array.from(v, (x) => (scale > 0 ? (x - med) / scale : 0));
}

export interface PoisoningFlag {
  index: number;
  loss: number;
  gradientNorm: number | null;
  lossZ: number;
  gradientZ: number | null;
  reasons: string[];
}

export interface PoisoningReport {
  count: number;
  threshold: number;
  flagged: PoisoningFlag[];
  lossMedian: number;
  gradientNormMedian: number | null;
}

/**
 * Flag samples whose per-sample loss (or input-gradient norm) has a robust z-score above `threshold`
 * (default 3.5, Iglewicz & Hoaglin). Only high values are flagged: a low loss is not suspicious.
 */
export function flagAnomalousSamples(losses: ArrayLike<number>, gradientNorms?: ArrayLike<number>, opts: { threshold?: number } = {}): PoisoningReport {
  const n = losses.length;
  if (gradientNorms && gradientNorms.length !== n) throw new InputError('LENGTH_MISMATCH', `${n} losses but ${gradientNorms.length} gradient norms`);
  const threshold = opts.threshold ?? 3.5;
  const lz = robustZ(losses);
  const gz = gradientNorms ? robustZ(gradientNorms) : null;
  const flagged: PoisoningFlag[] = [];
  for (let i = 0; i < n; i++) {
    const reasons: string[] = [];
    if (lz[i]! > threshold) reasons.push(`loss ${losses[i]!.toFixed(3)} (robust z ${lz[i]!.toFixed(1)})`);
    if (gz && gz[i]! > threshold) reasons.push(`gradient norm ${gradientNorms![i]!.toPrecision(3)} (robust z ${gz[i]!.toFixed(1)})`);
    if (reasons.length) flagged.push({ index: i, loss: losses[i]!, gradientNorm: gradientNorms ? gradientNorms[i]! : null, lossZ: lz[i]!, gradientZ: gz ? gz[i]! : null, reasons });
  }
  flagged.sort((a, b) => Math.max(b.lossZ, b.gradientZ ?? -Infinity) - Math.max(a.lossZ, a.gradientZ ?? -Infinity));
  return { count: n, threshold, flagged, lossMedian: median(losses), gradientNormMedian: gradientNorms ? median(gradientNorms) : null };
}
