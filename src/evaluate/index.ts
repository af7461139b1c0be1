/**
 * evaluate/ owns clinical evaluation of predictions: discrimination (AUROC with DeLong and bootstrap
 * intervals, AUPRC, partial AUROC), operating points and their metrics with Wilson intervals,
 * decision curves, calibration and recalibration, paired model comparison, subgroup fairness and
 * external (per-site) validation. It works on any predictions table (DESIGN.md contract).
 *
 * @example
 * import { evaluatePredictions } from './evaluate/index.js';
 * const { results, calibration } = evaluatePredictions(readCsv('predictions.csv'), { groups: ['sex', 'age_band'] });
 */
export { evaluatePredictions, fitForUse, type EvaluateOptions, type EvaluationOutput } from './evaluate.js';
export * from './schema.js';
export { applyCalibration, calibrationFileSchema, type CalibrationFile, type RecalibrationMap, recalibrate, brierScore, calibrationErrors, reliabilityBins, calibrationSlopeIntercept, fitIsotonic, fitPlatt, fitTemperature } from './calibration.js';
export { rankScores, auroc, averagePrecision, partialAuroc, rocCurve, prCurve, delongComponents, delongVariance, delongCovariance } from './ranking.js';
export { bootstrapAuroc } from './bootstrap.js';
export { aurocDelong } from './discrimination.js';
export { pairedDelong, mcnemar } from './compare.js';
export { confusionAt, operatingMetrics, type Confusion } from './confusion.js';
export { chooseThreshold, decisionCurve, type ThresholdRule } from './operating-point.js';
export { wilsonInterval, normalQuantile, normalCdf } from './stats.js';
export { buildTasks, designRows, groupValues, parseScores } from './inputs.js';
export { type PredictionsTable, parsePredictions, readPredictions, tableFromCsv } from './table.js';
