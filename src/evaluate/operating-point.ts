/**
 * Choosing a decision threshold (fixed, target sensitivity or specificity, Youden, minimum expected
 * cost) and decision-curve analysis. A case is called positive when its score is ≥ the threshold.
 */
import { z } from 'zod';
import { type RankedScores, rankScores } from './ranking.js';

export const thresholdRuleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), threshold: z.number() }),
  z.object({ kind: z.literal('sensitivity'), target: z.number().min(0).max(1) }),
  z.object({ kind: z.literal('specificity'), target: z.number().min(0).max(1) }),
  z.object({ kind: z.literal('youden') }),
  z.object({ kind: z.literal('cost'), fn: z.number().nonnegative(), fp: z.number().nonnegative(), prevalence: z.number().min(0).max(1).optional() }),
]);
export type ThresholdRule = z.infer<typeof thresholdRuleSchema>;

/** Human-readable name of a rule, e.g. "target sensitivity 0.90". */
export function describeRule(rule: ThresholdRule): string {
  switch (rule.kind) {
    case 'fixed': return `fixed threshold ${rule.threshold}`;
    case 'sensitivity': return `target sensitivity ≥ ${rule.target}`;
    case 'specificity': return `target specificity ≥ ${rule.target}`;
    case 'youden': return 'Youden index (max sensitivity + specificity − 1)';
    case 'cost': return `minimum expected cost (FN cost ${rule.fn}, FP cost ${rule.fp}${rule.prevalence !== undefined ? `, prevalence ${rule.prevalence}` : ''})`;
  }
}

/** Stable short id of a rule, used as a key in results. */
export function ruleId(rule: ThresholdRule): string {
  switch (rule.kind) {
    case 'fixed': return `fixed_${rule.threshold}`;
    case 'sensitivity': return `sensitivity_${rule.target}`;
    case 'specificity': return `specificity_${rule.target}`;
    case 'youden': return 'youden';
    case 'cost': return 'min_cost';
  }
}

export interface ChosenThreshold {
  threshold: number;
  /** Why this exact value, or why the rule could not be met. */
  note?: string;
}

/** A threshold just above the top score, so every case is called negative. */
function aboveAll(r: RankedScores): number {
  const top = r.groupScore[0] ?? 1;
  return top + Math.max(1e-12, Math.abs(top) * 1e-12);
}

/**
 * Pick a threshold on (tuning) data by a rule. Candidates are the distinct scores plus "above all".
 * Returns null when the rule needs both classes and one is missing.
 * @example chooseThreshold({ kind: 'youden' }, [0.1, 0.4, 0.8], [0, 1, 1]) // { threshold: 0.4 }
 */
export function chooseThreshold(rule: ThresholdRule, scores: ArrayLike<number>, labels: ArrayLike<number>, ranked?: RankedScores): ChosenThreshold | null {
  if (rule.kind === 'fixed') return { threshold: rule.threshold };
  const r = ranked ?? rankScores(scores, labels);
  const P = r.nPositive;
  const N = r.nNegative;
  const G = r.groupScore.length;
  if (G === 0) return null;
  if (rule.kind === 'sensitivity') {
    if (P === 0) return null;
    let tp = 0;
    for (let g = 0; g < G; g++) {
      tp += r.groupPositives[g]!;
      if (tp / P >= rule.target - 1e-12) return { threshold: r.groupScore[g]! };
    }
    return { threshold: r.groupScore[G - 1]! };
  }
  if (rule.kind === 'specificity') {
    if (N === 0) return null;
    let fp = 0;
    let best: number | null = null;
    for (let g = 0; g < G; g++) {
      fp += r.groupNegatives[g]!;
      if ((N - fp) / N >= rule.target - 1e-12) best = r.groupScore[g]!;
      else break;
    }
    if (best === null) return { threshold: aboveAll(r), note: 'no threshold reaches the target specificity while calling any case positive; all cases are called negative' };
    return { threshold: best };
  }
  if (P === 0 || N === 0) {
    if (rule.kind === 'youden') return null;
  }
  if (rule.kind === 'youden') {
    let tp = 0;
    let fp = 0;
    let best = -Infinity;
    let at = aboveAll(r);
    for (let g = 0; g < G; g++) {
      tp += r.groupPositives[g]!;
      fp += r.groupNegatives[g]!;
      const j = tp / P - fp / N;
      if (j > best + 1e-15) {
        best = j;
        at = r.groupScore[g]!;
      }
    }
    return { threshold: at };
  }
  // Minimum expected cost per case: c_FN·π·(1 − sens) + c_FP·(1 − π)·(1 − spec).
  const prevalence = rule.prevalence ?? (P + N > 0 ? P / (P + N) : NaN);
  if (!(prevalence >= 0 && prevalence <= 1)) return null;
  const cost = (sens: number, spec: number) => rule.fn * prevalence * (1 - sens) + rule.fp * (1 - prevalence) * (1 - spec);
  const sensOf = (tp: number) => (P > 0 ? tp / P : 1);
  const specOf = (fp: number) => (N > 0 ? 1 - fp / N : 1);
  let best = cost(sensOf(0), specOf(0));
  let at = aboveAll(r);
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < G; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    const c = cost(sensOf(tp), specOf(fp));
    if (c < best - 1e-15) {
      best = c;
      at = r.groupScore[g]!;
    }
  }
  return { threshold: at };
}

export interface DecisionCurvePoint {
  threshold_probability: number;
  net_benefit_model: number;
  net_benefit_treat_all: number;
  net_benefit_treat_none: number;
}

/**
 * Decision-curve analysis (Vickers & Elkin 2006): net benefit = TP/n − FP/n · pt/(1 − pt) when
 * treating cases with score ≥ pt, against treating everyone and no one. Scores should be probabilities.
 */
export function decisionCurve(scores: ArrayLike<number>, labels: ArrayLike<number>, thresholds: number[] = defaultDcaGrid(), ranked?: RankedScores): DecisionCurvePoint[] {
  // The caller's ranking when it has one: a million scores are not sorted twice.
  const r = ranked ?? rankScores(scores, labels);
  const n = r.n;
  const prevalence = r.nPositive / n;
  const out: DecisionCurvePoint[] = [];
  // Thresholds ascending; walk groups from the bottom so each threshold is one step of a single pass.
  const ts = [...thresholds].sort((a, b) => b - a);
  let g = 0;
  let tp = 0;
  let fp = 0;
  for (const pt of ts) {
    while (g < r.groupScore.length && r.groupScore[g]! >= pt) {
      tp += r.groupPositives[g]!;
      fp += r.groupNegatives[g]!;
      g++;
    }
    const odds = pt / (1 - pt);
    out.push({
      threshold_probability: pt,
      net_benefit_model: tp / n - (fp / n) * odds,
      net_benefit_treat_all: prevalence - (1 - prevalence) * odds,
      net_benefit_treat_none: 0,
    });
  }
  return out.reverse();
}

export function defaultDcaGrid(): number[] {
  const g: number[] = [];
  for (let i = 1; i <= 99; i++) g.push(i / 100);
  return g;
}
