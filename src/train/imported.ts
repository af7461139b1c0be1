/**
 * Imported models: a user's ONNX classifier (e.g. exported from PyTorch) plus a small JSON sidecar
 * can be used by `radml predict` like a trained model folder.
 *
 * Sidecar format (`model.json` next to `model.onnx`, or `<name>.json` next to `<name>.onnx`):
 *
 *   {
 *     "classes": ["normal", "pneumonia"],      // output order; required
 *     "labelKind": "categorical",              // or "multilabel" (one sigmoid per finding); default categorical
 *     "positiveClass": "pneumonia",            // optional, binary categorical only
 *     "input": { "size": 224, "channels": 3 }, // square side in pixels; 1 (grey) or 3 (grey replicated); default channels 1
 *     "preprocessing": { "normalise": "zscore", "mean": 0.5, "std": 0.25 },
 *                                              // src/data/preprocess spec: resize pad|crop|stretch, normalise
 *                                              // none|minmax|zscore|percentile, equalise; size defaults to input.size
 *     "output": { "kind": "logits" }           // "logits" (radml applies softmax/sigmoid) or "probabilities";
 *                                              // optional "name" of the ONNX output (default: the first)
 *   }
 *
 * `importModel` turns ONNX + sidecar into a proper model folder (model.onnx + model.json with
 * SHA-256s), after checking that ONNX Runtime loads it and that its output width matches `classes`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { importOnnx, InferenceModel } from '../engine/index.js';
import { createHash } from 'node:crypto';
import type { BaseModel } from './trainer.js';
import { parsePreprocessingSpec } from '../data/preprocess/index.js';
import { readJsonWithSchema } from '../util/json.js';
import { InputError, UnsupportedError } from '../util/errors.js';
import { loadModelFolder, MODEL_JSON, type ModelJson, modelJsonSchema, writeModelFolder } from './model-folder.js';

export const sidecarSchema = z.object({
  classes: z.array(z.string().min(1)).min(1),
  labelKind: z.enum(['categorical', 'multilabel']).default('categorical'),
  positiveClass: z.string().optional(),
  input: z.object({ size: z.number().int().min(1).max(8192), channels: z.number().int().min(1).max(4).default(1), name: z.string().optional() }),
  /** A src/data/preprocess spec without `size` (taken from input.size); checked when the model is built. */
  preprocessing: z.record(z.string(), z.unknown()).default({ resize: 'pad', normalise: 'minmax', equalise: false }),
  output: z.object({ kind: z.enum(['logits', 'probabilities']), name: z.string().optional() }).default({ kind: 'logits' }),
});
export type Sidecar = z.infer<typeof sidecarSchema>;

function readSidecar(file: string): Sidecar {
  const sidecar = readJsonWithSchema(file, sidecarSchema, 'SIDECAR_INVALID', 'see `radml predict --help` for the sidecar format');
  if (sidecar.positiveClass !== undefined && !sidecar.classes.includes(sidecar.positiveClass)) {
    throw new InputError('SIDECAR_INVALID', `${file}: positiveClass "${sidecar.positiveClass}" is not one of classes`, { file });
  }
  return sidecar;
}

/** model.json content for an imported ONNX + sidecar. */
export function importedMeta(sc: Sidecar, onnxName: string): Omit<ModelJson, 'artefacts' | 'createdAt'> {
  return {
    format: 'radml-model',
    version: 1,
    origin: 'imported',
    labelKind: sc.labelKind,
    classes: sc.classes,
    positiveClass: sc.positiveClass ?? (sc.labelKind === 'categorical' && sc.classes.length === 2 ? sc.classes[1]! : null),
    input: { name: sc.input.name ?? 'input', channels: sc.input.channels, size: sc.input.size },
    output: { name: sc.output.name ?? onnxName, kind: sc.output.kind, activation: sc.labelKind === 'multilabel' ? 'sigmoid' : 'softmax' },
    preprocessing: parsePreprocessingSpec({ ...sc.preprocessing, size: sc.input.size }, 'sidecar preprocessing'),
    architecture: null,
    training: null,
    validation: null,
  };
}

async function checkLoads(onnx: Uint8Array, sc: Sidecar, file: string): Promise<string> {
  const m = await InferenceModel.load(onnx).catch((e: unknown) => {
    throw new InputError('ONNX_INVALID', `${file}: ${(e as Error).message}`, { file });
  });
  try {
    const { size, channels } = sc.input;
    const r = await m.run(new Float32Array(channels * size * size), 1, [channels, size, size]).catch((e: unknown) => {
      throw new InputError('ONNX_INVALID', `${file}: a ${channels}×${size}×${size} input does not run: ${(e as Error).message}`, { file });
    });
    if (r.logits.length !== sc.classes.length) {
      throw new InputError('SIDECAR_INVALID', `${file}: the model outputs ${r.logits.length} scores per image but the sidecar lists ${sc.classes.length} classes`, { file });
    }
    return m.outputNames[0] ?? 'output';
  } finally {
    await m.release();
  }
}

/**
 * Write a model folder for a user's ONNX classifier and sidecar.
 *
 * @example await importModel('resnet.onnx', 'resnet.json', 'models/resnet');
 */
export async function importModel(onnxPath: string, sidecarPath: string, outDir: string): Promise<ModelJson> {
  if (!existsSync(onnxPath)) throw new InputError('FILE_UNREADABLE', `${onnxPath}: no such file`, { file: onnxPath });
  const sc = readSidecar(sidecarPath);
  const onnx = new Uint8Array(readFileSync(onnxPath));
  const out = await checkLoads(onnx, sc, onnxPath);
  return writeModelFolder(outDir, onnx, importedMeta(sc, out));
}

/**
 * A model for prediction from any of: a radml model folder (verified), a folder with model.onnx
 * and a sidecar model.json that is not a radml model.json, or an `.onnx` file with `<name>.json`.
 */
export async function loadAnyModel(path: string): Promise<{ meta: ModelJson; onnx: Uint8Array }> {
  if (!existsSync(path)) throw new InputError('MODEL_MISSING', `${path}: no such model folder or file`, { file: path });
  let onnxPath: string;
  let jsonPath: string;
  if (statSync(path).isDirectory()) {
    jsonPath = join(path, MODEL_JSON);
    onnxPath = join(path, 'model.onnx');
    if (!existsSync(jsonPath)) throw new InputError('MODEL_MISSING', `${path}: no ${MODEL_JSON} (a model folder from \`radml train\`, or model.onnx with a sidecar)`, { file: path });
    const raw = JSON.parse(readFileSync(jsonPath, 'utf8')) as { format?: unknown };
    if (raw.format === 'radml-model') return loadModelFolder(path);
  } else {
    onnxPath = path;
    jsonPath = path.replace(/\.onnx$/i, '') + '.json';
    if (!existsSync(jsonPath)) throw new InputError('SIDECAR_MISSING', `${path}: an imported ONNX model needs a JSON sidecar at ${jsonPath} (see \`radml predict --help\`)`, { file: path });
  }
  const sc = readSidecar(jsonPath);
  if (!existsSync(onnxPath)) throw new InputError('FILE_UNREADABLE', `${onnxPath}: no such file`, { file: onnxPath });
  const onnx = new Uint8Array(readFileSync(onnxPath));
  const outName = await checkLoads(onnx, sc, onnxPath);
  const meta = modelJsonSchema.parse({ ...importedMeta(sc, outName), artefacts: {}, createdAt: new Date().toISOString() });
  return { meta, onnx };
}

/**
 * A fine-tuning start point from an imported (or trained) model: the engine's importOnnx maps the
 * ONNX graph to a layer graph (or throws UnsupportedError listing every operator it cannot
 * differentiate), and every parameter except the final linear layer's is frozen, with BatchNorm
 * statistics kept — transfer learning of the last layer on a small dataset.
 *
 * @example const base = baseFromModel(await loadAnyModel('resnet.onnx'), 'resnet.onnx');
 */
export function baseFromModel(model: { meta: ModelJson; onnx: Uint8Array }, file: string): BaseModel {
  const { meta, onnx } = model;
  const { graph, params } = importOnnx(onnx, { file, inputShape: [meta.input.channels, meta.input.size, meta.input.size] });
  const last = [...graph.nodes].reverse().find((n) => n.op === 'linear');
  if (!last) throw new UnsupportedError('FINETUNE_NO_HEAD', `${file}: no final linear (Gemm/MatMul) layer to fine-tune`, { file });
  const freeze = graph.params.filter((p) => !p.name.startsWith(`${last.name}.`)).map((p) => p.name);
  const sha = createHash('sha256').update(onnx).digest('hex');
  return {
    graph, params, preprocessing: meta.preprocessing, channels: meta.input.channels, freeze, freezeBatchNorm: true, classes: meta.classes,
    description: `${meta.origin}:${file} sha256:${sha}`,
  };
}
