/**
 * Turning cached dataset pixels into model input: optional seeded augmentation, then the model's
 * intensity normalisation. Shared by the main thread (validation, prediction) and the gradient
 * workers (training shards), so both see exactly the same transform.
 */
import { augment, type AugmentationSpec } from '../data/augment/index.js';
import { U16_SCALE } from '../data/dataset.js';
import { applyPreprocessing, type PreprocessingSpec } from '../data/preprocess/index.js';
import { Rng } from '../util/rng.js';

export interface InputPipeline {
  /** Side of the square cached images (= model input size). */
  size: number;
  /** How cached [0,1] intensities become model input (everything after resizing). */
  preprocessing: PreprocessingSpec;
  /** Training-time augmentation, or null. */
  augmentation: AugmentationSpec | null;
  /** Model input channels; grey is replicated (imported RGB models). Default 1. */
  channels?: number;
}

/**
 * The normalisation as an affine map when it is one (z-score with fixed dataset statistics, or none),
 * so the hot path is a single multiply-add per pixel; undefined when it needs the full transform.
 */
function affineOf(spec: PreprocessingSpec): { scale: number; offset: number } | undefined {
  if (spec.equalise) return undefined;
  if (spec.normalise === 'none') return { scale: 1, offset: 0 };
  if (spec.normalise === 'zscore' && spec.mean !== undefined && spec.std !== undefined) return { scale: 1 / spec.std, offset: -spec.mean / spec.std };
  return undefined;
}

/** A per-example seed that does not depend on how the batch is split across workers. */
export function exampleSeed(stepSeed: number, position: number): number {
  return (Math.imul(stepSeed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(position + 1, 0x85ebca6b)) >>> 0;
}

/**
 * Write example `index` of `pixels` (count × size × size uint16) into `out` (channels × size × size floats).
 * With `seed` and an augmentation spec, the example is augmented first with Rng(seed).
 */
export function prepareExample(pipe: InputPipeline, pixels: Uint16Array, index: number, out: Float32Array, seed?: number): void {
  const n = pipe.size * pipe.size;
  const src = pixels.subarray(index * n, (index + 1) * n);
  let img: Float32Array = new Float32Array(n);
  for (let k = 0; k < n; k++) img[k] = src[k]! / U16_SCALE;
  if (seed !== undefined && pipe.augmentation) img = augment({ width: pipe.size, height: pipe.size, data: img }, pipe.augmentation, new Rng(seed)).data;
  const affine = affineOf(pipe.preprocessing);
  if (affine) {
    for (let k = 0; k < n; k++) out[k] = img[k]! * affine.scale + affine.offset;
  } else {
    out.set(applyPreprocessing({ ...pipe.preprocessing, size: pipe.size }, { width: pipe.size, height: pipe.size, data: img }));
  }
  for (let c = 1; c < (pipe.channels ?? 1); c++) out.copyWithin(c * n, 0, n);
}

/**
 * Fill `x` ([indices.length, channels, size, size]) for a list of examples. `stepSeed` enables augmentation;
 * `firstPosition` is the position of indices[0] in the whole batch (keeps seeds shard-independent).
 */
export function prepareBatch(pipe: InputPipeline, pixels: Uint16Array, indices: ArrayLike<number>, x: Float32Array, stepSeed?: number, firstPosition = 0): void {
  const n = pipe.size * pipe.size * (pipe.channels ?? 1);
  for (let i = 0; i < indices.length; i++) {
    const seed = stepSeed === undefined ? undefined : exampleSeed(stepSeed, firstPosition + i);
    prepareExample(pipe, pixels, indices[i]!, x.subarray(i * n, (i + 1) * n), seed);
  }
}
