/**
 * Scoring a report labeller against reference labels that code positives only (as the IU / Open-i
 * expert labels do): per finding and micro-averaged precision, recall and F1, where "positive"
 * means value 1 (or, with `uncertainAsPositive`, 1 or -1) and everything else is not-positive.
 * Also a stable hash split of report ids into a development and a held-out part.
 */
import { hashString } from '../util/rng.js';
import type { FindingValue } from '../data/manifest.js';

export interface PositiveScore {
  finding: string;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  /** Reference positives. */
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface PositiveScores {
  perFinding: PositiveScore[];
  micro: PositiveScore;
}

function score(finding: string, tp: number, fp: number, fn: number): PositiveScore {
  const precision = tp + fp === 0 ? NaN : tp / (tp + fp);
  const recall = tp + fn === 0 ? NaN : tp / (tp + fn);
  const f1 = 2 * tp + fp + fn === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn);
  return { finding, truePositives: tp, falsePositives: fp, falseNegatives: fn, support: tp + fn, precision, recall, f1 };
}

/**
 * Precision/recall/F1 on positive findings. `predicted` and `reference` are aligned arrays of
 * per-report label records; `reference` values are 1 for positive, anything else not.
 *
 * @example scorePositives([{ Effusion: 1 }], [{ Effusion: 1 }], ['Effusion']).micro.f1 // 1
 */
export function scorePositives(
  predicted: readonly Record<string, FindingValue>[],
  reference: readonly Record<string, FindingValue>[],
  findings: readonly string[],
  options: { uncertainAsPositive?: boolean } = {},
): PositiveScores {
  if (predicted.length !== reference.length) throw new RangeError(`scorePositives: ${predicted.length} predictions but ${reference.length} references`);
  const perFinding: PositiveScore[] = [];
  let TP = 0, FP = 0, FN = 0;
  for (const f of findings) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < predicted.length; i++) {
      const p = predicted[i]![f];
      const predPos = p === 1 || (options.uncertainAsPositive === true && p === -1);
      const refPos = reference[i]![f] === 1;
      if (predPos && refPos) tp++;
      else if (predPos) fp++;
      else if (refPos) fn++;
    }
    perFinding.push(score(f, tp, fp, fn));
    TP += tp; FP += fp; FN += fn;
  }
  return { perFinding, micro: score('micro', TP, FP, FN) };
}

/**
 * Stable development / held-out split by a hash of the id (FNV-1a mod 100 < devPercent → dev), so
 * the held-out part never depends on file order and is never looked at while developing rules.
 */
export function isDevelopmentId(id: string, devPercent = 70): boolean {
  return hashString(id) % 100 < devPercent;
}
