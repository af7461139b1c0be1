/** AUROC with DeLong interval, the building block used overall, per group and per site. */
import { type RankedScores, auroc, delongComponents, delongVariance, rankScores } from './ranking.js';
import { fin, zFor } from './stats.js';

export interface AurocEstimate {
  estimate: number | null;
  ci95: [number, number] | null;
  se: number | null;
  /** Why the estimate or interval is missing, if it is. */
  message?: string;
}

/**
 * AUROC with the DeLong 95% interval (normal, clipped to [0, 1], as pROC's `ci.auc(method = "delong")`).
 * @example aurocDelong([0.1, 0.7, 0.4, 0.9], [0, 1, 0, 1]) // { estimate: 1, ci95: [1, 1], se: 0 }
 */
export function aurocDelong(scores: ArrayLike<number>, labels: ArrayLike<number>, ranked?: RankedScores): AurocEstimate {
  const r = ranked ?? rankScores(scores, labels);
  if (r.nPositive === 0 || r.nNegative === 0) {
    return { estimate: null, ci95: null, se: null, message: `AUROC is undefined: there are ${r.nPositive === 0 ? 'no positive' : 'no negative'} cases (n=${r.n}).` };
  }
  const c = delongComponents(r);
  const est = auroc(r);
  const v = delongVariance(c);
  if (!Number.isFinite(v)) {
    return { estimate: fin(est), ci95: null, se: null, message: `No DeLong interval: it needs at least 2 positives and 2 negatives (have ${r.nPositive} and ${r.nNegative}).` };
  }
  const se = Math.sqrt(Math.max(0, v));
  const z = zFor(0.95);
  return { estimate: est, ci95: [Math.max(0, est - z * se), Math.min(1, est + z * se)], se };
}
