/**
 * Per-case uncertainty measures from one set of probabilities (natural-log entropies). Categorical
 * rows are softmax distributions; multi-label rows are independent sigmoids, each measured as a
 * two-class distribution {p, 1−p} and combined over findings by mean or max.
 */
import type { Aggregate, LabelKind } from './types.js';

const EPS = 1e-12;
const xlogx = (p: number) => (p > EPS ? p * Math.log(p) : 0);

/** Entropy (nats) of a two-class distribution {p, 1−p}. */
export function binaryEntropy(p: number): number {
  return -(xlogx(p) + xlogx(1 - p));
}

/** Apply `perClass` to each finding of row i and aggregate (multi-label), or `row` to the whole row (categorical). */
function perCase(
  probs: ArrayLike<number>, n: number, k: number, kind: LabelKind, agg: Aggregate,
  row: (p: ArrayLike<number>, off: number) => number, perClass: (p: number) => number,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'categorical') out[i] = row(probs, i * k);
    else {
      let s = 0;
      let m = -Infinity;
      for (let c = 0; c < k; c++) {
        const v = perClass(probs[i * k + c]!);
        s += v;
        m = Math.max(m, v);
      }
      out[i] = agg === 'max' ? m : s / k;
    }
  }
  return out;
}

/**
 * Predictive entropy per case: −Σ p log p (categorical); mean or max binary entropy over findings (multi-label).
 *
 * @example entropy(Float32Array.of(0.5, 0.5, 0.9, 0.1), 2, 2, 'categorical') // [0.693, 0.325]
 */
export function entropy(probs: ArrayLike<number>, n: number, k: number, kind: LabelKind = 'categorical', agg: Aggregate = 'mean'): Float64Array {
  return perCase(probs, n, k, kind, agg, (p, o) => {
    let h = 0;
    for (let c = 0; c < k; c++) h -= xlogx(p[o + c]!);
    return h;
  }, binaryEntropy);
}

/**
 * Least confidence: 1 − max class probability (multi-label: 1 − max(p, 1−p) per finding).
 *
 * @example leastConfidence(Float32Array.of(0.7, 0.3), 1, 2) // [0.3]
 */
export function leastConfidence(probs: ArrayLike<number>, n: number, k: number, kind: LabelKind = 'categorical', agg: Aggregate = 'mean'): Float64Array {
  return perCase(probs, n, k, kind, agg, (p, o) => {
    let m = 0;
    for (let c = 0; c < k; c++) m = Math.max(m, p[o + c]!);
    return 1 - m;
  }, (p) => 1 - Math.max(p, 1 - p));
}

/**
 * Margin uncertainty: 1 − (top probability − second), so a small margin scores high
 * (multi-label: 1 − |2p − 1| per finding).
 *
 * @example margin(Float32Array.of(0.5, 0.3, 0.2), 1, 3) // [0.8]
 */
export function margin(probs: ArrayLike<number>, n: number, k: number, kind: LabelKind = 'categorical', agg: Aggregate = 'mean'): Float64Array {
  return perCase(probs, n, k, kind, agg, (p, o) => {
    let a = -Infinity;
    let b = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = p[o + c]!;
      if (v > a) { b = a; a = v; } else if (v > b) b = v;
    }
    return 1 - (a - (k > 1 ? b : 0));
  }, (p) => 1 - Math.abs(2 * p - 1));
}

/**
 * BALD (Houlsby et al. 2011): the mutual information between the label and the model parameters,
 * H[mean_s p_s] − mean_s H[p_s], from `count` probability samples [count, n, k] (MC dropout or an
 * ensemble). Multi-label: per finding on {p, 1−p}, then mean or max.
 *
 * @example bald(samples, 20, n, 2, 'categorical') // ≥ 0; 0 when every sample agrees
 */
export function bald(samples: Float32Array, count: number, n: number, k: number, kind: LabelKind = 'categorical', agg: Aggregate = 'mean'): Float64Array {
  if (samples.length !== count * n * k) throw new RangeError(`bald: ${samples.length} sample values, expected ${count} × ${n} × ${k}`);
  const out = new Float64Array(n);
  const mean = new Float64Array(k);
  const expH = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    mean.fill(0);
    expH.fill(0);
    let expHrow = 0;
    for (let s = 0; s < count; s++) {
      const o = (s * n + i) * k;
      let h = 0;
      for (let c = 0; c < k; c++) {
        const p = samples[o + c]!;
        mean[c] += p / count;
        if (kind === 'categorical') h -= xlogx(p);
        else expH[c] += binaryEntropy(p) / count;
      }
      expHrow += h / count;
    }
    if (kind === 'categorical') {
      let hm = 0;
      for (let c = 0; c < k; c++) hm -= xlogx(mean[c]!);
      out[i] = Math.max(0, hm - expHrow);
    } else {
      let s = 0;
      let m = -Infinity;
      for (let c = 0; c < k; c++) {
        const v = Math.max(0, binaryEntropy(mean[c]!) - expH[c]!);
        s += v;
        m = Math.max(m, v);
      }
      out[i] = agg === 'max' ? m : s / k;
    }
  }
  return out;
}

/**
 * Variation ratio (Freeman 1965): 1 − (samples voting for the modal class) / count. Multi-label: per
 * finding, votes for p > 0.5 against p ≤ 0.5, then mean or max. Ties in argmax go to the lower class.
 *
 * @example variationRatio(samples, 10, n, 3, 'categorical') // 0 when all samples agree
 */
export function variationRatio(samples: Float32Array, count: number, n: number, k: number, kind: LabelKind = 'categorical', agg: Aggregate = 'mean'): Float64Array {
  if (samples.length !== count * n * k) throw new RangeError(`variationRatio: ${samples.length} sample values, expected ${count} × ${n} × ${k}`);
  const out = new Float64Array(n);
  const votes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    votes.fill(0);
    for (let s = 0; s < count; s++) {
      const o = (s * n + i) * k;
      if (kind === 'categorical') {
        let best = 0;
        for (let c = 1; c < k; c++) if (samples[o + c]! > samples[o + best]!) best = c;
        votes[best]!++;
      } else for (let c = 0; c < k; c++) if (samples[o + c]! > 0.5) votes[c]!++;
    }
    if (kind === 'categorical') {
      let m = 0;
      for (let c = 0; c < k; c++) m = Math.max(m, votes[c]!);
      out[i] = 1 - m / count;
    } else {
      let s = 0;
      let mx = -Infinity;
      for (let c = 0; c < k; c++) {
        const v = 1 - Math.max(votes[c]!, count - votes[c]!) / count;
        s += v;
        mx = Math.max(mx, v);
      }
      out[i] = agg === 'max' ? mx : s / k;
    }
  }
  return out;
}

/** Mean probabilities over samples [count, n, k] → [n, k]. */
export function meanOfSamples(samples: Float32Array, count: number, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let s = 0; s < count; s++) for (let j = 0; j < n * k; j++) out[j] += samples[s * n * k + j]! / count;
  return out;
}
