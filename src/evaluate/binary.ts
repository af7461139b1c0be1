/**
 * Everything about one binary task (a class one-vs-rest, or a finding): discrimination, operating
 * points chosen on tuning rows and reported on evaluation rows, calibration and recalibration, curves.
 */
import type { ProgressCallback } from '../util/progress.js';
import { bootstrapAuroc, percentileCi } from './bootstrap.js';
import {
  brierScore,
  calibrationErrors,
  calibrationSlopeIntercept,
  fitIsotonicMap,
  fitPlatt,
  fitTemperature,
  logLoss,
  type RecalibrationMap,
  recalibrate,
  reliabilityBins,
} from './calibration.js';
import { cohenKappa, confusionAt, mcc, operatingMetrics } from './confusion.js';
import { aurocDelong } from './discrimination.js';
import { type ThresholdRule, chooseThreshold, decisionCurve, describeRule, ruleId } from './operating-point.js';
import { averagePrecision, partialAuroc, prCurveSampled, rankScores, rocCurveSampled } from './ranking.js';
import type { ClassResult, OperatingPoint } from './schema.js';
import { fin, mapFloat } from './stats.js';

/** Scores and 0/1 labels of the usable rows of one subset. */
export interface Labelled {
  scores: Float64Array;
  labels: Uint8Array;
  /** Table row of each entry. */
  rows: number[];
}

export interface BinaryOptions {
  rules: ThresholdRule[];
  primaryRule: ThresholdRule;
  tuningLabel: string;
  deploymentPrevalence?: number;
  bootstrap: number;
  seed: number;
  maxFpr: number;
  calibrationBins: number;
  level?: number;
  onProgress?: ProgressCallback;
  progressStage?: string;
}

export function isProbability(scores: ArrayLike<number>): boolean {
  for (let i = 0; i < scores.length; i++) if (!(scores[i]! >= 0 && scores[i]! <= 1)) return false;
  return true;
}

/** Operating-point record for a threshold (or a missing one) evaluated on some rows. */
export function operatingPointRecord(rule: ThresholdRule, threshold: number | null, chosenOn: string, data: Labelled, prevalence?: number, note?: string): OperatingPoint {
  const c = threshold === null ? { tp: 0, fp: 0, tn: 0, fn: 0 } : confusionAt(data.scores, data.labels, threshold);
  const m = operatingMetrics(c, prevalence);
  const nullEst = { estimate: null, ci95: null };
  const out: OperatingPoint = {
    rule: ruleId(rule),
    rule_description: describeRule(rule),
    chosen_on: chosenOn,
    threshold: fin(threshold),
    ...(threshold === null
      ? {
          confusion: c,
          sensitivity: nullEst, specificity: nullEst, ppv: nullEst, npv: nullEst, accuracy: nullEst, balanced_accuracy: nullEst,
          f1: nullEst, mcc: nullEst, cohen_kappa: nullEst, false_positive_rate: nullEst, false_negative_rate: nullEst,
        }
      : m),
  };
  if (note) out.note = note;
  return out;
}

/** Threshold for a rule on tuning data, with a reason when none can be chosen. */
export function thresholdFor(rule: ThresholdRule, tuning: Labelled): { threshold: number | null; note?: string } {
  if (rule.kind === 'fixed') return { threshold: rule.threshold };
  if (tuning.scores.length === 0) return { threshold: null, note: 'not chosen: there are no tuning rows' };
  const c = chooseThreshold(rule, tuning.scores, tuning.labels);
  if (!c) return { threshold: null, note: 'not chosen: the tuning rows lack positives or negatives' };
  return c.note ? { threshold: c.threshold, note: c.note } : { threshold: c.threshold };
}

/**
 * Percentile-bootstrap intervals for the operating-point metrics Wilson does not cover (F1, MCC,
 * Cohen's κ, balanced accuracy). The threshold is held fixed: it came from separate tuning rows.
 */
function addBootstrapCis(op: OperatingPoint, at: { tp: Int32Array; fp: Int32Array }, P: number, N: number, level: number): void {
  const B = at.tp.length;
  const f1 = new Float64Array(B);
  const mccs = new Float64Array(B);
  const kappas = new Float64Array(B);
  const bal = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const c = { tp: at.tp[b]!, fp: at.fp[b]!, fn: P - at.tp[b]!, tn: N - at.fp[b]! };
    f1[b] = 2 * c.tp + c.fp + c.fn > 0 ? (2 * c.tp) / (2 * c.tp + c.fp + c.fn) : NaN;
    mccs[b] = mcc(c);
    kappas[b] = cohenKappa(c);
    bal[b] = (c.tp / P + c.tn / N) / 2;
  }
  const ci = (v: Float64Array): [number, number] | null => {
    const ok = v.filter((x) => Number.isFinite(x));
    return ok.length === v.length && ok.length > 0 ? percentileCi(ok, level) : null;
  };
  if (op.f1.estimate !== null) op.f1.ci95 = ci(f1);
  if (op.mcc.estimate !== null) op.mcc.ci95 = ci(mccs);
  if (op.cohen_kappa.estimate !== null) op.cohen_kappa.ci95 = ci(kappas);
  if (op.balanced_accuracy.estimate !== null) op.balanced_accuracy.ci95 = ci(bal);
}

export interface BinaryEvaluation {
  result: Omit<ClassResult, 'name' | 'score_column' | 'n_excluded' | 'excluded_reasons' | 'groups' | 'disparities' | 'flags' | 'sites'>;
  /** Recalibration maps fitted on the tuning rows (empty when they could not be fitted). */
  maps: RecalibrationMap[];
  recommended: RecalibrationMap['method'];
  calibrationNote?: string;
  /** Primary threshold, for subgroup and site analyses. */
  primaryThreshold: number | null;
}

/**
 * Evaluate one binary task.
 * @example evaluateBinary(tuning, evaluation, { rules: [{ kind: 'youden' }], primaryRule: { kind: 'youden' }, … })
 */
export function evaluateBinary(tuning: Labelled, evaluation: Labelled, opts: BinaryOptions): BinaryEvaluation {
  const messages: string[] = [];
  const { scores, labels } = evaluation;
  const r = rankScores(scores, labels);
  const n = r.n;
  const P = r.nPositive;
  const N = r.nNegative;
  const bothClasses = P > 0 && N > 0;
  if (n === 0) messages.push('No usable rows to evaluate (every row lacks a 0/1 label or a numeric score).');
  else if (!bothClasses) messages.push(`Only ${P === 0 ? 'negative' : 'positive'} cases in the evaluation rows (n=${n}): AUROC, AUPRC and sensitivity/specificity trade-offs are undefined.`);
  if (n > 0 && r.groupScore.length === 1) messages.push(`All scores are equal: the model does not rank cases at all${bothClasses ? ' (AUROC 0.5 by definition)' : ''}.`);
  if (bothClasses && (P < 10 || N < 10)) messages.push(`Very few cases (${P} positive, ${N} negative): every interval is wide and estimates are unstable.`);

  // Discrimination.
  const del = aurocDelong(scores, labels, r);
  if (del.message && n > 0 && bothClasses) messages.push(del.message);
  const pa = bothClasses ? partialAuroc(r, opts.maxFpr) : null;

  // Calibration (only meaningful for probabilities).
  const probs = n > 0 && isProbability(scores);
  if (n > 0 && !probs) messages.push('Scores are not all in [0, 1]: calibration metrics, recalibration and the decision curve are skipped.');
  const ce = probs ? calibrationErrors(scores, labels, opts.calibrationBins) : null;
  const slopeInt = probs && bothClasses ? calibrationSlopeIntercept(scores, labels) : null;
  if (slopeInt && !slopeInt.converged) messages.push('The calibration slope fit did not converge (the outcome may be perfectly separated by the score); slope and intercept are not reliable.');

  // Operating points: thresholds from tuning rows, metrics on evaluation rows.
  const ops: OperatingPoint[] = [];
  let primary: OperatingPoint | undefined;
  let primaryThreshold: number | null = null;
  for (const rule of opts.rules) {
    const t = rule.kind === 'fixed' ? { threshold: rule.threshold } : thresholdFor(rule, tuning);
    const chosenOn = rule.kind === 'fixed' ? 'fixed in advance' : `${opts.tuningLabel} (n=${tuning.scores.length})`;
    const op = operatingPointRecord(rule, t.threshold, chosenOn, evaluation, opts.deploymentPrevalence, t.note);
    ops.push(op);
    if (ruleId(rule) === ruleId(opts.primaryRule)) {
      primary = op;
      primaryThreshold = t.threshold;
    }
  }
  if (!primary) throw new Error('primary rule missing from rules');
  let bootCi: [number, number] | null = null;
  let apCi: [number, number] | null = null;
  let band: ClassResult['curves']['roc_band'] = null;
  const ap = P > 0 ? averagePrecision(r) : NaN;
  if (bothClasses && opts.bootstrap > 0) {
    const bandFpr = Array.from({ length: 51 }, (_, i) => i / 50);
    const b = bootstrapAuroc(r, {
      resamples: opts.bootstrap,
      seed: opts.seed,
      averagePrecision: true,
      bandFpr,
      thresholds: ops.map((o) => o.threshold).filter((t): t is number => t !== null),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      stage: opts.progressStage ?? 'bootstrap',
    });
    bootCi = b.aurocCi;
    apCi = b.averagePrecisionCi ?? null;
    band = b.band ?? null;
    for (const at of b.atThreshold ?? []) for (const op of ops) if (op.threshold === at.threshold) addBootstrapCis(op, at, P, N, opts.level ?? 0.95);
  }

  if (primary.threshold === null && primary.note) messages.push(`Primary operating point (${primary.rule_description}) ${primary.note}.`);

  // Recalibration fitted on tuning rows.
  const maps: RecalibrationMap[] = [];
  let calibrationNote: string | undefined;
  const tuneBoth = tuning.labels.some((v) => v === 1) && tuning.labels.some((v) => v === 0);
  if (tuning.scores.length > 0 && tuneBoth && isProbability(tuning.scores)) {
    maps.push(fitPlatt(tuning.scores, tuning.labels), fitTemperature(tuning.scores, tuning.labels), fitIsotonicMap(tuning.scores, tuning.labels));
  } else {
    calibrationNote = tuning.scores.length === 0 ? 'no tuning rows, so no recalibration was fitted' : 'tuning rows lack both classes or probabilities, so no recalibration was fitted';
  }
  const recal: ClassResult['recalibration'] = {};
  if (probs) {
    const none: RecalibrationMap = { method: 'none' };
    for (const map of [none, ...maps]) {
      const q = mapFloat(scores, (p) => recalibrate(map, p));
      const e = calibrationErrors(q, labels, opts.calibrationBins);
      recal[map.method] = { brier: fin(brierScore(q, labels)), ece: fin(e.ece), log_loss: fin(logLoss(q, labels)) };
    }
  }

  const roc = bothClasses ? rocCurveSampled(r, 400) : [];
  const pr = P > 0 ? [{ recall: 0, precision: 1 }, ...prCurveSampled(r, 400)] : [];

  return {
    result: {
      status: bothClasses && r.groupScore.length > 1 ? 'ok' : 'degenerate',
      messages,
      n,
      n_positive: P,
      n_negative: N,
      prevalence: n > 0 ? P / n : null,
      auroc: { estimate: del.estimate, ci95: del.ci95, se: del.se, ci95_bootstrap: bootCi, bootstrap_resamples: bootCi ? opts.bootstrap : 0 },
      auprc: { estimate: fin(ap), ci95: apCi },
      partial_auroc: { max_fpr: opts.maxFpr, raw: fin(pa?.raw), standardized: fin(pa?.standardized) },
      brier: probs ? fin(brierScore(scores, labels)) : null,
      log_loss: probs ? fin(logLoss(scores, labels)) : null,
      ece: ce ? fin(ce.ece) : null,
      mce: ce ? fin(ce.mce) : null,
      calibration: {
        slope: slopeInt ? fin(slopeInt.slope) : null,
        intercept: slopeInt ? fin(slopeInt.intercept) : null,
        bins: probs ? reliabilityBins(scores, labels, opts.calibrationBins) : [],
      },
      operating_point: primary,
      operating_points: ops,
      decision_curve: probs && n > 0 ? decisionCurve(scores, labels, undefined, r) : [],
      curves: { roc, roc_band: band, pr },
      recalibration: recal,
    },
    maps,
    recommended: maps.length ? 'platt' : 'none',
    ...(calibrationNote ? { calibrationNote } : {}),
    primaryThreshold,
  };
}
