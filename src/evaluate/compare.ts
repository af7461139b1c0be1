/** Paired comparison of two models on the same cases: paired DeLong test and McNemar at operating points. */
import { delongComponents, delongCovariance, delongVariance, rankScores } from './ranking.js';
import { binomialCdf, binomialPmf, fin, normalCdf, zFor } from './stats.js';

export interface DelongTest {
  auroc_a: number | null;
  auroc_b: number | null;
  /** AUROC(a) − AUROC(b), with its DeLong 95% interval. */
  difference: number | null;
  ci95: [number, number] | null;
  z: number | null;
  p_value: number | null;
  /** Correlation of the two AUROC estimates (how paired the design is). */
  correlation: number | null;
}

/**
 * Paired DeLong test of two AUROCs on the same cases (as pROC `roc.test(method = "delong", paired = TRUE)`).
 * @example pairedDelong(scoresA, scoresB, labels).p_value
 */
export function pairedDelong(scoresA: ArrayLike<number>, scoresB: ArrayLike<number>, labels: ArrayLike<number>): DelongTest {
  const a = delongComponents(rankScores(scoresA, labels));
  const b = delongComponents(rankScores(scoresB, labels));
  const va = delongVariance(a);
  const vb = delongVariance(b);
  const cov = delongCovariance(a, b);
  const diff = a.auc - b.auc;
  const v = va + vb - 2 * cov;
  const se = Math.sqrt(v);
  const z = v > 0 ? diff / se : NaN;
  const zc = zFor(0.95);
  return {
    auroc_a: fin(a.auc),
    auroc_b: fin(b.auc),
    difference: fin(diff),
    ci95: Number.isFinite(se) ? [diff - zc * se, diff + zc * se] : null,
    z: fin(z),
    p_value: Number.isFinite(z) ? fin(2 * normalCdf(-Math.abs(z))) : diff === 0 ? 1 : null,
    correlation: fin(cov / Math.sqrt(va * vb)),
  };
}

export interface McNemarResult {
  /** Cases where only model A was right / only model B was right. */
  a_only_correct: number;
  b_only_correct: number;
  p_exact: number;
  p_mid: number;
  /** Conditional odds ratio b/c of discordant pairs (A right vs B right), null when undefined. */
  odds_ratio: number | null;
  /** Difference in proportion correct, A − B. */
  difference: number | null;
}

/**
 * McNemar's exact (two-sided binomial) and mid-p tests on the discordant pairs.
 * @example mcnemar(12, 4).p_exact // 0.0768…
 */
export function mcnemar(aOnly: number, bOnly: number, n?: number): McNemarResult {
  const k = Math.min(aOnly, bOnly);
  const m = aOnly + bOnly;
  const exact = m === 0 ? 1 : Math.min(1, 2 * binomialCdf(k, m, 0.5));
  const mid = m === 0 ? 1 : Math.min(1, 2 * binomialCdf(k, m, 0.5) - binomialPmf(k, m, 0.5));
  return {
    a_only_correct: aOnly,
    b_only_correct: bOnly,
    p_exact: exact,
    p_mid: mid,
    odds_ratio: bOnly > 0 ? aOnly / bOnly : null,
    difference: n !== undefined && n > 0 ? (aOnly - bOnly) / n : null,
  };
}

/** Discordant counts of two binary decision vectors against the truth, within a subset of cases. */
export function discordant(predA: ArrayLike<number>, predB: ArrayLike<number>, labels: ArrayLike<number>, include: (i: number) => boolean = () => true): { aOnly: number; bOnly: number; n: number } {
  let aOnly = 0;
  let bOnly = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!include(i)) continue;
    n++;
    const ca = predA[i] === labels[i];
    const cb = predB[i] === labels[i];
    if (ca && !cb) aOnly++;
    else if (cb && !ca) bOnly++;
  }
  return { aOnly, bOnly, n };
}
