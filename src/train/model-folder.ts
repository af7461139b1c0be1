/**
 * The model folder (DESIGN.md contract): `model.onnx` (standard inference ONNX), `model.json`
 * (classes, preprocessing, training provenance, validation metrics, SHA-256 of every artefact) and,
 * for trained models, `checkpoint/` for resuming. Loading verifies every artefact's SHA-256 first,
 * so a model altered after training is refused with a message naming the file.
 *
 * model.json is written last and atomically: a folder without it is not a model yet.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { preprocessingSpecSchema } from '../data/preprocess/index.js';
import { recalibrationMapSchema } from '../evaluate/calibration.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { readJsonWithSchema } from '../util/json.js';
import { epochRecordSchema } from './checkpoint.js';

export const MODEL_FORMAT = 'radml-model';
export const MODEL_JSON = 'model.json';
export const MODEL_ONNX = 'model.onnx';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

export const validationMetricsSchema = z.object({
  /** Validation AUROC of the kept (best) parameters: positive class (binary), macro one-vs-rest or mean over findings. */
  auroc: z.number().nullable(),
  /** Per class / finding AUROC (one-vs-rest); null where a class is absent from validation. */
  aurocPerClass: z.record(z.string(), z.number().nullable()),
  loss: z.number().nullable(),
  count: z.number().int().min(0),
});

export const trainingProvenanceSchema = z.object({
  data: z.object({
    /** The --data argument as given. */
    source: z.string(),
    kind: z.enum(['manifest', 'dataset']),
    /** SHA-256 of the manifest file (manifest) or of the dataset's images.u16 (dataset). */
    sha256: sha256Hex,
    /** SHA-256 of the decoded, resized pixels the model saw. */
    imagesSha256: sha256Hex,
    images: z.number().int().min(0),
    skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  }),
  split: z.object({
    method: z.enum(['manifest', 'patient-holdout']),
    train: z.number().int().min(0),
    val: z.number().int().min(0),
    /** Distinct patients per split when patient_id is present (0 = not recorded). */
    trainPatients: z.number().int().min(0),
    valPatients: z.number().int().min(0),
  }),
  /** Every training option after defaults were applied. */
  options: z.record(z.string(), z.unknown()),
  /** The imported model this one was fine-tuned from (with its SHA-256), or null. */
  baseModel: z.string().nullable().default(null),
  /** Class weights / positive weights actually used in the loss. */
  lossWeights: z.array(z.number()),
  packages: z.object({ radml: z.string(), 'onnxruntime-node': z.string(), node: z.string() }),
  seed: z.number().int(),
  configHash: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  wallTimeSeconds: z.number().min(0),
  epochsRun: z.number().int().min(0),
  bestEpoch: z.number().int().min(0),
  stoppedEarly: z.boolean(),
  resumed: z.boolean(),
  history: z.array(epochRecordSchema),
});
export type TrainingProvenance = z.infer<typeof trainingProvenanceSchema>;

/**
 * Per-class recalibration fitted by `radml train` on the validation split (evaluate/calibration.ts
 * maps). Every consumer of the model reports `map(raw score)` as the probability, with the raw
 * score kept beside it. For a two-class categorical model only the positive class is fitted and
 * the other class is its complement, so the two still sum to 1; with more classes each class is a
 * one-vs-rest probability.
 */
export const modelCalibrationSchema = z.object({
  fittedOn: z.object({ split: z.string(), n: z.number().int().min(0) }),
  classes: z.record(z.string(), z.object({
    map: recalibrationMapSchema,
    n: z.number().int().min(0),
    nPositive: z.number().int().min(0),
    /** Why the map is the identity (too few positives or negatives), when it is. */
    note: z.string().optional(),
  })),
  /** Two-class categorical models: `{ class, of }` — `class`'s probability is 1 − that of `of`. */
  complement: z.object({ class: z.string(), of: z.string() }).nullable().default(null),
});
export type ModelCalibration = z.infer<typeof modelCalibrationSchema>;

export const modelJsonSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(1),
  /** `trained` by radml, or `imported` from a user's ONNX file and sidecar. */
  origin: z.enum(['trained', 'imported']),
  labelKind: z.enum(['categorical', 'multilabel']),
  classes: z.array(z.string().min(1)).min(1),
  /** Binary categorical models: the class whose score is "positive" for AUROC and operating points. */
  positiveClass: z.string().nullable(),
  input: z.object({ name: z.string(), channels: z.number().int().min(1), size: z.number().int().min(1) }),
  output: z.object({
    /** ONNX output read for scores. */
    name: z.string(),
    /** Whether that output already holds probabilities or still needs `activation`. */
    kind: z.enum(['logits', 'probabilities']),
    activation: z.enum(['softmax', 'sigmoid']),
  }),
  preprocessing: preprocessingSpecSchema,
  /** The engine ArchSpec (trained models); null for imported models. */
  architecture: z.record(z.string(), z.unknown()).nullable(),
  training: trainingProvenanceSchema.nullable(),
  validation: validationMetricsSchema.nullable(),
  /**
   * Decision thresholds per class for deployment, chosen by `radml evaluate --save-operating-points`
   * on a tuning split (never the data they are reported on); the service turns scores into decisions with them.
   */
  operatingPoints: z.record(z.string(), z.number()).optional(),
  operatingPointRule: z.string().optional(),
  /** Federated training record (src/federated): strategy, rounds, sites, per-round metrics, privacy; absent for central training. */
  federation: z.record(z.string(), z.unknown()).optional(),
  /** Recalibration of the raw scores (absent: scores are used as the model emits them). */
  calibration: modelCalibrationSchema.optional(),
  /** SHA-256 of every artefact, by path relative to the folder (forward slashes). */
  artefacts: z.record(z.string(), sha256Hex),
  createdAt: z.string(),
});
export type ModelJson = z.infer<typeof modelJsonSchema>;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Files written into a model folder beside model.onnx, by path relative to the folder (forward slashes). */
export type ArtefactFiles = Record<string, Uint8Array | string>;

function writeArtefactFiles(dir: string, files: ArtefactFiles): string[] {
  const names: string[] = [];
  for (const [rel, bytes] of Object.entries(files)) {
    const abs = resolve(dir, rel);
    if (relative(resolve(dir), abs).startsWith('..') || rel === MODEL_JSON) throw new InputError('MODEL_ARTEFACT', `${dir}: artefact name "${rel}" must be a path inside the model folder other than ${MODEL_JSON}`, { file: dir });
    mkdirSync(dirname(abs), { recursive: true });
    writeFileAtomic(abs, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    names.push(rel);
  }
  return names;
}

/**
 * Write model.onnx and any `files` (extra artefacts such as ood.json or a monitoring reference
 * profile), then model.json listing the SHA-256 of model.onnx, of each `extraArtefacts` path
 * (relative to the folder, already written) and of each file in `files`.
 *
 * @example writeModelFolder('out/model', onnxBytes, meta, ['checkpoint/checkpoint.bin'], { 'reference.json': JSON.stringify(profile) })
 */
export function writeModelFolder(dir: string, onnx: Uint8Array, meta: Omit<ModelJson, 'artefacts' | 'createdAt'>, extraArtefacts: string[] = [], files: ArtefactFiles = {}): ModelJson {
  writeFileAtomic(join(dir, MODEL_ONNX), onnx);
  const written = writeArtefactFiles(dir, files);
  const artefacts: Record<string, string> = {};
  for (const rel of [MODEL_ONNX, ...extraArtefacts, ...written]) artefacts[rel.split(sep).join('/')] = sha256File(join(dir, rel));
  const full: ModelJson = modelJsonSchema.parse({ ...meta, artefacts, createdAt: new Date().toISOString() });
  writeJsonAtomic(join(dir, MODEL_JSON), full);
  return full;
}

/**
 * Add (or replace) hashed artefacts of an existing model folder: the files are written atomically
 * and their SHA-256 recorded in model.json (rewritten atomically; the other hashes are unchanged,
 * so the folder still verifies). The stable hook for anything fitted after training (ood.json,
 * monitoring reference profiles).
 *
 * @example addModelArtefacts('models/cxr', { 'ood.json': JSON.stringify(detector) })
 */
export function addModelArtefacts(dir: string, files: ArtefactFiles): ModelJson {
  const meta = readModelJson(dir);
  const written = writeArtefactFiles(dir, files);
  const artefacts = { ...meta.artefacts };
  for (const rel of written) artefacts[rel.split(sep).join('/')] = sha256File(join(dir, rel));
  const next = modelJsonSchema.parse({ ...meta, artefacts });
  writeJsonAtomic(join(dir, MODEL_JSON), next);
  return next;
}

/** Record (or replace) the model's calibration in model.json (not an artefact hash, like operating points). */
export function saveModelCalibration(dir: string, calibration: ModelCalibration): ModelJson {
  const meta = readModelJson(dir);
  const next = modelJsonSchema.parse({ ...meta, calibration });
  writeJsonAtomic(join(dir, MODEL_JSON), next);
  return next;
}

/** Read model.json (schema-checked) without verifying artefacts. */
export function readModelJson(dir: string): ModelJson {
  const file = join(dir, MODEL_JSON);
  if (!existsSync(file)) throw new InputError('MODEL_MISSING', `${dir}: not a radml model folder (no ${MODEL_JSON})`, { file: dir });
  return readJsonWithSchema(file, modelJsonSchema, 'MODEL_CORRUPT');
}

/**
 * Check every artefact listed in model.json against its SHA-256. Throws InputError naming the
 * first altered or missing file.
 */
export function verifyArtefacts(dir: string, meta: ModelJson): void {
  if (!(MODEL_ONNX in meta.artefacts)) throw new InputError('MODEL_TAMPERED', `${join(dir, MODEL_JSON)}: lists no SHA-256 for ${MODEL_ONNX}; refusing an unverifiable model`, { file: dir });
  for (const [rel, expected] of Object.entries(meta.artefacts)) {
    const abs = resolve(dir, rel);
    if (relative(resolve(dir), abs).startsWith('..')) throw new InputError('MODEL_CORRUPT', `${join(dir, MODEL_JSON)}: artefact path "${rel}" leaves the model folder`, { file: dir });
    if (!existsSync(abs)) throw new InputError('MODEL_TAMPERED', `${abs}: listed in model.json but missing; the model folder is incomplete`, { file: abs });
    const actual = sha256File(abs);
    if (actual !== expected) {
      throw new InputError('MODEL_TAMPERED', `${abs}: SHA-256 ${actual.slice(0, 16)}… does not match model.json (${expected.slice(0, 16)}…); the file was altered after the model was saved — refusing to load it`, { file: abs });
    }
  }
}

/** model.json (verified) and the inference ONNX bytes of a model folder. */
export function loadModelFolder(dir: string): { meta: ModelJson; onnx: Uint8Array } {
  const meta = readModelJson(dir);
  verifyArtefacts(dir, meta);
  return { meta, onnx: new Uint8Array(readFileSync(join(dir, MODEL_ONNX))) };
}

function findPackageJson(start: string, name?: string): { name: string; version: string } | undefined {
  let d = start;
  for (;;) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.version && (!name || pkg.name === name)) return { name: pkg.name ?? '', version: pkg.version };
    }
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** Versions recorded in provenance: radml itself, onnxruntime-node and Node. */
export function packageVersions(): { radml: string; 'onnxruntime-node': string; node: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const radml = findPackageJson(here, 'radml')?.version ?? 'unknown';
  let ort = 'unknown';
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    ort = findPackageJson(dirname(entry), 'onnxruntime-node')?.version ?? 'unknown';
  } catch {
    // Not resolvable: recorded as unknown rather than failing the training run.
  }
  return { radml, 'onnxruntime-node': ort, node: process.versions.node };
}

/**
 * Record deployment thresholds in model.json (atomically). model.json is not itself an artefact
 * hash, so the recorded hashes of model.onnx and the rest stay valid.
 */
export function saveOperatingPoints(dir: string, thresholds: Record<string, number>, rule: string): ModelJson {
  const meta = readModelJson(dir);
  for (const c of Object.keys(thresholds)) {
    if (!meta.classes.includes(c)) throw new InputError('CLI_ARGS', `${dir}: class "${c}" is not one of the model's classes (${meta.classes.join(', ')})`, { file: dir });
  }
  const next = modelJsonSchema.parse({ ...meta, operatingPoints: thresholds, operatingPointRule: rule });
  writeJsonAtomic(join(dir, MODEL_JSON), next);
  return next;
}
