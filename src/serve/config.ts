/**
 * `radml serve --config <file>`: the service's JSON configuration, validated with zod. Relative
 * paths are resolved against the config file's folder.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../util/json.js';
import { InputError } from '../util/errors.js';

export const orthancConfigSchema = z.object({
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
});
export type OrthancConfig = z.infer<typeof orthancConfigSchema>;

export const selectionSchema = z.object({
  modalities: z.array(z.string()).default(['CR', 'DX']),
  bodyParts: z.array(z.string()).default(['CHEST']),
  views: z.array(z.string()).default(['PA', 'AP']),
  /** Accept instances whose BodyPartExamined / ViewPosition is absent (many sites leave them blank). */
  allowMissingBodyPart: z.boolean().default(false),
  allowMissingView: z.boolean().default(false),
});
export type Selection = z.infer<typeof selectionSchema>;

export const serveConfigSchema = z.object({
  listen: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8470),
  }).prefault({}),
  /** SQLite database file (jobs, registry, predictions, feedback, audit). */
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
  selection: selectionSchema.prefault({}),
  worker: z.object({
    enabled: z.boolean().default(true),
    /** Jobs processed at the same time by this process. */
    concurrency: z.number().int().min(1).max(64).default(1),
    leaseMs: z.number().int().min(100).default(60_000),
    maxAttempts: z.number().int().min(1).default(5),
    /** Retry n waits baseBackoffMs · 2^(n−1), at most maxBackoffMs. */
    baseBackoffMs: z.number().int().min(0).default(2_000),
    maxBackoffMs: z.number().int().min(0).default(300_000),
    idleMs: z.number().int().min(10).default(500),
  }).prefault({}),
  /** Back-pressure: POST /v1/jobs answers 503 with Retry-After when this many jobs wait. */
  maxQueued: z.number().int().min(1).default(10_000),
  limits: z.object({
    /** Largest image or DICOM body for synchronous inference. */
    imageBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** Largest model upload (tar). */
    modelBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
    /** Everything else (JSON bodies). */
    jsonBytes: z.number().int().min(1024).default(1024 * 1024),
  }).prefault({}),
  /** Worker threads that validate, decode and preprocess images for synchronous inference (0 = main thread). */
  decodeThreads: z.number().int().min(0).max(64).default(2),
  /** ONNX Runtime intra-op threads per model session. */
  threads: z.number().int().min(1).max(64).default(1),
  /** Occlusion heatmap grid for the Secondary Capture and `?heatmap=1` (0 = off). */
  heatmapGrid: z.number().int().min(0).max(32).default(8),
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
    store: c.store === ':memory:' ? c.store : resolve(baseDir, c.store),
    modelsDir: resolve(baseDir, c.modelsDir),
    tokensFile: resolve(baseDir, c.tokensFile),
  };
}

/**
 * Read and validate a config file.
 * @example const cfg = readServeConfig('serve.json'); cfg.listen.port // 8470
 */
export function readServeConfig(file: string): ServeConfig {
  return parseServeConfig(readJsonFile(file, 'CONFIG_INVALID'), dirname(resolve(file)), file);
}
