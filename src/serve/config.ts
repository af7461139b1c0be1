/**
 * `radml serve --config <file>`: the service's JSON configuration, validated with zod. Relative
 * paths are resolved against the config file's folder. Unknown keys are refused (a misspelt key
 * would otherwise be a silently ignored setting).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../util/json.js';
import { InputError } from '../util/errors.js';
import { isPostgresUrl } from '../store/postgres.js';

export const orthancConfigSchema = z.strictObject({
  /** Orthanc's REST root, e.g. http://127.0.0.1:8042 */
  url: z.string().url(),
  /** DICOMweb root under `url` (the orthanc-dicomweb plugin's default). */
  dicomWebRoot: z.string().default('/dicom-web'),
  username: z.string().optional(),
  password: z.string().optional(),
  /** How new studies are found: Orthanc's `/changes` feed (StableStudy events) or QIDO-RS polling. */
  watch: z.enum(['changes', 'qido', 'off']).default('changes'),
  pollIntervalMs: z.number().int().min(50).default(2000),
  /** On the very first start, read the change feed from the beginning (score every study already
   *  stored) or only from now on. Later starts continue from the saved cursor. */
  startFrom: z.enum(['beginning', 'now']).default('now'),
  /** Per-request timeout to the PACS. */
  timeoutMs: z.number().int().min(100).default(30_000),
  /** QIDO polling: a study is queued once its instance count has not changed for this long (the
   *  change feed uses Orthanc's own StableStudy, set by Orthanc's StableAge). */
  stableMs: z.number().int().min(0).default(60_000),
  /** QIDO polling: studies per page. */
  pageSize: z.number().int().min(1).max(10_000).default(500),
  /** PACS outage: first health probe after the PACS stops answering; later probes back off ×2 up to probeMaxMs. */
  probeMinMs: z.number().int().min(10).default(1_000),
  probeMaxMs: z.number().int().min(10).default(30_000),
});
export type OrthancConfig = z.infer<typeof orthancConfigSchema>;

export const selectionSchema = z.strictObject({
  modalities: z.array(z.string()).default(['CR', 'DX']),
  bodyParts: z.array(z.string()).default(['CHEST']),
  views: z.array(z.string()).default(['PA', 'AP']),
  /** Accept instances whose BodyPartExamined / ViewPosition is absent (many sites leave them blank). */
  allowMissingBodyPart: z.boolean().default(false),
  allowMissingView: z.boolean().default(false),
});
export type Selection = z.infer<typeof selectionSchema>;

export const serveConfigSchema = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8470),
  }).prefault({}),
  /** SQLite database file (jobs, registry, predictions, feedback, audit), or a PostgreSQL
   *  connection string `postgres://user:password@host:5432/db` so several service processes (on
   *  several machines) share one queue. */
  store: z.string().default('radml-serve/radml.db'),
  /** SQLite durability: "normal" survives process crashes; "full" also power loss (fsync per commit). */
  storeSync: z.enum(['normal', 'full']).default('normal'),
  /** Where uploaded model versions are kept. */
  modelsDir: z.string().default('radml-serve/models'),
  /** JSON file of hashed API tokens (`radml serve --add-token`). */
  tokensFile: z.string().default('radml-serve/tokens.json'),
  orthanc: orthancConfigSchema.optional(),
  /** Silent (shadow) mode: every prediction is recorded, nothing is sent back to the PACS. */
  silent: z.boolean().default(false),
  /** Send a short SR ("not analysed: <reason>") for a study whose new images were all refused or out of distribution. */
  notAnalysedReport: z.boolean().default(true),
  selection: selectionSchema.prefault({}),
  worker: z.strictObject({
    enabled: z.boolean().default(true),
    /** Jobs processed at the same time by this process. */
    concurrency: z.number().int().min(1).max(64).default(1),
    leaseMs: z.number().int().min(100).default(60_000),
    maxAttempts: z.number().int().min(1).default(5),
    /** Retry n waits baseBackoffMs · 2^(n−1), at most maxBackoffMs. */
    baseBackoffMs: z.number().int().min(0).default(2_000),
    maxBackoffMs: z.number().int().min(0).default(300_000),
    idleMs: z.number().int().min(10).default(500),
    /** A job queued before its study is in the PACS looks again after studyRetryMs (no attempt spent) … */
    studyRetryMs: z.number().int().min(10).default(30_000),
    /** … and fails when the study has not arrived studyWaitMaxMs after the job was queued. */
    studyWaitMaxMs: z.number().int().min(0).default(24 * 3_600_000),
  }).prefault({}),
  /** Back-pressure: POST /v1/jobs answers 503 with Retry-After when this many jobs wait. */
  maxQueued: z.number().int().min(1).default(10_000),
  limits: z.strictObject({
    /** Largest image or DICOM body for synchronous inference. */
    imageBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** Largest model upload (tar, tar.gz or multipart), as sent. */
    modelBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
    /** Largest total of a model upload's files once unpacked (a gzip bomb stops here). */
    modelInflatedBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024),
    /** Most files and folders in one model upload. */
    modelEntries: z.number().int().min(1).default(1000),
    /** Largest inflated data set of a deflated-transfer-syntax DICOM (a deflate bomb stops here). */
    dicomInflatedBytes: z.number().int().min(1024).default(128 * 1024 * 1024),
    /** Everything else (JSON bodies). */
    jsonBytes: z.number().int().min(1024).default(1024 * 1024),
  }).prefault({}),
  /** Worker threads that validate, decode and preprocess images for synchronous inference and jobs (0 = main thread). */
  decodeThreads: z.number().int().min(0).max(64).default(2),
  /** Decodes waiting for a decode thread beyond which /v1/predict answers 503 with Retry-After. */
  decodeQueue: z.number().int().min(1).default(64),
  /** ONNX Runtime intra-op threads per model session. */
  threads: z.number().int().min(1).max(64).default(1),
  /** Occlusion heatmap grid for the Secondary Capture and `?heatmap=1` (0 = off). */
  heatmapGrid: z.number().int().min(0).max(32).default(8),
  /** Secondary Captures of a scored image: one per positive finding ("per-finding"), or one labelled
   *  grid of the positive findings' heatmaps ("grid"). With no positive finding, one SC of the top score. */
  heatmapLayout: z.enum(['per-finding', 'grid']).default('per-finding'),
  /** Most findings given a heatmap per image (occlusion costs grid² + 1 forward passes each). */
  heatmapMaxFindings: z.number().int().min(1).max(16).default(4),
  /** Secret key of the audit log's HMAC chain, kept outside the database (created 0600 when missing). */
  auditKeyFile: z.string().default('radml-serve/audit.key'),
  /** The site's de-identification key (as for `radml deidentify --key-file`): exported predictions
   *  then carry the same keyed study UIDs and file names as de-identified images, so the two join. */
  deidKeyFile: z.string().optional(),
  logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
});
export type ServeConfig = z.infer<typeof serveConfigSchema>;
export type ServeConfigInput = z.input<typeof serveConfigSchema>;

/** Validate a config object; paths are resolved against `baseDir`. */
export function parseServeConfig(raw: unknown, baseDir: string, where = 'config'): ServeConfig {
  const r = serveConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.slice(0, 8).map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InputError('CONFIG_INVALID', `${where}: invalid serve configuration:\n${lines.join('\n')}`, { file: where });
  }
  const c = r.data;
  return {
    ...c,
    store: c.store === ':memory:' || isPostgresUrl(c.store) ? c.store : resolve(baseDir, c.store),
    modelsDir: resolve(baseDir, c.modelsDir),
    tokensFile: resolve(baseDir, c.tokensFile),
    auditKeyFile: resolve(baseDir, c.auditKeyFile),
    ...(c.deidKeyFile ? { deidKeyFile: resolve(baseDir, c.deidKeyFile) } : {}),
  };
}

/**
 * Read and validate a config file.
 * @example const cfg = readServeConfig('serve.json'); cfg.listen.port // 8470
 */
export function readServeConfig(file: string): ServeConfig {
  if (!existsSync(file)) throw new InputError('CONFIG_NOT_FOUND', `${file}: config file not found`, { file });
  return parseServeConfig(readJsonFile(file, 'CONFIG_INVALID'), dirname(resolve(file)), file);
}
