/**
 * Preprocessing: resizing to the square model input and intensity normalisation, as composable
 * pure transforms, plus the serialisable PreprocessingSpec that models store in model.json so
 * prediction applies exactly what training did.
 */
export { resizeImage, resampleImage, type ResizeMode } from './resize.js';
export {
  type Transform, compose, minMax, zScore, percentileClip, histogramEqualisation, resize,
  meanStd, percentiles, intensityRange,
} from './transforms.js';
export {
  preprocessingSpecSchema, type PreprocessingSpec, type PreprocessingSpecInput, parsePreprocessingSpec,
  preprocessingTransform, applyPreprocessing, fitIntensityStats, fitPreprocessing, DEFAULT_PERCENTILES, EQUALISE_BINS,
} from './spec.js';
