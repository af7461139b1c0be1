/**
 * serve/ — the deployment service: HTTP API (Fastify, OpenAPI), token auth with roles, the model
 * registry (verified uploads, champion/challenger), synchronous inference, the Orthanc bridge
 * (change feed or paged QIDO, WADO-RS in, SR + Secondary Capture out by STOW-RS, "not analysed" SR
 * for refused studies, late images scored per SOP Instance), the crash-safe job worker with its
 * PACS circuit breaker, admin requeue, silent mode, feedback, predictions export and Prometheus
 * metrics. Persistence is in store/.
 */
export { startService, type RunningService, type StartOptions } from './service.js';
export { startDemoService, type DemoService, type DemoServiceOptions } from './demo.js';
export { readServeConfig, parseServeConfig, serveConfigSchema, type ServeConfig, type ServeConfigInput } from './config.js';
export { addToken, generateToken, hashToken, readTokensFile, TokenVerifier } from './auth.js';
export { buildApp, type RouteInfo, type AppContext } from './app.js';
export { ModelRegistry, modelFilesFromTar } from './registry.js';
export { ModelRunner } from './runner.js';
export { OrthancClient, PacsError, PacsUnavailableError } from './orthanc.js';
export { PacsCircuit, type CircuitEvent, type CircuitOptions } from './circuit.js';
export { Worker } from './worker.js';
export { StudyWatcher, type QueueResult } from './watcher.js';
export { jobRoutes } from './jobs-routes.js';
export { processStudyJob, PermanentJobError, StudyNotArrivedError } from './processor.js';
export { exportPredictionsCsv } from './export.js';
export { eligibility } from './eligibility.js';
export { readTar, writeTar, unpackTar, UploadLimitError, type UnpackLimits } from './tar.js';
export { unpackFormData } from './multipart.js';
export { DecodePool, DecodeQueueFullError } from './decode-pool.js';
export { buildStructuredReport, buildSecondaryCapture, renderResultImage, secondaryCaptures } from './results-dicom.js';
