/**
 * Label-free performance estimation, confidence-based (CBPE, as NannyML): with calibrated
 * probabilities q_i = P(y_i = 1 | x_i), the expected confusion matrix at the operating point is
 * E[TP] = Σ_{s_i ≥ t} q_i, E[FP] = Σ_{s_i ≥ t} (1 − q_i), E[FN] = Σ_{s_i < t} q_i, E[TN] = Σ_{s_i < t} (1 − q_i),
 * and the expected AUROC is the Mann–Whitney AUROC with each study counted q_i as a positive and
 * 1 − q_i as a negative (ties in the raw score count one half). One binary problem per class, so it
 * covers multilabel models (per finding) and categorical ones (one-vs-rest).
 */
import { aurocFromGroups } from '../evaluate/ranking.js';

export interface EstimatedPerformance {
  threshold: number;
  sensitivity: number | null;
  specificity: number | null;
  auroc: number | null;
  /** Expected number of positives and negatives (for standard errors). */
  expectedPositives: number;
  expectedNegatives: number;
  expectedConfusion: { tp: number; fp: number; tn: number; fn: number };
}

/**
 * @example estimatePerformance([0.9, 0.2, 0.6], [0.85, 0.1, 0.55], 0.5).sensitivity
 */
export function estimatePerformance(scores: ArrayLike<number>, calibrated: ArrayLike<number>, threshold: number): EstimatedPerformance {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  const n = scores.length;
  for (let i = 0; i < n; i++) {
    const q = calibrated[i]!;
    if (scores[i]! >= threshold) { tp += q; fp += 1 - q; } else { fn += q; tn += 1 - q; }
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const gp: number[] = [], gn: number[] = [];
  let last = NaN;
  for (const i of idx) {
    if (scores[i] !== last) { gp.push(0); gn.push(0); last = scores[i]!; }
    gp[gp.length - 1]! += calibrated[i]!;
    gn[gn.length - 1]! += 1 - calibrated[i]!;
  }
  const P = tp + fn, N = tn + fp;
  const au = P > 1e-9 && N > 1e-9 ? aurocFromGroups(gp, gn) : NaN;
  return {
    threshold,
    sensitivity: P > 1e-9 ? tp / P : null,
    specificity: N > 1e-9 ? tn / N : null,
    auroc: Number.isFinite(au) ? au : null,
    expectedPositives: P, expectedNegatives: N,
    expectedConfusion: { tp, fp, tn, fn },
  };
}

/** Hanley–McNeil standard error of an AUROC with P positives and N negatives. */
export function aurocStandardError(a: number, P: number, N: number): number {
  const q1 = a / (2 - a), q2 = (2 * a * a) / (1 + a);
  const v = (a * (1 - a) + (P - 1) * (q1 - a * a) + (N - 1) * (q2 - a * a)) / Math.max(1, P * N);
  return Math.sqrt(Math.max(v, 1e-12));
}
