/**
 * A tiny trained model for explain/ and robustness/ tests: 16×16 grey images, class "lesion" has a
 * bright 4×4 blob (its ground-truth mask) at a random place, class "normal" has none. Trained in a
 * couple of seconds with the engine's GradientSession; optionally written as a model folder.
 */
import { join } from 'node:path';
import {
  buildArchitecture, compileTrainingGraph, createOptimizer, GradientSession, initParameters, updateRunningStats,
  exportInferenceModel, type ArchSpec, type LayerGraph, type ParamSet,
} from '../../src/engine/index.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { writeModelFolder } from '../../src/train/model-folder.js';
import { writeDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/rng.js';

export const SIZE = 16;
export const PX = SIZE * SIZE;
/** Class indices (sorted class names): 0 = lesion, 1 = normal. */
export const LESION = 0;
export const CLASSES = ['lesion', 'normal'];
export const ARCH: ArchSpec = { kind: 'cnn', width: 8, depth: 2 };

export interface ToyData {
  images: Float32Array; // [n, PX] intensities
  /** Class index: LESION (0) or 1 (normal). */
  labels: Int32Array;
  masks: Uint8Array; // [n, PX]
  n: number;
}

export function toyData(n: number, seed: number): ToyData {
  const rng = new Rng(seed);
  const images = new Float32Array(n * PX);
  const masks = new Uint8Array(n * PX);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < PX; p++) images[i * PX + p] = 0.3 + 0.08 * rng.normal();
    if (labels[i] === LESION) {
      const y0 = rng.int(SIZE - 4), x0 = rng.int(SIZE - 4);
      for (let y = y0; y < y0 + 4; y++) for (let x = x0; x < x0 + 4; x++) { images[i * PX + y * SIZE + x] += 0.35; masks[i * PX + y * SIZE + x] = 1; }
    }
    for (let p = 0; p < PX; p++) images[i * PX + p] = Math.min(1, Math.max(0, images[i * PX + p]!));
  }
  return { images, labels, masks, n };
}

export const MEAN = 0.35;
export const STD = 0.12;

export function toInput(images: Float32Array): Float32Array {
  return images.map((v) => (v - MEAN) / STD);
}

export async function trainToy(seed = 1, steps = 150): Promise<{ graph: LayerGraph; params: ParamSet }> {
  const graph = buildArchitecture(ARCH, { inChannels: 1, imageSize: SIZE, numOutputs: 2 });
  const params = initParameters(graph, seed);
  const s = await GradientSession.create(compileTrainingGraph(graph, { kind: 'softmax_ce' }));
  const opt = createOptimizer({ kind: 'adamw', weightDecay: 1e-4 }, params);
  const data = toyData(1024, seed + 50);
  const rng = new Rng(seed);
  const b = 32;
  for (let step = 0; step < steps; step++) {
    const idx = Array.from({ length: b }, () => rng.int(data.n));
    const x = new Float32Array(b * PX);
    const target = new Float32Array(b * 2);
    idx.forEach((i, j) => { x.set(toInput(data.images.subarray(i * PX, (i + 1) * PX)), j * PX); target[j * 2 + data.labels[i]!] = 1; });
    const out = await s.run(params, { x, target, batch: b, seed: step });
    opt.step(params, out.grads, 0.01);
    updateRunningStats(params, out.batchStats);
  }
  await s.release();
  return { graph, params };
}

/** Writes a radml model folder (model.onnx, checkpoint, model.json with hashes) for the toy model. */
export function writeToyModel(dir: string, graph: LayerGraph, params: ParamSet): void {
  saveCheckpoint(dir, {
    version: 1, configHash: 'toy', epoch: 1, finished: true, bestEpoch: 1, bestScore: null, epochsWithoutImprovement: 0,
    history: [], wallSeconds: 0, params, bestParams: params, optimizer: null,
  });
  writeModelFolder(dir, exportInferenceModel(graph, params, { outputs: 'logits+probabilities', activation: 'softmax' }), {
    format: 'radml-model', version: 1, origin: 'trained', labelKind: 'categorical', classes: CLASSES, positiveClass: 'lesion',
    input: { name: 'input', channels: 1, size: SIZE },
    output: { name: 'probabilities', kind: 'probabilities', activation: 'softmax' },
    preprocessing: { size: SIZE, resize: 'stretch', normalise: 'zscore', equalise: false, mean: MEAN, std: STD },
    architecture: { ...ARCH }, training: null, validation: null,
  }, [join('checkpoint', 'checkpoint.bin')]);
}

/** The toy data as a dataset folder. */
export function writeToyDataset(dir: string, d: ToyData, split?: (i: number) => string): void {
  const u16 = new Uint16Array(d.n * PX);
  for (let i = 0; i < u16.length; i++) u16[i] = Math.round(d.images[i]! * 65535);
  const rows = Array.from({ length: d.n }, (_, i) => ({
    path: `img${i}.png`, label: CLASSES[d.labels[i]!]!, split: split ? split(i) : '', modality: 'CR', photometric: 'MONOCHROME2', view: 'PA', cache_index: String(i),
  }));
  writeDataset(dir, {
    meta: {
      imageSize: SIZE, dtype: 'uint16', labelKind: 'categorical', classes: ['lesion', 'normal'], preprocessing: { resize: 'stretch', intensity: 'toy' },
      hasMasks: true, source: 'toy',
    },
    header: ['path', 'label', 'split', 'modality', 'photometric', 'view', 'cache_index'], rows, pixels: u16, masks: d.masks,
  });
}
