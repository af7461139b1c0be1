/**
 * Prediction (owned by predict/): the one Predictor that every consumer of a saved model shares —
 * it opens a model folder (or an imported ONNX + sidecar), verifies artefact hashes, holds the ORT
 * session and the optional gradient graph, and applies preprocessing, logits → probabilities,
 * the training-time calibration and the out-of-distribution gate.
 */
export {
  Predictor, loadModel, activate, affineOf, readOperatingPoint,
  type AffineMap, type DatasetPredictions, type OperatingPoint, type Prediction, type PredictInput, type PredictorOptions,
} from './predictor.js';
