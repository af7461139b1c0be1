/**
 * Out-of-distribution detection on a model's own view of an image:
 *   - Mahalanobis distance of the penultimate features (Lee et al. 2018: class means, one shared
 *     covariance), with Ledoit–Wolf shrinkage so a few hundred images give a stable inverse;
 *   - the energy score of the logits (Liu et al. 2020), −T·logsumexp(logits/T), which also covers
 *     models whose features radml cannot read (imported ONNX).
 * Thresholds are set on held-out in-distribution images for a chosen acceptance rate (default 95%).
 * Everything here is pure maths on arrays; ood-detector.ts ties it to models and files.
 */
import { InputError } from '../util/errors.js';

/** Ledoit–Wolf shrinkage of the covariance of already-centred rows X [n,p] (sklearn's formula, assume_centered). */
export function ledoitWolf(x: Float64Array | Float32Array, n: number, p: number): { covariance: Float64Array; shrinkage: number } {
  if (n < 2) throw new InputError('OOD_TOO_FEW', `need at least 2 samples to estimate a covariance, got ${n}`);
  const emp = new Float64Array(p * p);
  for (let i = 0; i < n; i++) {
    const row = i * p;
    for (let a = 0; a < p; a++) {
      const va = x[row + a]!;
      if (va === 0) continue;
      for (let b = a; b < p; b++) emp[a * p + b] += va * x[row + b]!;
    }
  }
  for (let a = 0; a < p; a++) for (let b = a; b < p; b++) { emp[a * p + b] /= n; emp[b * p + a] = emp[a * p + b]!; }
  let trace = 0;
  for (let a = 0; a < p; a++) trace += emp[a * p + a]!;
  const mu = trace / p;
  // beta_ = Σ (X2ᵀX2), delta_ = Σ (XᵀX)² / n²
  let deltaSum = 0;
  for (let k = 0; k < p * p; k++) deltaSum += emp[k]! * emp[k]!; // Σ (XᵀX)² / n²
  // Σ (X²ᵀX²) = Σ_i (Σ_a x_ia²)²
  let betaSum = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let a = 0; a < p; a++) r += x[i * p + a]! * x[i * p + a]!;
    betaSum += r * r;
  }
  const delta_ = deltaSum;
  let beta = (1 / (p * n)) * (betaSum / n - delta_);
  let delta = delta_ - 2 * mu * trace + p * mu * mu;
  delta /= p;
  beta = Math.min(beta, delta);
  const shrinkage = beta === 0 ? 0 : beta / delta;
  const covariance = new Float64Array(p * p);
  for (let k = 0; k < p * p; k++) covariance[k] = (1 - shrinkage) * emp[k]!;
  for (let a = 0; a < p; a++) covariance[a * p + a] += shrinkage * mu;
  return { covariance, shrinkage };
}

/** Inverse of a symmetric positive-definite matrix by Cholesky (throws if not positive definite). */
export function spdInverse(m: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > 0)) throw new InputError('OOD_SINGULAR', 'the feature covariance is not positive definite (too few or constant features)');
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / l[j * p + j]!;
    }
  }
  // L⁻¹ by forward substitution, then (L⁻¹)ᵀ L⁻¹.
  const li = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    for (let i = c; i < p; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * p + k]! * li[k * p + c]!;
      li[i * p + c] = s / l[i * p + i]!;
    }
  }
  const inv = new Float64Array(p * p);
  for (let a = 0; a < p; a++) for (let b = a; b < p; b++) {
    let s = 0;
    for (let k = Math.max(a, b); k < p; k++) s += li[k * p + a]! * li[k * p + b]!;
    inv[a * p + b] = s;
    inv[b * p + a] = s;
  }
  return inv;
}

export interface MahalanobisModel {
  dim: number;
  /** One mean per class (or one overall), each of length dim. */
  means: number[][];
  /** Shared precision matrix (inverse shrunk covariance), row-major dim × dim. */
  precision: number[];
  shrinkage: number;
}

/**
 * Class means and shared Ledoit–Wolf precision of features [n, dim]. Without labels (or with one
 * class) there is one mean.
 *
 * @example const m = fitMahalanobis(features, n, 64, labels); const d = mahalanobisScores(m, test, k);
 */
export function fitMahalanobis(features: Float32Array, n: number, dim: number, labels?: ArrayLike<number>): MahalanobisModel {
  if (features.length !== n * dim) throw new InputError('OOD_SHAPE', `features have ${features.length} values, expected ${n} × ${dim}`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = labels ? labels[i]! : 0;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(i);
  }
  // Classes with a single image cannot give a mean worth trusting: fold them into the overall mean.
  const keys = [...groups.keys()].filter((g) => groups.get(g)!.length >= 2).sort((a, b) => a - b);
  const means: number[][] = [];
  const centred = new Float64Array(n * dim);
  const overall = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) overall[d] += features[i * dim + d]! / n;
  const meanOf = new Map<number, Float64Array>();
  for (const g of keys) {
    const idx = groups.get(g)!;
    const m = new Float64Array(dim);
    for (const i of idx) for (let d = 0; d < dim; d++) m[d] += features[i * dim + d]!;
    for (let d = 0; d < dim; d++) m[d] /= idx.length;
    meanOf.set(g, m);
    means.push(Array.from(m));
  }
  if (means.length === 0) means.push(Array.from(overall));
  for (let i = 0; i < n; i++) {
    const m = meanOf.get(labels ? labels[i]! : 0) ?? overall;
    for (let d = 0; d < dim; d++) centred[i * dim + d] = features[i * dim + d]! - m[d]!;
  }
  const { covariance, shrinkage } = ledoitWolf(centred, n, dim);
  // A tiny ridge keeps constant features (dead ReLU channels) from making the matrix singular.
  let tr = 0;
  for (let d = 0; d < dim; d++) tr += covariance[d * dim + d]!;
  for (let d = 0; d < dim; d++) covariance[d * dim + d] += 1e-6 * (tr / dim || 1);
  return { dim, means, precision: Array.from(spdInverse(covariance, dim)), shrinkage };
}

/**
 * Out-of-sample distances of the fitting images themselves: k folds, each scored with the means
 * and covariance fitted on the other folds. In-sample distances are biased low (with 128 features
 * and ~800 images the fitted covariance is noticeably tighter around its own data), so these, not
 * in-sample ones, can stand in for new images when a threshold is set.
 *
 * @example const d = crossFittedMahalanobis(features, n, dim, labels, 5);
 */
export function crossFittedMahalanobis(features: Float32Array, n: number, dim: number, labels?: ArrayLike<number>, folds = 5): Float64Array {
  const out = new Float64Array(n);
  for (let f = 0; f < folds; f++) {
    const inI: number[] = [];
    const outI: number[] = [];
    for (let i = 0; i < n; i++) (i % folds === f ? outI : inI).push(i);
    if (outI.length === 0 || inI.length < 2) continue;
    const sub = new Float32Array(inI.length * dim);
    inI.forEach((i, j) => sub.set(features.subarray(i * dim, (i + 1) * dim), j * dim));
    const held = new Float32Array(outI.length * dim);
    outI.forEach((i, j) => held.set(features.subarray(i * dim, (i + 1) * dim), j * dim));
    const m = fitMahalanobis(sub, inI.length, dim, labels ? inI.map((i) => labels[i]!) : undefined);
    const d = mahalanobisScores(m, held, outI.length);
    outI.forEach((i, j) => (out[i] = d[j]!));
  }
  return out;
}

/** Per row: min over class means of the Mahalanobis distance (not squared). */
export function mahalanobisScores(m: MahalanobisModel, features: Float32Array, n: number): Float64Array {
  const p = m.dim;
  if (features.length !== n * p) throw new InputError('OOD_SHAPE', `features have ${features.length} values, expected ${n} × ${p}`);
  const out = new Float64Array(n);
  const v = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (const mean of m.means) {
      for (let d = 0; d < p; d++) v[d] = features[i * p + d]! - mean[d]!;
      let s = 0;
      for (let a = 0; a < p; a++) {
        let r = 0;
        const row = a * p;
        for (let b = 0; b < p; b++) r += m.precision[row + b]! * v[b]!;
        s += v[a]! * r;
      }
      best = Math.min(best, s);
    }
    out[i] = Math.sqrt(Math.max(0, best));
  }
  return out;
}

/** Energy score −T·logsumexp(logits/T) per row: higher = less like the training data. */
export function energyScores(logits: Float32Array, n: number, k: number, temperature = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) mx = Math.max(mx, logits[i * k + c]! / temperature);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(logits[i * k + c]! / temperature - mx);
    out[i] = -temperature * (mx + Math.log(s));
  }
  return out;
}

/** The `rate` quantile (accept when score ≤ threshold): the smallest value with ≥ rate of scores at or below it. */
export function acceptanceThreshold(scores: ArrayLike<number>, rate: number): number {
  if (!(rate > 0 && rate <= 1)) throw new InputError('OOD_RATE', `acceptance rate must be in (0, 1], got ${rate}`);
  const s = Array.from(scores).filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) throw new InputError('OOD_TOO_FEW', 'no finite calibration scores to set a threshold on');
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(rate * s.length) - 1))]!;
}

/**
 * Thresholds for several scores at once so that the JOINT acceptance (all scores at or below their
 * thresholds) on the calibration set is at least `rate`: the same per-score quantile q, raised from
 * `rate` until the joint acceptance reaches the target.
 */
export function jointThresholds(scores: ArrayLike<number>[], rate: number): number[] {
  const n = scores[0]?.length ?? 0;
  let q = rate;
  for (;;) {
    const t = scores.map((s) => acceptanceThreshold(s, q));
    let ok = 0;
    for (let i = 0; i < n; i++) if (scores.every((s, j) => s[i]! <= t[j]!)) ok++;
    if (ok >= rate * n || q >= 1) return t;
    q = Math.min(1, q + 0.0025);
  }
}
