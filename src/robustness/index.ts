/**
 * robustness/ owns how a model breaks and what it refuses: adversarial attacks (FGSM, PGD L∞/L2,
 * the black-box Square Attack) and `adversarialBatch` for adversarial training, natural corruptions
 * at graded severities, the stress test with robustness curves, the out-of-distribution gate
 * (DICOM header profile, Mahalanobis on penultimate features, energy score; `checkInput`), the
 * poisoning screen, and robustness report sections. Artefact integrity (SHA-256 of every model
 * file) is enforced by train/'s loader, which every entry point here goes through.
 *
 * @example
 *   const model = await LoadedModel.open('models/synth');
 *   const det = loadOodDetector('models/synth');
 *   const { accepted, reasons } = await checkInput(model, det, bytes, 'study.dcm');
 */
export { fgsm, pgd, squareAttack, attackLoss, adversarialBatch, AdversarialGenerator, type AdversarialBatchOptions, type AttackNorm, type Bounds, type PgdOptions, type SquareAttackOptions, type LossGradientFunction, type QueryLossFunction } from './attacks.js';
export { corrupt, CORRUPTIONS, CORRUPTION_LEVELS, CORRUPTION_UNITS, SEVERITIES, type Corruption } from './corruptions.js';
export { stressTest, intensityLossGradient, intensityQueryLoss, ATTACKS, DEFAULT_EPSILONS, type AttackName, type StressOptions, type StressResult, type StressCurve, type CurvePoint } from './stress.js';
export { ledoitWolf, spdInverse, fitMahalanobis, mahalanobisScores, crossFittedMahalanobis, energyScores, acceptanceThreshold, jointThresholds, type MahalanobisModel } from './ood.js';
export {
  OOD_FILE, oodDetectorSchema, fitOodDetector, saveOodDetector, loadOodDetector, oodScores, oodSplit, checkImages, checkInput, decide, toModelSize,
  type OodDetector, type OodScores, type InputCheck, type FitOodOptions,
} from './ood-detector.js';
export { buildHeaderProfile, checkHeader, fieldsFromHeader, fieldsFromColumns, headerProfileSchema, type HeaderProfile, type HeaderFields } from './header-checks.js';
export { flagAnomalousSamples, robustZ, median, perSampleLossAndGradNorm, type PoisoningReport, type PoisoningFlag } from './poisoning.js';
export { poisoningScreen, sourceAcceptance, sourceFiles, type SourceAcceptance } from './screen.js';
export { robustnessSection, robustnessHtml, renderStressHtml } from './report.js';
