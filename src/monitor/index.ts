/**
 * Monitoring and model decay (owned by monitor/): the reference profile a model is watched against
 * (profile.ts, stored as monitor-reference.json in the model folder), observations of studies
 * (observe.ts: header features, image statistics, embeddings, scores, OOD decisions), the drift
 * detectors — one file each behind one interface (detectors/) — label-free performance estimation
 * (cbpe.ts) and realized performance (realized.ts), the alarm rules with their false-alarm budget
 * (alarms.ts), the rolling-window monitor whose state survives restarts (monitor.ts), and the
 * batch run that writes monitor.json / monitor.html (report.ts, html.ts).
 */
export { referenceProfileSchema, type ReferenceProfile, fitReference, saveReference, loadReference, REFERENCE_FILE, MAX_REFERENCE_SAMPLE, type FitReferenceOptions } from './profile.js';
export { observationSchema, type Observation, type ColumnarSample, toColumnar } from './observation.js';
export { observeImages, observeDataset, datasetHeaders, datasetLabels } from './observe.js';
export { headerFeaturesFromDicom, headerFeaturesFromColumns, type HeaderFeatures } from './headers.js';
export { imageStatistics, IMAGE_STAT_NAMES } from './image-stats.js';
export { fitPca, projectWhitened, type PcaBasis } from './pca.js';
export { DriftMonitor, monitorStateSchema, monitorOptionsSchema, alarmSchema, type Alarm, type Evaluation, type MonitorOptions, type MonitorState, estimatePrevalence } from './monitor.js';
export { runMonitor, summarise, monitorReportSchema, type MonitorReport } from './report.js';
export { estimatePerformance, type EstimatedPerformance } from './cbpe.js';
export { realizedPerformance } from './realized.js';
export { windowAlpha, cusumThreshold, cusumThresholdFor, cusumArl0 } from './alarms.js';
export { DEFAULT_DETECTORS, DETECTORS } from './detectors/registry.js';
export type { Detector, DetectorContext, TestResult, DetectorKind } from './detectors/types.js';
export { buildReference, saveReferenceArtefact, writeTrainingReference, optionalOod } from './build.js';
export { renderMonitorHtml } from './html.js';
