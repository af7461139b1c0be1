/**
 * Running a saved model (trained or imported) over a dataset: the stored preprocessing, grey
 * replicated to the model's channel count, batched inference, and the output turned into
 * probabilities (softmax / sigmoid when the model emits logits).
 */
import { InferenceModel } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import type { ProgressCallback } from '../util/progress.js';
import { InputError } from '../util/errors.js';
import { prepareBatch, type InputPipeline } from './input.js';
import type { ModelJson } from './model-folder.js';
import { pixelsAtSize } from './trainer.js';

export interface ScoreOptions {
  /** ORT intra-op threads for inference. Default 1. */
  threads?: number;
  /** Images per inference batch. Default 128. */
  batch?: number;
  onProgress?: ProgressCallback;
}

function activate(values: Float32Array, n: number, k: number, activation: 'softmax' | 'sigmoid'): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    if (activation === 'sigmoid') {
      for (let c = 0; c < k; c++) out[i * k + c] = 1 / (1 + Math.exp(-values[i * k + c]!));
      continue;
    }
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, values[i * k + c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += (out[i * k + c] = Math.exp(values[i * k + c]! - m));
    for (let c = 0; c < k; c++) out[i * k + c]! /= s;
  }
  return out;
}

/**
 * Probabilities [dataset count, K] of a model on every image of a dataset.
 *
 * @example const { meta, onnx } = loadModelFolder('model'); const p = await scoreDataset(meta, onnx, dataset, { threads: 2 });
 */
export async function scoreDataset(meta: ModelJson, onnx: Uint8Array, ds: Dataset, opts: ScoreOptions = {}): Promise<Float32Array> {
  const size = meta.input.size;
  const ch = meta.input.channels;
  const k = meta.classes.length;
  const pixels = pixelsAtSize(ds, size);
  const pipe: InputPipeline = { size, preprocessing: { ...meta.preprocessing, size }, augmentation: null, channels: ch };
  const model = await InferenceModel.load(onnx, { threads: opts.threads ?? 1 });
  try {
    const batch = Math.max(1, opts.batch ?? 128);
    const n = ds.meta.count;
    const px = size * size * ch;
    const out = new Float32Array(n * k);
    const x = new Float32Array(batch * px);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      const rows = Array.from({ length: m }, (_, i) => s + i);
      prepareBatch(pipe, pixels, rows, x.subarray(0, m * px));
      const r = await model.run(x.subarray(0, m * px), m, [ch, size, size]);
      const useProbabilities = meta.output.name === 'probabilities' && r.probabilities !== undefined;
      let values = useProbabilities ? r.probabilities! : r.logits;
      if (values.length !== m * k) throw new InputError('MODEL_OUTPUT', `the model returned ${values.length / m} scores per image but model.json lists ${k} classes`);
      if (!useProbabilities && meta.output.kind === 'logits') values = activate(values, m, k, meta.output.activation);
      out.set(values.subarray(0, m * k), s * k);
      opts.onProgress?.({ stage: 'predict', done: s + m, total: n });
    }
    return out;
  } finally {
    await model.release();
  }
}
