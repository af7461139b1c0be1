/** Metrics at one operating point: confusion matrix, proportions with Wilson intervals, agreement measures. */
import { fin, wilsonInterval } from './stats.js';

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** An estimate with its 95% interval; null where undefined (e.g. no positives), never NaN. */
export interface Estimate {
  estimate: number | null;
  ci95: [number, number] | null;
}

export interface OperatingMetrics {
  confusion: Confusion;
  sensitivity: Estimate;
  specificity: Estimate;
  ppv: Estimate;
  npv: Estimate;
  accuracy: Estimate;
  balanced_accuracy: Estimate;
  f1: Estimate;
  mcc: Estimate;
  cohen_kappa: Estimate;
  false_positive_rate: Estimate;
  false_negative_rate: Estimate;
  /** PPV / NPV at the deployment prevalence, when one was given. */
  ppv_at_prevalence?: Estimate;
  npv_at_prevalence?: Estimate;
}

/** Count the confusion matrix for "positive when score ≥ threshold". */
export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const pos = scores[i]! >= threshold;
    if (labels[i] === 1) pos ? c.tp++ : c.fn++;
    else pos ? c.fp++ : c.tn++;
  }
  return c;
}

function proportion(k: number, n: number): Estimate {
  return { estimate: n > 0 ? k / n : null, ci95: wilsonInterval(k, n) };
}

/** Matthews correlation coefficient; 0 when a margin is empty (scikit-learn's convention). */
export function mcc(c: Confusion): number {
  const num = c.tp * c.tn - c.fp * c.fn;
  const den = Math.sqrt((c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn));
  return den === 0 ? 0 : num / den;
}

/** Cohen's kappa between prediction and truth (scikit-learn's `cohen_kappa_score`). */
export function cohenKappa(c: Confusion): number {
  const n = c.tp + c.fp + c.tn + c.fn;
  const po = (c.tp + c.tn) / n;
  const pe = ((c.tp + c.fp) * (c.tp + c.fn) + (c.tn + c.fn) * (c.tn + c.fp)) / (n * n);
  return (po - pe) / (1 - pe);
}

/** PPV at prevalence π from sensitivity and specificity (Bayes). */
export function ppvAtPrevalence(sensitivity: number, specificity: number, prevalence: number): number {
  const a = sensitivity * prevalence;
  return a / (a + (1 - specificity) * (1 - prevalence));
}

export function npvAtPrevalence(sensitivity: number, specificity: number, prevalence: number): number {
  const a = specificity * (1 - prevalence);
  return a / (a + (1 - sensitivity) * prevalence);
}

/**
 * Every operating-point metric from a confusion matrix. Proportions get Wilson intervals; PPV/NPV at a
 * deployment prevalence get the interval from plugging in the Wilson bounds of sensitivity and
 * specificity (both move PPV the same way, so the bounds are the extremes of that box).
 * @example operatingMetrics({ tp: 40, fn: 10, tn: 90, fp: 10 }).sensitivity.estimate // 0.8
 */
export function operatingMetrics(c: Confusion, prevalence?: number): OperatingMetrics {
  const P = c.tp + c.fn;
  const N = c.tn + c.fp;
  const n = P + N;
  const sens = proportion(c.tp, P);
  const spec = proportion(c.tn, N);
  const f1 = 2 * c.tp + c.fp + c.fn > 0 ? (2 * c.tp) / (2 * c.tp + c.fp + c.fn) : NaN;
  const out: OperatingMetrics = {
    confusion: { ...c },
    sensitivity: sens,
    specificity: spec,
    ppv: proportion(c.tp, c.tp + c.fp),
    npv: proportion(c.tn, c.tn + c.fn),
    accuracy: proportion(c.tp + c.tn, n),
    balanced_accuracy: {
      estimate: sens.estimate !== null && spec.estimate !== null ? (sens.estimate + spec.estimate) / 2 : null,
      ci95: null,
    },
    f1: { estimate: fin(f1), ci95: null },
    mcc: { estimate: n > 0 ? fin(mcc(c)) : null, ci95: null },
    cohen_kappa: { estimate: n > 0 ? fin(cohenKappa(c)) : null, ci95: null },
    false_positive_rate: proportion(c.fp, N),
    false_negative_rate: proportion(c.fn, P),
  };
  if (prevalence !== undefined && sens.estimate !== null && spec.estimate !== null && sens.ci95 && spec.ci95) {
    const p = prevalence;
    const ppv = (s: number, t: number) => fin(ppvAtPrevalence(s, t, p));
    const npv = (s: number, t: number) => fin(npvAtPrevalence(s, t, p));
    const pl = ppv(sens.ci95[0], spec.ci95[0]);
    const ph = ppv(sens.ci95[1], spec.ci95[1]);
    const nl = npv(sens.ci95[0], spec.ci95[0]);
    const nh = npv(sens.ci95[1], spec.ci95[1]);
    out.ppv_at_prevalence = { estimate: ppv(sens.estimate, spec.estimate), ci95: pl !== null && ph !== null ? [pl, ph] : null };
    out.npv_at_prevalence = { estimate: npv(sens.estimate, spec.estimate), ci95: nl !== null && nh !== null ? [nl, nh] : null };
  }
  return out;
}
