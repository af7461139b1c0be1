/**
 * The `results.json` record (format `radml.evaluation/1`), defined once with zod: the TypeScript types
 * are inferred from it and results are validated against it before they are written.
 * Every number that can be undefined (e.g. AUROC with one class) is `null`, never NaN.
 */
import { z } from 'zod';

const num = z.number().nullable();
const interval = z.tuple([z.number(), z.number()]).nullable();

export const estimateSchema = z.object({ estimate: num, ci95: interval });

export const confusionSchema = z.object({ tp: z.number().int(), fp: z.number().int(), tn: z.number().int(), fn: z.number().int() });

export const operatingPointSchema = z.object({
  rule: z.string(),
  rule_description: z.string(),
  /** Which rows the threshold was chosen on, e.g. "split = val (n=524)". */
  chosen_on: z.string(),
  threshold: num,
  note: z.string().optional(),
  confusion: confusionSchema,
  sensitivity: estimateSchema,
  specificity: estimateSchema,
  ppv: estimateSchema,
  npv: estimateSchema,
  accuracy: estimateSchema,
  balanced_accuracy: estimateSchema,
  f1: estimateSchema,
  mcc: estimateSchema,
  cohen_kappa: estimateSchema,
  false_positive_rate: estimateSchema,
  false_negative_rate: estimateSchema,
  ppv_at_prevalence: estimateSchema.optional(),
  npv_at_prevalence: estimateSchema.optional(),
});

export const aurocSchema = estimateSchema.extend({
  /** DeLong standard error; `ci95` is the DeLong interval. */
  se: num,
  ci95_bootstrap: interval,
  bootstrap_resamples: z.number().int(),
});

export const reliabilityBinSchema = z.object({ lower: z.number(), upper: z.number(), count: z.number(), mean_predicted: z.number(), observed_rate: z.number() });

export const groupResultSchema = z.object({
  n: z.number().int(),
  n_positive: z.number().int(),
  n_negative: z.number().int(),
  /** False when n is below the minimum-n guard: shown, but not used for disparity flags. */
  sufficient: z.boolean(),
  note: z.string().optional(),
  auroc: estimateSchema,
  auprc: num,
  brier: num,
  ece: num,
  mean_predicted: num,
  observed_rate: num,
  operating_point: operatingPointSchema,
});

export const disparitySchema = z.object({
  /** Group values with n ≥ the minimum and both classes, the ones compared. */
  groups_compared: z.array(z.string()),
  equal_opportunity_difference: num,
  equalized_odds_difference: num,
  fpr_gap: num,
  auroc_gap: num,
  /** Largest |mean predicted − observed rate| across groups (calibration-in-the-large by group). */
  calibration_gap: num,
});

export const flagSchema = z.object({ severity: z.enum(['info', 'warning', 'concern']), text: z.string() });

export const siteValidationSchema = z.object({
  rule: z.string(),
  leave_one_site_out: z.array(
    z.object({
      site: z.string(),
      n: z.number().int(),
      n_positive: z.number().int(),
      threshold: num,
      auroc: estimateSchema,
      sensitivity: estimateSchema,
      specificity: estimateSchema,
      note: z.string().optional(),
    }),
  ),
  transport: z.object({
    sites: z.array(z.string()),
    /** Threshold chosen at each site (row). */
    thresholds: z.array(num),
    /** sensitivity[a][b]: threshold chosen at site a applied at site b. */
    sensitivity: z.array(z.array(num)),
    specificity: z.array(z.array(num)),
  }),
});

export const decisionCurvePointSchema = z.object({
  threshold_probability: z.number(),
  net_benefit_model: z.number(),
  net_benefit_treat_all: z.number(),
  net_benefit_treat_none: z.number(),
});

export const classResultSchema = z.object({
  name: z.string(),
  score_column: z.string(),
  status: z.enum(['ok', 'degenerate']),
  messages: z.array(z.string()),
  n: z.number().int(),
  n_positive: z.number().int(),
  n_negative: z.number().int(),
  /** Rows left out for this class: uncertain/blank finding, missing or non-numeric score. */
  n_excluded: z.number().int(),
  excluded_reasons: z.record(z.string(), z.number().int()),
  prevalence: num,
  auroc: aurocSchema,
  auprc: estimateSchema,
  partial_auroc: z.object({ max_fpr: z.number(), raw: num, standardized: num }),
  brier: num,
  log_loss: num,
  ece: num,
  mce: num,
  calibration: z.object({ slope: num, intercept: num, bins: z.array(reliabilityBinSchema) }),
  operating_point: operatingPointSchema,
  operating_points: z.array(operatingPointSchema),
  decision_curve: z.array(decisionCurvePointSchema),
  curves: z.object({
    roc: z.array(z.object({ fpr: z.number(), tpr: z.number() })),
    roc_band: z.object({ fpr: z.array(z.number()), lower: z.array(z.number()), upper: z.array(z.number()) }).nullable(),
    pr: z.array(z.object({ recall: z.number(), precision: z.number() })),
  }),
  recalibration: z.record(z.string(), z.object({ brier: num, ece: num, log_loss: num })),
  groups: z.record(z.string(), z.record(z.string(), groupResultSchema)),
  disparities: z.record(z.string(), disparitySchema),
  flags: z.array(flagSchema),
  sites: siteValidationSchema.nullable(),
  /**
   * Whether the evaluation supports using this output at all: not when its AUROC interval includes
   * 0.5 (the ranking is not distinguishable from chance) or AUROC could not be measured. An unfit
   * class is flagged in the report and its threshold is not shipped unless forced. Optional so that
   * results.json files written before it still read.
   */
  fit_for_use: z.object({ fit: z.boolean(), reason: z.string().nullable() }).optional(),
});

export const comparisonSchema = z.object({
  class_name: z.string(),
  score_a: z.string(),
  score_b: z.string(),
  n: z.number().int(),
  auroc_a: estimateSchema,
  auroc_b: estimateSchema,
  delong: z.object({ difference: num, ci95: interval, z: num, p_value: num, correlation: num }),
  operating_points: z.object({ rule: z.string(), threshold_a: num, threshold_b: num }),
  mcnemar: z.array(
    z.object({
      cases: z.enum(['all', 'positives', 'negatives']),
      /** What "correct" measures on these cases: accuracy, sensitivity or specificity. */
      measure: z.string(),
      n: z.number().int(),
      a_only_correct: z.number().int(),
      b_only_correct: z.number().int(),
      p_exact: z.number(),
      p_mid: z.number(),
      odds_ratio: num,
      difference: num,
    }),
  ),
  messages: z.array(z.string()),
});

export const evaluationResultsSchema = z.object({
  format: z.literal('radml.evaluation/1'),
  created: z.string(),
  input: z.object({
    predictions: z.string(),
    n_rows: z.number().int(),
    label_kind: z.enum(['categorical', 'multilabel']),
    label_column: z.string().nullable(),
    positive: z.string().nullable(),
    score_columns: z.array(z.string()),
  }),
  design: z.object({
    tuning: z.string(),
    evaluation: z.string(),
    n_tuning: z.number().int(),
    n_evaluation: z.number().int(),
    same_data: z.boolean(),
    primary_rule: z.string(),
    costs: z.object({ fn: z.number(), fp: z.number() }).nullable(),
    deployment_prevalence: num,
    bootstrap_resamples: z.number().int(),
    seed: z.number(),
    min_group_n: z.number().int(),
    groups: z.array(z.string()),
    max_fpr: z.number(),
    calibration_bins: z.number().int(),
  }),
  classes: z.record(z.string(), classResultSchema),
  averages: z
    .object({ macro_auroc: num, micro_auroc: num, macro_auprc: num, micro_auprc: num, classes_averaged: z.array(z.string()) })
    .nullable(),
  comparison: comparisonSchema.nullable(),
  messages: z.array(z.object({ level: z.enum(['info', 'warning']), text: z.string() })),
  provenance: z.record(z.string(), z.unknown()),
});

export type EstimateRecord = z.infer<typeof estimateSchema>;
export type OperatingPoint = z.infer<typeof operatingPointSchema>;
export type GroupResult = z.infer<typeof groupResultSchema>;
export type Disparity = z.infer<typeof disparitySchema>;
export type Flag = z.infer<typeof flagSchema>;
export type SiteValidation = z.infer<typeof siteValidationSchema>;
export type ClassResult = z.infer<typeof classResultSchema>;
export type Comparison = z.infer<typeof comparisonSchema>;
export type EvaluationResults = z.infer<typeof evaluationResultsSchema>;
