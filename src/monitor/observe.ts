/**
 * Observations from a model and images: scores, penultimate embeddings, the OOD gate's decision
 * (when the model folder has one), image statistics and header features — the same for the
 * reference and for the stream, so both are measured alike.
 */
import { existsSync, openSync, readSync, closeSync, readFileSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import { hasDicomPreamble } from '../data/dicom/parse.js';
import { datasetImages, modelTargets, type LoadedModel } from '../explain/loaded-model.js';
import { decide, oodScores, type OodDetector } from '../robustness/ood-detector.js';
import { checkHeader, fieldsFromColumns } from '../robustness/header-checks.js';
import { pixelsAtSize } from '../train/trainer.js';
import { errorMessage } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { headerFeaturesFromColumns, headerFeaturesFromDicom, type HeaderFeatures } from './headers.js';
import { imageStatistics } from './image-stats.js';
import type { Observation } from './observation.js';

export interface ObserveOptions {
  ood?: OodDetector | null;
  batch?: number;
  onProgress?: ProgressCallback;
}

/**
 * Observations of `n` grey images [n, size²] at the model's size, with their header features and labels.
 * @example const obs = await observeImages(model, images, n, headers, labels);
 */
export async function observeImages(model: LoadedModel, images: Float32Array, n: number, headers: HeaderFeatures[], labels: (Observation['labels'])[], o: ObserveOptions = {}): Promise<Observation[]> {
  const px = model.size * model.size, K = model.numClasses;
  const batch = o.batch ?? 64;
  const out: Observation[] = [];
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const img = images.subarray(s * px, (s + m) * px);
    const probs = await model.probabilities(img, m);
    let feats: { features: Float32Array; dim: number } | null = null;
    let rejected: boolean[] | null = null;
    if (o.ood) {
      const sc = await oodScores(model, o.ood, img, m);
      if (sc.features) feats = { features: sc.features, dim: sc.features.length / m };
      rejected = Array.from({ length: m }, (_, i) => {
        const h = headers[s + i]!;
        const hr = o.ood!.headerProfile ? checkHeader(fieldsFromColumns({ modality: h.categorical['modality'], body_part: h.categorical['body_part'], view: h.categorical['view'], photometric: h.categorical['photometric'], bits_stored: h.categorical['bits_stored'] }), o.ood!.headerProfile) : [];
        return !decide(o.ood!, sc, i, hr).accepted;
      });
    }
    if (!feats && model.gradient) feats = await model.gradient.features(model.toInput(img, m), m);
    for (let i = 0; i < m; i++) {
      const stats = imageStatistics(img.subarray(i * px, (i + 1) * px), model.size);
      const h = headers[s + i]!;
      const cols = h.numeric['columns'], rows = h.numeric['rows'];
      out.push({
        categorical: { ...h.categorical },
        numeric: { ...h.numeric, ...stats, aspect: cols && rows ? cols / rows : null },
        scores: Array.from(probs.subarray(i * K, (i + 1) * K)),
        embedding: feats ? Array.from(feats.features.subarray(i * feats.dim, (i + 1) * feats.dim)) : null,
        oodRejected: rejected ? rejected[i]! : null,
        labels: labels[s + i] ?? null,
      });
    }
    o.onProgress?.({ stage: 'observe', done: s + m, total: n });
  }
  return out;
}

function readHead(path: string): Uint8Array | null {
  try {
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(132);
    readSync(fd, b, 0, 132, 0);
    closeSync(fd);
    return b;
  } catch { return null; }
}

/** Header features of every dataset record: from the DICOM file when it is still there, else from the index columns. */
export function datasetHeaders(ds: Dataset, skipped?: { path: string; reason: string }[]): HeaderFeatures[] {
  return ds.manifest.records.map((r) => {
    const p = r.absPath;
    if (p && existsSync(p)) {
      const head = readHead(p);
      if (head && hasDicomPreamble(head)) {
        try { return headerFeaturesFromDicom(readFileSync(p), p); } catch (e) { skipped?.push({ path: r.path, reason: `header not read: ${errorMessage(e)}` }); }
      }
    }
    return headerFeaturesFromColumns(r.columns);
  });
}

/** Labels per record in the model's class order (null when the record has none). */
export function datasetLabels(ds: Dataset, model: LoadedModel): Observation['labels'][] {
  const t = modelTargets(ds, model.meta);
  const K = model.numClasses;
  return ds.manifest.records.map((_, i) => (t.labelled[i] ? Array.from({ length: K }, (_, c) => (t.mask[i * K + c] ? (t.target[i * K + c]! >= 0.5 ? 1 : 0) : null)) : null));
}

/**
 * Observations of dataset rows (all, or `indices` in that order).
 * @example const obs = await observeDataset(model, ds, { ood: loadOodDetector(dir) });
 */
export async function observeDataset(model: LoadedModel, ds: Dataset, o: ObserveOptions & { indices?: number[] } = {}): Promise<Observation[]> {
  const idx = o.indices ?? ds.manifest.records.map((r) => r.index);
  const pixels = pixelsAtSize(ds, model.size);
  const headers = datasetHeaders(ds);
  const labels = datasetLabels(ds, model);
  const out: Observation[] = [];
  const chunk = 512;
  for (let s = 0; s < idx.length; s += chunk) {
    const part = idx.slice(s, s + chunk);
    const images = datasetImages(ds, model.size, part, pixels);
    const obs = await observeImages(model, images, part.length, part.map((i) => headers[i]!), part.map((i) => labels[i]!), { ...o, onProgress: undefined });
    out.push(...obs);
    o.onProgress?.({ stage: 'observe', done: Math.min(idx.length, s + chunk), total: idx.length });
  }
  return out;
}
