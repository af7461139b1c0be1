/**
 * serve/ — the deployment service: HTTP API (Fastify, OpenAPI), token auth with roles, the model
 * registry (verified uploads, champion/challenger), synchronous inference, the Orthanc bridge
 * (change feed, WADO-RS in, SR + Secondary Capture out by STOW-RS), the crash-safe job worker,
 * silent mode, feedback, predictions export and Prometheus metrics. Persistence is in store/.
 */
export { startService, type RunningService, type StartOptions } from './service.js';
export { startDemoService, type DemoService, type DemoServiceOptions } from './demo.js';
export { readServeConfig, parseServeConfig, serveConfigSchema, type ServeConfig, type ServeConfigInput } from './config.js';
export { addToken, generateToken, hashToken, readTokensFile, TokenVerifier } from './auth.js';
export { buildApp, type RouteInfo, type AppContext } from './app.js';
export { ModelRegistry, modelFilesFromTar } from './registry.js';
export { ModelRunner } from './runner.js';
export { OrthancClient, PacsError } from './orthanc.js';
export { Worker } from './worker.js';
export { StudyWatcher } from './watcher.js';
export { processStudyJob } from './processor.js';
export { exportPredictionsCsv } from './export.js';
export { eligibility } from './eligibility.js';
export { readTar, writeTar } from './tar.js';
export { buildStructuredReport, buildSecondaryCapture, renderResultImage } from './results-dicom.js';
