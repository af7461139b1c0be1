/** Realized performance of one class from labels: sensitivity / specificity with Wilson intervals and AUROC with the DeLong interval (src/evaluate). */
import { aurocDelong, type AurocEstimate } from '../evaluate/discrimination.js';
import { confusionAt } from '../evaluate/confusion.js';
import { wilsonInterval } from '../evaluate/stats.js';

export interface RealizedPerformance {
  threshold: number;
  positives: number;
  negatives: number;
  sensitivity: { estimate: number | null; ci95: [number, number] | null };
  specificity: { estimate: number | null; ci95: [number, number] | null };
  auroc: AurocEstimate;
}

/**
 * @example realizedPerformance([0.9, 0.1, 0.7], [1, 0, 0], 0.5).sensitivity.estimate // 1
 */
export function realizedPerformance(scores: ArrayLike<number>, labels: ArrayLike<0 | 1 | null>, threshold: number): RealizedPerformance {
  const s: number[] = [], y: number[] = [];
  for (let i = 0; i < scores.length; i++) { const l = labels[i]; if (l === 0 || l === 1) { s.push(scores[i]!); y.push(l); } }
  const c = confusionAt(s, y, threshold);
  const P = c.tp + c.fn, N = c.tn + c.fp;
  return {
    threshold, positives: P, negatives: N,
    sensitivity: { estimate: P ? c.tp / P : null, ci95: wilsonInterval(c.tp, P) },
    specificity: { estimate: N ? c.tn / N : null, ci95: wilsonInterval(c.tn, N) },
    auroc: aurocDelong(s, y),
  };
}
