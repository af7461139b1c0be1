/**
 * explain/ owns saliency: Grad-CAM (any cut layer), integrated gradients, SmoothGrad, occlusion
 * (any ONNX model), PNG overlays and .npy maps, localisation scores against ground-truth masks
 * (pointing game, top-k% IoU, energy in mask) and the parameter-randomisation sanity test. Gradient
 * methods run on the engine's compilers through graph cuts (graph-split.ts), no engine changes.
 *
 * @example
 *   const model = await LoadedModel.open('models/synth');
 *   const summary = await explainDataset(model, readDataset('synth-ds'), 'out', { methods: ['gradcam'] });
 */
export { cutPoints, lastConvLayer, penultimateValue, prefixGraph, suffixGraph, subsetParams } from './graph-split.js';
export { GradientModel, oneHot, type LogitGradient } from './model.js';
export {
  gradCam, integratedGradients, smoothGrad, occlusion, inputGradient, sumChannels, upsampleBilinear,
  type ScoreFunction, type SaliencyResult, type GradCamResult, type IntegratedGradientsResult,
} from './saliency.js';
export { spearman, pearson, ranks, pointingGame, topFractionIoU, energyInMask, maskArea, localisationSummary, type LocalisationSummary } from './metrics.js';
export { randomisationTest, type RandomisationResult, type RandomisationStage, type MapFunction } from './sanity.js';
export { npyBytes, writeNpy, overlayPng, writeOverlayPng, mapToOriginal } from './output.js';
export { LoadedModel, affineOf, activate, datasetImages, modelTargets, type AffineMap, type ModelTargets } from './loaded-model.js';
export { explainDataset, maskAt, SALIENCY_METHODS, type SaliencyMethod, type ExplainOptions, type ExplainSummary } from './run.js';
export { saliencySection, saliencyHtml } from './report.js';
