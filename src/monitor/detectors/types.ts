/**
 * The one interface every detector implements: given the reference sample (with weights that
 * undo an estimated prior shift), the current window and the profile, return one result per
 * feature it tests. A new detector is one file exporting a `Detector`, listed in registry.ts.
 */
import type { ColumnarSample } from '../observation.js';
import type { ReferenceProfile } from '../profile.js';

export type DetectorKind = 'covariate' | 'prediction' | 'prior' | 'ood' | 'performance';

export interface DetectorContext {
  profile: ReferenceProfile;
  ref: ColumnarSample;
  /** One weight per reference study: 1, or the likelihood ratio of the estimated prevalence shift. */
  refWeights: Float64Array;
  window: ColumnarSample;
  /** Label-shift-adjusted calibrated probabilities of the window, per class (null = not adjusted). */
  adjusted: (Float64Array | null)[];
  /** Calibrated probabilities of the reference studies, per class (unweighted). */
  refCalibrated: Float64Array[];
  /** Calibrated (unadjusted) probabilities of the window, per class. */
  calibrated: Float64Array[];
  /** Estimated prevalence of the window per class (EM under label shift), null when unknown. */
  estimatedPrevalence: (number | null)[];
  /** Deterministic seed for permutation tests. */
  seed: number;
}

export interface TestResult {
  detector: string;
  kind: DetectorKind;
  /** What was tested, e.g. "manufacturer", "contrast", "embedding", "sensitivity:Effusion". */
  feature: string;
  statistic: number;
  /** Null for effect sizes without a test. */
  pValue: number | null;
  /** Dimensionless effect size where one exists (PSI, JS, standardised shift). */
  effect: number | null;
  /** Whether the result enters the alarm family (effect-size-only detectors report but never alarm). */
  alarming: boolean;
  /** Plain-language sentence for a person reading the alarm. */
  message: string;
}

export interface Detector {
  name: string;
  kind: DetectorKind;
  /** One line for reports: what the detector does. */
  description: string;
  run(ctx: DetectorContext): TestResult[];
}

/** Window size phrase for messages. */
export const lastN = (n: number) => `the last ${n} stud${n === 1 ? 'y' : 'ies'}`;
export const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 && x > 0 ? 1 : 0)} %`;
