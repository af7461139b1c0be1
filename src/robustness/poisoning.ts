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

/** Robust z-scores of log(v) within each group (e.g. the true class). */
function groupedLogZ(v: ArrayLike<number>, groups: ArrayLike<number> | undefined): Float64Array {
  const out = new Float64Array(v.length);
  const keys = new Map<number, number[]>();
  for (let i = 0; i < v.length; i++) {
    const g = groups ? groups[i]! : 0;
    if (!keys.has(g)) keys.set(g, []);
    keys.get(g)!.push(i);
  }
  for (const idx of keys.values()) {
    const z = robustZ(idx.map((i) => Math.log(Math.max(v[i]!, 1e-8))));
    idx.forEach((i, j) => { out[i] = z[j]!; });
  }
  return out;
}

/**
 * Flag samples whose per-sample loss (or gradient norm) has a robust z-score above `threshold`
 * (default 3.5, Iglewicz & Hoaglin). Scores are computed on log values (losses of a trained model
 * are heavy-tailed: most near 0) and within `groups` (e.g. the true class, so a rare class is not
 * flagged wholesale). Only high values are flagged: a low loss is not suspicious.
 */
export function flagAnomalousSamples(losses: ArrayLike<number>, gradientNorms?: ArrayLike<number>, opts: { threshold?: number; groups?: ArrayLike<number> } = {}): PoisoningReport {
  const n = losses.length;
  if (gradientNorms && gradientNorms.length !== n) throw new InputError('LENGTH_MISMATCH', `${n} losses but ${gradientNorms.length} gradient norms`);
  if (opts.groups && opts.groups.length !== n) throw new InputError('LENGTH_MISMATCH', `${n} losses but ${opts.groups.length} group labels`);
  const threshold = opts.threshold ?? 3.5;
  const lz = groupedLogZ(losses, opts.groups);
  const gz = gradientNorms ? groupedLogZ(gradientNorms, opts.groups) : null;
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

/**
 * Per-sample loss and norm of the final linear layer's gradient (weights and bias):
 * ‖∂ℓ/∂W‖ = ‖p − y‖·‖features‖, ‖∂ℓ/∂b‖ = ‖p − y‖ — cheap, and the part of the gradient that moves
 * most under mislabelled or planted samples. Softmax CE (categorical) or masked BCE (multi-label).
 */
export function perSampleLossAndGradNorm(
  logits: Float32Array, features: Float32Array | null, target: Float32Array, mask: Float32Array, n: number, k: number, kind: 'softmax_ce' | 'bce_logits',
): { losses: Float64Array; gradientNorms: Float64Array } {
  const losses = new Float64Array(n);
  const gradientNorms = new Float64Array(n);
  const dim = features ? features.length / n : 0;
  for (let i = 0; i < n; i++) {
    let loss = 0, r2 = 0;
    if (kind === 'softmax_ce') {
      let m = -Infinity;
      for (let c = 0; c < k; c++) m = Math.max(m, logits[i * k + c]!);
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.exp(logits[i * k + c]! - m);
      const lse = m + Math.log(s);
      for (let c = 0; c < k; c++) {
        const p = Math.exp(logits[i * k + c]! - lse), y = target[i * k + c]!;
        loss -= y * (logits[i * k + c]! - lse);
        r2 += (p - y) ** 2;
      }
    } else {
      let cnt = 0;
      for (let c = 0; c < k; c++) {
        if (!mask[i * k + c]) continue;
        const z = logits[i * k + c]!, y = target[i * k + c]!;
        loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
        r2 += (1 / (1 + Math.exp(-z)) - y) ** 2;
        cnt++;
      }
      loss = cnt ? loss / cnt : 0;
    }
    let f2 = 0;
    for (let d = 0; d < dim; d++) f2 += features![i * dim + d]! ** 2;
    losses[i] = loss;
    gradientNorms[i] = Math.sqrt(r2 * (f2 + 1));
  }
  return { losses, gradientNorms };
}
