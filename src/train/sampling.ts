/**
 * Class imbalance handling for training: inverse-frequency class weights and a class-balanced
 * sampler. Pure functions over label indices so the maths is testable without a model.
 */
import type { Rng } from '../util/rng.js';

export type ClassWeightMode = 'auto' | 'none';

/**
 * Class weights for softmax cross-entropy. `auto` is scikit-learn's "balanced" rule,
 * n_samples / (n_classes × count_c), so the weighted class totals are equal and the mean weight
 * over the training set is 1. Classes with no samples get weight 0.
 *
 * @example classWeights([0, 1, 1, 1], 2, 'auto') // [2, 0.6667]
 */
export function classWeights(labels: ArrayLike<number>, numClasses: number, mode: ClassWeightMode): number[] {
  if (mode === 'none') return new Array<number>(numClasses).fill(1);
  const counts = classCounts(labels, numClasses);
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? labels.length / (present * c) : 0));
}

export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}

/**
 * Positive weights for multi-label BCE (`auto`): negatives / positives per finding among the
 * counted (unmasked) labels, clipped to [1/maxRatio, maxRatio] so a finding with a handful of
 * positives cannot dominate the loss. `targets` and `mask` are row-major [n, k].
 */
export function positiveWeights(targets: Float32Array, mask: Float32Array, n: number, k: number, mode: ClassWeightMode, maxRatio = 50): number[] {
  const out = new Array<number>(k).fill(1);
  if (mode === 'none') return out;
  for (let c = 0; c < k; c++) {
    let pos = 0;
    let neg = 0;
    for (let r = 0; r < n; r++) {
      if (mask[r * k + c] === 0) continue;
      pos += targets[r * k + c]!;
      neg += 1 - targets[r * k + c]!;
    }
    out[c] = pos > 0 && neg > 0 ? Math.min(maxRatio, Math.max(1 / maxRatio, neg / pos)) : 1;
  }
  return out;
}

export type SamplerMode = 'balanced' | 'none';

/**
 * The order of training examples for one epoch. `none`: a shuffled permutation (each example once).
 * `balanced`: the same number of draws, with replacement, each class equally likely and uniform
 * within a class (PyTorch's WeightedRandomSampler with weights 1/count_c).
 * `labels` are class indices, or -1 for examples without one (never drawn by `balanced`).
 *
 * @example epochOrder([0, 1, 1, 1], 2, 'balanced', new Rng(1)) // 4 indices, ~half of them 0
 */
export function epochOrder(labels: ArrayLike<number>, numClasses: number, mode: SamplerMode, rng: Rng): number[] {
  const n = labels.length;
  if (mode === 'none') return rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) if (labels[i]! >= 0) byClass[labels[i]!]!.push(i);
  const present = byClass.filter((c) => c.length > 0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const members = present[rng.int(present.length)]!;
    out.push(members[rng.int(members.length)]!);
  }
  return out;
}

/**
 * Sampling probability of each example under the balanced sampler (for tests and reports):
 * 1 / (classes present × count of its class).
 */
export function balancedSampleProbabilities(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = classCounts(Array.from(labels).filter((l) => l >= 0), numClasses);
  const present = counts.filter((c) => c > 0).length;
  return Array.from(labels, (l) => (l >= 0 ? 1 / (present * counts[l]!) : 0));
}
