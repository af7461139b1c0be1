/**
 * Dataset helpers for analysing a model (saliency, attacks, OOD): dataset images at the model's
 * size and labels in the model's class order. The model itself is the Predictor (src/predict/),
 * re-exported here as LoadedModel for explain/ and robustness/.
 */
import { type Dataset, U16_SCALE } from '../data/dataset.js';
import { pixelsAtSize } from '../train/trainer.js';
import type { ModelJson } from '../train/model-folder.js';

// The model is held by the one Predictor (src/predict/); explain and robustness use it under the
// name they always had.
export { Predictor as LoadedModel, affineOf, activate, type AffineMap } from '../predict/predictor.js';

/** Grey intensities [indices.length, size²] of dataset images at the model's size. */
export function datasetImages(ds: Dataset, size: number, indices: ArrayLike<number>, pixels = pixelsAtSize(ds, size)): Float32Array {
  const px = size * size;
  const out = new Float32Array(indices.length * px);
  for (let j = 0; j < indices.length; j++) {
    const src = pixels.subarray(indices[j]! * px, (indices[j]! + 1) * px);
    for (let p = 0; p < px; p++) out[j * px + p] = src[p]! / U16_SCALE;
  }
  return out;
}

export interface ModelTargets {
  /** [count, K] 0/1 */
  target: Float32Array;
  /** [count, K] 1 = known */
  mask: Float32Array;
  /** Per image: has a usable label for at least one class. */
  labelled: boolean[];
}

/** Dataset labels in the model's class order (categorical: one-hot; multi-label: 1/0 with blanks and -1 masked). */
export function modelTargets(ds: Dataset, meta: ModelJson): ModelTargets {
  const k = meta.classes.length;
  const n = ds.meta.count;
  const target = new Float32Array(n * k);
  const mask = new Float32Array(n * k);
  const labelled: boolean[] = [];
  ds.manifest.records.forEach((r, i) => {
    let any = false;
    if (meta.labelKind === 'categorical') {
      const c = r.label !== undefined ? meta.classes.indexOf(r.label) : -1;
      if (c >= 0) { target[i * k + c] = 1; mask.fill(1, i * k, (i + 1) * k); any = true; }
    } else {
      meta.classes.forEach((f, c) => {
        const v = r.findings?.[f] ?? (r.columns[f] === '1' ? 1 : r.columns[f] === '0' ? 0 : null);
        if (v === 1 || v === 0) { target[i * k + c] = v; mask[i * k + c] = 1; any = true; }
      });
    }
    labelled.push(any);
  });
  return { target, mask, labelled };
}
