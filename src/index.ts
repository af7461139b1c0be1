/**
 * radml's public API — what `import … from 'radml'` gives a TypeScript or JavaScript user. It is
 * estimator-shaped (scikit-learn style): `ImageClassifier` fits and saves a model folder; one
 * `Predictor` (`loadModel`) opens any saved model and scores files, decoded images or datasets with
 * the stored preprocessing, the training-time calibration and the out-of-distribution gate; readers
 * bring images and manifests in; the evaluation functions turn a predictions table into metrics with
 * intervals. Everything else in the package is internal and may change between versions.
 *
 * @example
 *   import { loadModel } from 'radml';
 *   const model = await loadModel('models/cxr');
 *   const p = await model.predict('image.dcm');
 *   console.log(p.rejected ? p.reasons : p.scores);
 *   await model.release();
 */

// Models: fit, save, load, predict.
export {
  Predictor, loadModel, readOperatingPoint,
  type Prediction, type PredictInput, type PredictorOptions, type DatasetPredictions, type OperatingPoint,
} from './predict/index.js';
export { ImageClassifier, type DataProvenance, type ScoreOptions } from './train/classifier.js';
export { parseTrainOptions, trainOptionsSchema, type TrainOptions, type TrainOptionsInput } from './train/options.js';
export { importModel, sidecarSchema, type Sidecar } from './train/imported.js';
export {
  modelJsonSchema, readModelJson, verifyArtefacts, addModelArtefacts, saveOperatingPoints, MODEL_JSON, MODEL_ONNX,
  type ModelJson, type ModelCalibration, type ArtefactFiles,
} from './train/model-folder.js';
export { fitModelCalibration, applyModelCalibration } from './train/calibrate.js';
export { predictionsTable, type PredictionsExtras } from './train/predictions.js';

// Readers: images, DICOM, manifests, datasets.
export { readImage, readImageBuffer, type ReadImageResult } from './data/image.js';
export { readDicom, readDicomFile, readDicomHeader, readDicomHeaderFile, type DicomImage } from './data/dicom/index.js';
export { readManifest, parseManifest, type Manifest, type ManifestRecord } from './data/manifest.js';
export { ingest, ingestToDir, loadOrIngest, type IngestOptions } from './data/ingest/index.js';
export { readDataset, type Dataset } from './data/dataset.js';
export type { GreyImage } from './data/grey-image.js';

// Metrics: evaluation of a predictions table, and the pieces it is made of.
export {
  evaluatePredictions, readPredictions, parsePredictions, type EvaluateOptions, type EvaluationOutput,
  applyCalibration, recalibrate, brierScore, calibrationErrors, reliabilityBins, calibrationSlopeIntercept, fitPlatt, fitTemperature, fitIsotonic,
  type CalibrationFile, type RecalibrationMap,
  auroc, averagePrecision, rocCurve, prCurve, aurocDelong, bootstrapAuroc, pairedDelong, mcnemar,
  confusionAt, operatingMetrics, chooseThreshold, decisionCurve, wilsonInterval, type ThresholdRule,
} from './evaluate/index.js';

// Out-of-distribution gate (fitted by `radml train`; refit with these).
export { fitOodDetector, loadOodDetector, saveOodDetector, type OodDetector, type InputCheck } from './robustness/ood-detector.js';

// Active learning: acquisition functions, batch selection, the simulation, learning curves.
export {
  acquire, STRATEGY_NAMES, poolOutputs, scorerFromPredictor, simulateActiveLearning, simulationRows,
  fitInversePowerLaw, labelsForAuroc, type Acquired, type AcquisitionInput, type ActiveResult,
} from './active/index.js';

// Errors users can catch by class and `code`.
export { RadmlError, InputError, UnsupportedError } from './util/errors.js';
