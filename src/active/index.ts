/**
 * Active learning (owned by active/): which unlabelled cases an expert should read next.
 *   - acquisition functions, one module each behind one interface (types.ts, strategies/):
 *     random, least confidence, margin, entropy (multi-label: mean or max over findings), BALD and
 *     variation ratio from probability samples (MC dropout, an ensemble, or test-time
 *     augmentation), core-set (k-center greedy on penultimate embeddings), BADGE (gradient
 *     embeddings + k-means++ seeding);
 *   - batch selection with diversity, class balance and per-source label costs (acquire.ts);
 *   - reading probabilities, embeddings and samples from a saved model (the shared Predictor) or
 *     a model trained in memory (model-outputs.ts);
 *   - the pool-based simulation with learning curves over seeds (simulate.ts).
 */
export type { AcquisitionFunction, AcquisitionInput, Aggregate, Embeddings, LabelKind, ProbabilitySamples, SampleSource } from './types.js';
export { entropy, leastConfidence, margin, bald, variationRatio, binaryEntropy, meanOfSamples } from './measures.js';
export { kCenterGreedy, kMeansPlusPlus, gradientEmbeddings } from './geometry.js';
export { acquire, strategy, STRATEGIES, STRATEGY_NAMES, acquireOptionsSchema, type AcquireOptions, type Acquired } from './acquire.js';
export { poolOutputs, scorerFromPredictor, scorerFromTrained, linearHead, headLogits, type Scorer, type PoolOutputs, type PoolOutputOptions, type LinearHead } from './model-outputs.js';
export { simulateActiveLearning, simulationRows, roundDataset, simulateOptionsSchema, activeResultSchema, type ActiveResult, type SimulateOptions, type SimulationRows } from './simulate.js';
export { meanCi, aulc, labelsToReach, t975 } from './stats.js';
export { renderActiveHtml } from './html.js';
export { fitInversePowerLaw, predictPowerLaw, labelsForAuroc, bootstrapLearningCurve, measurementInterval, type PowerLawFit, type CurveBootstrap } from './learning-curve.js';
