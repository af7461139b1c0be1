/**
 * Calibration fitted at training time: one recalibration map per class on the validation split
 * (evaluate/calibration.ts does the fitting). Class weights and balanced sampling shift a model's
 * raw scores away from the observed risk; the map brings them back, so every consumer can report
 * a probability that means what it says. Platt scaling by default (two parameters, keeps the
 * ranking, so AUROC is unchanged); isotonic regression when the validation split holds enough of
 * both outcomes for a step function not to over-fit; identity when it holds too few.
 */
import { fitIsotonicMap, fitPlatt, recalibrate, type RecalibrationMap } from '../evaluate/calibration.js';
import type { ModelCalibration } from './model-folder.js';

/** Both outcomes at least this often before a map is fitted at all. */
export const MIN_PER_OUTCOME = 5;
/** Both outcomes at least this often before isotonic regression replaces Platt scaling. */
export const ISOTONIC_MIN_PER_OUTCOME = 200;

export interface CalibrationInput {
  classes: string[];
  labelKind: 'categorical' | 'multilabel';
  /** Index of the positive class of a two-class categorical model (null otherwise). */
  positiveIndex: number | null;
  /** Probabilities [rows.length, K] on the validation rows, in `rows` order. */
  probabilities: Float32Array;
  rows: number[];
  /** Targets and masks [dataset count, K] (one-hot for categorical). */
  target: Float32Array;
  mask: Float32Array;
}

function fitOne(p: number[], y: number[]): { map: RecalibrationMap; note?: string } {
  const pos = y.filter((v) => v === 1).length;
  const neg = y.length - pos;
  if (Math.min(pos, neg) < MIN_PER_OUTCOME) {
    return { map: { method: 'none' }, note: `validation has ${pos} positive and ${neg} negative image(s); at least ${MIN_PER_OUTCOME} of each are needed to fit a calibration, so scores are used uncalibrated` };
  }
  return { map: Math.min(pos, neg) >= ISOTONIC_MIN_PER_OUTCOME ? fitIsotonicMap(p, y) : fitPlatt(p, y) };
}

/**
 * Per-class maps from validation probabilities.
 *
 * @example const cal = fitModelCalibration({ classes, labelKind: 'multilabel', positiveIndex: null, probabilities, rows, target, mask });
 */
export function fitModelCalibration(v: CalibrationInput): ModelCalibration {
  const k = v.classes.length;
  const twoClass = v.labelKind === 'categorical' && k === 2;
  const pos = twoClass ? (v.positiveIndex ?? 1) : null;
  const classes: ModelCalibration['classes'] = {};
  v.classes.forEach((c, j) => {
    if (pos !== null && j !== pos) return;
    const p: number[] = [];
    const y: number[] = [];
    v.rows.forEach((r, i) => {
      if (v.mask[r * k + j] !== 1) return;
      p.push(v.probabilities[i * k + j]!);
      y.push(v.target[r * k + j] === 1 ? 1 : 0);
    });
    const f = fitOne(p, y);
    classes[c] = { map: f.map, n: y.length, nPositive: y.filter((t) => t === 1).length, ...(f.note && { note: f.note }) };
  });
  return {
    fittedOn: { split: 'validation', n: v.rows.length },
    classes,
    complement: pos !== null ? { class: v.classes[1 - pos]!, of: v.classes[pos]! } : null,
  };
}

/**
 * Calibrated probabilities [n, K] from raw ones; classes without a map keep their raw score.
 *
 * @example const p = applyModelCalibration(meta.calibration, meta.classes, raw, n);
 */
export function applyModelCalibration(cal: ModelCalibration | undefined, classes: string[], raw: Float32Array, n: number): Float32Array {
  if (!cal) return raw;
  const k = classes.length;
  const out = Float32Array.from(raw);
  const maps = classes.map((c) => cal.classes[c]?.map);
  for (let j = 0; j < k; j++) {
    const m = maps[j];
    if (!m || m.method === 'none') continue;
    for (let i = 0; i < n; i++) out[i * k + j] = recalibrate(m, raw[i * k + j]!);
  }
  if (cal.complement) {
    const a = classes.indexOf(cal.complement.class);
    const b = classes.indexOf(cal.complement.of);
    if (a >= 0 && b >= 0) for (let i = 0; i < n; i++) out[i * k + a] = 1 - out[i * k + b]!;
  }
  return out;
}
