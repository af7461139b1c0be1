/**
 * Prior (prevalence) shift. The window's prevalence per class is estimated from calibrated scores
 * under the label-shift assumption by the method of moments ("adjusted classify and count" on
 * probabilities: E_window[q] = π'·μ₁ + (1 − π')·μ₀ with μ₁, μ₀ the mean calibrated score of the
 * reference's positives and negatives), which stays stable for weakly discriminating findings where
 * EM runs to 0 or 1; posteriors are adjusted to the new prevalence as in Saerens et al. (2002).
 * The shift is tested on the mean calibrated score, and the importance weights that give the
 * reference the window's case mix let the covariate detectors ignore what a case-mix change
 * explains. A prior shift is reported as such, not as covariate drift.
 */
import { normalCdf } from '../../util/normal.js';
import { gammaSf, weightedMoments } from '../math.js';
import type { ColumnarSample } from '../observation.js';
import { type Detector, lastN, pct } from './types.js';

/** Posterior adjusted from prior `pi` to prior `piNew` (binary). */
export function adjustPosterior(p: number, pi: number, piNew: number): number {
  const a = (piNew / pi) * p, b = ((1 - piNew) / (1 - pi)) * (1 - p);
  return a + b > 0 ? a / (a + b) : p;
}

/** Likelihood-ratio weights for reference studies under a prevalence change (labels needed). */
export function priorWeights(ref: ColumnarSample, pi: (number | null)[], piNew: (number | null)[], labelKind: 'categorical' | 'multilabel'): Float64Array {
  const w = new Float64Array(ref.n).fill(1);
  if (!ref.labels) return w;
  for (let i = 0; i < ref.n; i++) {
    let f = 1;
    for (let c = 0; c < pi.length; c++) {
      const a = pi[c], b = piNew[c], y = ref.labels[c]![i];
      if (a === null || b === null || a <= 0 || a >= 1 || y === null || y === undefined) continue;
      if (labelKind === 'categorical') { if (y === 1) f *= b / a; }
      else f *= y === 1 ? b / a : (1 - b) / (1 - a);
    }
    w[i] = f;
  }
  return w;
}

/** Mean calibrated score of a class among the reference's positives and negatives. */
export function classMeans(refCalibrated: ArrayLike<number>, labels: (0 | 1 | null)[] | undefined): { mu1: number; mu0: number } | null {
  if (!labels) return null;
  let s1 = 0, n1 = 0, s0 = 0, n0 = 0;
  labels.forEach((y, i) => { if (y === 1) { s1 += refCalibrated[i]!; n1++; } else if (y === 0) { s0 += refCalibrated[i]!; n0++; } });
  return n1 && n0 ? { mu1: s1 / n1, mu0: s0 / n0 } : null;
}

/**
 * Method-of-moments prevalence from the mean calibrated score; null when the class does not
 * discriminate enough (μ₁ − μ₀ < 0.05) for the estimate to mean anything.
 * @example momentPrevalence(0.3, { mu1: 0.7, mu0: 0.1 }) // 0.333…
 */
export function momentPrevalence(meanScore: number, m: { mu1: number; mu0: number } | null): number | null {
  if (!m || m.mu1 - m.mu0 < 0.05) return null;
  return Math.min(1, Math.max(0, (meanScore - m.mu0) / (m.mu1 - m.mu0)));
}

/**
 * Two-sided test of the window's mean calibrated score against the reference's. Calibrated scores
 * of a rare finding are strongly right-skewed, and a normal approximation of their mean then
 * raises false alarms upwards; the window mean is instead taken as gamma-distributed with the
 * reference mean and the variance of both means (a positive, skewed sum — monotone in the tails).
 * @example meanShiftTest(windowScores, referenceScores).p
 */
export function meanShiftTest(window: ArrayLike<number>, ref: ArrayLike<number>): { z: number; p: number } {
  const w = weightedMoments(window), r = weightedMoments(ref);
  const m = Math.max(1, window.length), n = Math.max(1, ref.length);
  const v = r.variance / m + r.variance / n;
  const z = v > 0 ? (w.mean - r.mean) / Math.sqrt(v) : 0;
  if (!(r.mean > 0) || !(v > 0)) return { z, p: 2 * (1 - normalCdf(Math.abs(z))) };
  const shape = (r.mean * r.mean) / v, scale = v / r.mean;
  const upper = gammaSf(w.mean, shape, scale), lower = 1 - upper;
  return { z, p: Math.min(1, 2 * Math.min(upper, lower)) };
}

export const priorDetector: Detector = {
  name: 'prior-shift',
  kind: 'prior',
  description: 'prevalence per class estimated from calibrated scores under label shift vs the reference prevalence',
  run(ctx) {
    const out = [];
    for (let c = 0; c < ctx.profile.classes.length; c++) {
      const name = ctx.profile.classes[c]!;
      const pi = ctx.profile.prevalence[name];
      const est = ctx.estimatedPrevalence[c];
      if (pi === null || pi === undefined || est === null || est === undefined || pi <= 0 || pi >= 1 || ctx.window.n < 100) continue;
      // Tested on the mean calibrated probability (a smooth, unbiased function of the case mix).
      const { p } = meanShiftTest(ctx.calibrated[c]!, ctx.refCalibrated[c]!);
      const m = ctx.calibrated[c]!.length;
      out.push({
        detector: 'prior-shift', kind: 'prior' as const, feature: name, statistic: est - pi, pValue: p, effect: est - pi, alarming: true,
        message: `prevalence of ${name} estimated at ${pct(est)} in ${lastN(m)} (reference ${pct(pi)}): a change in case mix (prior shift)`,
      });
    }
    return out;
  },
};
