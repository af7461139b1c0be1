/**
 * `radml explain` as a library call: saliency maps for the images of a dataset, written as `.npy`
 * raw maps and PNG overlays, scored against ground-truth masks where the dataset has them
 * (pointing game, top-k% IoU, energy in mask, with the chance levels), plus the parameter
 * randomisation sanity test on a few images.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { readImage } from '../data/image.js';
import { writeCsv } from '../util/csv.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { errorMessage, InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { lastConvLayer } from './graph-split.js';
import { datasetImages, type LoadedModel, modelTargets } from './loaded-model.js';
import { energyInMask, isDegenerateMap, localisationSummary, maskArea, pointingGame, topFractionIoU, type LocalisationSummary } from './metrics.js';
import { mapToOriginal, writeNpy, writeOverlayPng } from './output.js';
import { randomisationTest, type RandomisationResult } from './sanity.js';
import { gradCam, integratedGradients, occlusion, smoothGrad } from './saliency.js';
import type { GradientModel } from './model.js';

export const SALIENCY_METHODS = ['gradcam', 'ig', 'smoothgrad', 'occlusion'] as const;
export type SaliencyMethod = (typeof SALIENCY_METHODS)[number];

export interface ExplainOptions {
  methods?: SaliencyMethod[];
  /** Grad-CAM layer (default: the last conv block). */
  layer?: string;
  /** Integrated-gradients steps (default 50). */
  steps?: number;
  /** SmoothGrad samples (default 25). */
  samples?: number;
  /** Occlusion patch / stride in model pixels (defaults: side/8, patch/2). */
  patch?: number;
  stride?: number;
  /** Which class to explain: the predicted one (default), `present` (the highest-scoring class the
   *  image is labelled positive for, else the predicted one — for localisation against masks) or a class name. */
  target?: string;
  /** At most this many images (seeded sample; images with masks first). Default 50. */
  maxImages?: number;
  /**
   * Which split's images to explain: a split name, or `all`. Default: the evaluation split — `test`
   * when the data have one, else `val`, else every row (see `evaluationImages`).
   */
  split?: string;
  /** Write PNG overlays (default true) and .npy maps (default true). */
  overlays?: boolean;
  rawMaps?: boolean;
  /** Run the randomisation sanity test on this many images (0 = off; default 4). */
  sanityImages?: number;
  batch?: number;
  seed?: number;
  onProgress?: ProgressCallback;
}

export const explainSummarySchema = z.object({
  model: z.string(),
  images: z.number().int(),
  /** The split the images came from ("test", "val", "all rows", …); absent in files from before it was recorded. */
  split: z.string().optional(),
  methods: z.array(z.string()),
  layer: z.string().nullable(),
  localisation: z.record(z.string(), z.unknown()),
  sanity: z.record(z.string(), z.unknown()),
  skipped: z.array(z.object({ method: z.string(), reason: z.string() })),
  files: z.object({ csv: z.string(), maps: z.string().nullable(), overlays: z.string().nullable() }),
});
export type ExplainSummary = {
  model: string;
  images: number;
  split?: string;
  methods: SaliencyMethod[];
  layer: string | null;
  localisation: Partial<Record<SaliencyMethod, LocalisationSummary>>;
  sanity: Partial<Record<SaliencyMethod, Pick<RandomisationResult, 'fullyRandomisedSpearman' | 'passed' | 'threshold'> & { stages: { randomised: string; meanSpearman: number }[] }>>;
  skipped: { method: string; reason: string }[];
  files: { csv: string; maps: string | null; overlays: string | null };
};

/** Ground-truth mask of image i at `size` (nearest neighbour), or null when the image has none. */
export function maskAt(ds: Dataset, i: number, size: number): Uint8Array | null {
  if (!ds.masks) return null;
  const s = ds.meta.imageSize;
  const src = ds.masks.subarray(i * s * s, (i + 1) * s * s);
  if (src[0] === 255) return null;
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    out[y * size + x] = src[Math.min(s - 1, Math.floor(((y + 0.5) * s) / size)) * s + Math.min(s - 1, Math.floor(((x + 0.5) * s) / size))]! > 0 ? 1 : 0;
  }
  return out;
}

function chooseClass(probs: Float32Array, fixed: number | null, positives: Float32Array | null): number {
  if (fixed !== null) return fixed;
  let b = -1;
  if (positives) for (let c = 0; c < probs.length; c++) if (positives[c] === 1 && (b < 0 || probs[c]! > probs[b]!)) b = c;
  if (b >= 0) return b;
  b = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c]! > probs[b]!) b = c;
  return b;
}

/** The rows an evaluation-style step runs on, and how to say which they are. */
export interface SplitChoice {
  indices: number[];
  /** "test", "val", "train", or "all rows". */
  split: string;
  /** Set when the choice needs a caveat (e.g. no split column, so training images may be included). */
  note: string | null;
}

/**
 * The images explain and stress run on. Results reported next to a test-split evaluation must come
 * from the same held-out images, not from the training images the model has memorised: by default
 * `test` when any row has it, else `val`, else every row (with a note). `requested` picks a split by
 * name, or `all`.
 * @example evaluationImages(dataset.manifest.records).split // 'test'
 */
export function evaluationImages(records: readonly { index: number; split?: string | undefined }[], requested?: string, source = 'the data'): SplitChoice {
  const present = new Set(records.map((r) => r.split).filter((v): v is string => v !== undefined));
  const pick = (name: string) => records.filter((r) => r.split === name).map((r) => r.index);
  if (requested !== undefined) {
    const want = requested.trim().toLowerCase();
    if (want === 'all') return { indices: records.map((r) => r.index), split: 'all rows', note: present.has('train') ? 'every row was used, including training images' : null };
    if (!present.has(want)) throw new InputError('SPLIT_INVALID', `--split "${requested}" matches no row of ${source} (splits present: ${[...present].sort().join(', ') || 'none — there is no split column'}; or use all)`);
    return { indices: pick(want), split: want, note: want === 'train' ? 'these are training images: results overstate how the model does on new cases' : null };
  }
  for (const name of ['test', 'val']) if (present.has(name)) return { indices: pick(name), split: name, note: null };
  return {
    indices: records.map((r) => r.index),
    split: 'all rows',
    note: present.size ? `${source} has only ${[...present].join(', ')} rows: every row was used, including training images` : `${source} has no split column: every row was used, which may include training images`,
  };
}

function pickImages(ds: Dataset, candidates: number[], max: number, seed: number, size: number): number[] {
  const all = candidates;
  const withMask = all.filter((i) => { const m = maskAt(ds, i, size); return m !== null && maskArea(m) > 0; });
  const masked = new Set(withMask);
  const rest = all.filter((i) => !masked.has(i));
  const rng = new Rng(seed);
  return [...rng.shuffle(withMask), ...rng.shuffle(rest)].slice(0, max).sort((a, b) => a - b);
}

/**
 * File stem of each image's overlay and map: its study id (made file-safe) when the manifest has one,
 * so `ST00087_gradcam.png` is the overlay of study ST00087; else `row<n>` with n its 1-based manifest
 * row. Studies with several images get `_<row>` appended.
 */
export function overlayIds(ds: Pick<Dataset, 'manifest'>): string[] {
  const recs = ds.manifest.records;
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '_').slice(0, 80);
  const count = new Map<string, number>();
  for (const r of recs) if (r.studyId) count.set(safe(r.studyId), (count.get(safe(r.studyId)) ?? 0) + 1);
  const ids: string[] = [];
  for (const r of recs) {
    const row = `row${String(r.index + 1).padStart(5, '0')}`;
    const base = r.studyId ? safe(r.studyId) : '';
    ids[r.index] = base === '' ? row : (count.get(base) ?? 0) > 1 ? `${base}_${row}` : base;
  }
  return ids;
}

async function mapsFor(method: SaliencyMethod, model: LoadedModel, x: Float32Array, n: number, cls: number[], o: ExplainOptions, g: GradientModel | null): Promise<Float32Array> {
  switch (method) {
    case 'gradcam': return (await gradCam(g!, x, n, cls, { layer: o.layer })).maps;
    case 'ig': return (await integratedGradients(g!, x, n, cls, { steps: o.steps ?? 50, baseline: model.toInput(new Float32Array(model.size * model.size), 1) })).maps;
    case 'smoothgrad': return (await smoothGrad(g!, x, n, cls, { samples: o.samples ?? 25, seed: o.seed })).maps;
    case 'occlusion': return (await occlusion((xx, nn) => model.rawScores(xx, nn), model.inputShape, x, n, cls, { patch: o.patch, stride: o.stride, fill: model.toInput(new Float32Array(1 * model.size * model.size).fill(0), 1)[0] })).maps;
  }
}

/**
 * @example const s = await explainDataset(model, dataset, 'out/explain', { methods: ['gradcam', 'occlusion'] });
 */
export async function explainDataset(model: LoadedModel, ds: Dataset, outDir: string, o: ExplainOptions = {}): Promise<ExplainSummary> {
  const requested = o.methods ?? (model.gradient ? [...SALIENCY_METHODS] : ['occlusion' as const]);
  const skipped: { method: string; reason: string }[] = [];
  const methods = requested.filter((m) => {
    if (m === 'occlusion' || model.gradient) return true;
    skipped.push({ method: m, reason: model.gradientUnavailable ?? 'no gradients' });
    return false;
  });
  if (methods.length === 0) throw new InputError('EXPLAIN_NOTHING', `no saliency method can run on ${model.dir}: ${skipped.map((s) => `${s.method}: ${s.reason}`).join('; ')}`);
  const g = model.gradient;
  const layer = methods.includes('gradcam') ? (o.layer ?? lastConvLayer(g!.graph)) : null;
  const k = model.numClasses;
  let targetClass: number | null = null;
  const present = o.target === 'present' ? modelTargets(ds, model.meta) : null;
  if (o.target !== undefined && !present) {
    targetClass = model.meta.classes.indexOf(o.target);
    if (targetClass < 0) throw new InputError('CLASS_INVALID', `--target "${o.target}" is not one of the model's classes (${model.meta.classes.join(', ')})`);
  }
  const size = model.size, px = size * size;
  const choice = evaluationImages(ds.manifest.records, o.split, ds.meta.source);
  if (choice.indices.length === 0) throw new InputError('EXPLAIN_NO_IMAGES', `${ds.meta.source}: no image in split ${choice.split}`);
  if (choice.note) skipped.push({ method: 'image selection', reason: choice.note });
  // The model's out-of-distribution gate: images it would refuse to score are not explained either.
  const gated = await model.gateRows(ds, choice.indices);
  if (gated.rejected.length) skipped.push({ method: 'image selection', reason: `${gated.rejected.length} of ${choice.indices.length} image(s) were rejected by the model's out-of-distribution gate and not explained` });
  if (gated.accepted.length === 0) throw new InputError('EXPLAIN_NO_IMAGES', `${ds.meta.source}: every image of split ${choice.split} was rejected by the model's out-of-distribution gate`);
  const idx = pickImages(ds, gated.accepted, o.maxImages ?? 50, o.seed ?? 1, size);
  const fileIds = overlayIds(ds);
  const mapsDir = o.rawMaps === false ? null : join(outDir, 'maps');
  const overlayDir = o.overlays === false ? null : join(outDir, 'overlays');
  for (const d of [outDir, mapsDir, overlayDir]) if (d && !existsSync(d)) mkdirSync(d, { recursive: true });
  const batch = Math.max(1, o.batch ?? 8);
  const allMaps: Record<string, Float32Array> = Object.fromEntries(methods.map((m) => [m, new Float32Array(idx.length * px)]));
  const masks = new Uint8Array(idx.length * px);
  const rows: Record<string, string | number>[] = [];
  for (let s0 = 0; s0 < idx.length; s0 += batch) {
    const part = idx.slice(s0, s0 + batch);
    const n = part.length;
    const images = datasetImages(ds, size, part);
    const x = model.toInput(images, n);
    const probs = await model.probabilities(images, n);
    const cls = part.map((i, j) => chooseClass(probs.subarray(j * k, (j + 1) * k), targetClass, present ? present.target.subarray(i * k, (i + 1) * k) : null));
    const perMethod: Record<string, Float32Array> = {};
    for (const m of methods) {
      perMethod[m] = await mapsFor(m, model, x, n, cls, o, g);
      allMaps[m]!.set(perMethod[m]!, s0 * px);
    }
    for (let j = 0; j < n; j++) {
      const i = part[j]!;
      const rec = ds.manifest.records[i]!;
      const id = fileIds[i]!;
      const mask = maskAt(ds, i, size);
      if (mask) masks.set(mask, (s0 + j) * px);
      const row: Record<string, string | number> = { id, study_id: rec.studyId ?? '', split: rec.split ?? '', path: rec.path, class: model.meta.classes[cls[j]!]!, probability: Number(probs[j * k + cls[j]!]!.toFixed(4)), mask_area: mask ? Number(maskArea(mask).toFixed(4)) : '' };
      let original: { width: number; height: number; data: Float32Array } | null = null;
      if (overlayDir) {
        try {
          original = existsSync(rec.absPath) ? (await readImage(rec.absPath)).image : null;
        } catch {
          original = null;
        }
      }
      for (const m of methods) {
        const map = perMethod[m]!.subarray(j * px, (j + 1) * px);
        const flat = isDegenerateMap(map);
        if (flat) row[`${m}_degenerate`] = 1;
        if (mask && maskArea(mask) > 0 && !flat) {
          row[`${m}_pointing_hit`] = pointingGame(map, mask, size) ? 1 : 0;
          row[`${m}_iou_top10`] = Number(topFractionIoU(map, mask, 0.1).toFixed(4));
          row[`${m}_energy_in_mask`] = Number(energyInMask(map, mask).toFixed(4));
        }
        if (mapsDir) writeNpy(join(mapsDir, `${id}_${m}.npy`), Float32Array.from(map), [size, size]);
        if (overlayDir) {
          const signed = m === 'gradcam' || m === 'occlusion' ? 'positive' : 'absolute';
          const base = original ?? { width: size, height: size, data: images.subarray(j * px, (j + 1) * px) };
          const onBase = original ? mapToOriginal(Float32Array.from(map), size, base.width, base.height, model.preprocessing.resize) : Float32Array.from(map);
          await writeOverlayPng(join(overlayDir, `${id}_${m}.png`), base, onBase, { signed });
        }
      }
      rows.push(row);
    }
    o.onProgress?.({ stage: 'explain', done: Math.min(idx.length, s0 + n), total: idx.length });
  }
  const localisation: ExplainSummary['localisation'] = {};
  for (const m of methods) {
    const sum = localisationSummary(allMaps[m]!, masks, size, size, { topFraction: 0.1 });
    if (sum.images > 0 || (sum.degenerate ?? 0) > 0) localisation[m] = sum;
  }
  const sanity: ExplainSummary['sanity'] = {};
  const sn = Math.min(o.sanityImages ?? 4, idx.length);
  if (g && sn > 0) {
    const part = idx.slice(0, sn);
    const images = datasetImages(ds, size, part);
    const x = model.toInput(images, sn);
    const probs = await model.probabilities(images, sn);
    const cls = part.map((i, j) => chooseClass(probs.subarray(j * k, (j + 1) * k), targetClass, present ? present.target.subarray(i * k, (i + 1) * k) : null));
    for (const m of methods.filter((mm) => mm !== 'occlusion')) {
      try {
        const r = await randomisationTest(g.graph, g.params, x, sn, cls, (mod, xx, nn, cc) => mapsFor(m, model, xx, nn, cc, { ...o, steps: Math.min(o.steps ?? 50, 16), samples: Math.min(o.samples ?? 25, 8) }, mod), { cascade: true });
        sanity[m] = { fullyRandomisedSpearman: r.fullyRandomisedSpearman, passed: r.passed, threshold: r.threshold, stages: r.stages.map((s) => ({ randomised: s.randomised.at(-1)!, meanSpearman: s.meanSpearman })) };
      } catch (e) {
        skipped.push({ method: `${m} sanity test`, reason: errorMessage(e) });
      }
    }
  }
  const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const csv = join(outDir, 'saliency.csv');
  writeCsv(csv, header, rows);
  const summary: ExplainSummary = { model: model.dir, images: idx.length, split: choice.split, methods, layer, localisation, sanity, skipped, files: { csv, maps: mapsDir, overlays: overlayDir } };
  writeJsonAtomic(join(outDir, 'explain.json'), summary);
  return summary;
}
