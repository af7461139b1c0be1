/**
 * Training (owned by train/): the estimator facade (ImageClassifier), the data-parallel training
 * loop with early stopping and crash-safe checkpoints, class-imbalance handling, validation
 * scoring, the per-class calibration fitted on the validation split, the model folder (model.onnx +
 * model.json with provenance and artefact hashes, and a hook for extra hashed artefacts), the
 * predictions table. Scoring a saved model goes through predict/'s Predictor.
 */
export { ImageClassifier, type DataProvenance, type ScoreOptions } from './classifier.js';
export { trainModel, type TrainContext, type TrainedModel, pixelsAtSize, intensityStats } from './trainer.js';
export { trainOptionsSchema, parseTrainOptions, type TrainOptions, type TrainOptionsInput, UNCERTAINTY_POLICIES } from './options.js';
export { auroc, meanColumnAuroc } from './auroc.js';
export { classWeights, classCounts, positiveWeights, epochOrder, balancedSampleProbabilities, type ClassWeightMode, type SamplerMode } from './sampling.js';
export { GradientPool, shardRanges, poolBatchStats } from './pool.js';
export { loadCheckpoint, checkpointPath, type Checkpoint, type EpochRecord } from './checkpoint.js';
export {
  modelJsonSchema, type ModelJson, MODEL_JSON, MODEL_ONNX, loadModelFolder, readModelJson, verifyArtefacts, writeModelFolder, packageVersions, saveOperatingPoints,
  addModelArtefacts, saveModelCalibration, modelCalibrationSchema, type ModelCalibration, type ArtefactFiles,
} from './model-folder.js';
export { fitModelCalibration, applyModelCalibration } from './calibrate.js';
export { predictionsTable, type PredictionsTable } from './predictions.js';
export { loadAnyModel, importModel, baseFromModel, sidecarSchema, type Sidecar } from './imported.js';
export { type BaseModel, workersFor } from './trainer.js';
