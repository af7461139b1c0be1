/**
 * The ingested dataset cache: images decoded once, preprocessed to a square size, stored as one
 * raw array that training memory-maps-free reads without decoding again.
 *
 * Folder layout (written by `radml ingest`):
 *   dataset.json   DatasetMeta (format, size, count, classes, preprocessing, SHA-256 of images.u16)
 *   index.csv      one row per image: every manifest column (plus DICOM-derived ones) and `cache_index`
 *   images.u16     little-endian uint16, count × size × size, grey value = round(intensity × 65535),
 *                  intensity in [0, 1] after rescale, VOI/window and MONOCHROME1 inversion
 *   masks.u8       optional, count × size × size, 1 inside a ground-truth finding mask (255 = no mask)
 *   summary.json   ingest summary: ingested, skipped [{path, reason}], classes, counts per site/sex/view
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { formatCsv, readCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { readJsonWithSchema } from '../util/json.js';
import { type Manifest, type ManifestOptions, manifestFromTable } from './manifest.js';

export const DATASET_FORMAT = 'radml-dataset';

export const datasetMetaSchema = z.object({
  format: z.literal(DATASET_FORMAT),
  version: z.literal(1),
  imageSize: z.number().int().positive(),
  count: z.number().int().nonnegative(),
  dtype: z.literal('uint16'),
  labelKind: z.enum(['categorical', 'multilabel', 'none']),
  classes: z.array(z.string()),
  /**
   * Categorical: the index.csv column holding the labels (`ingest --label-column`); absent in
   * datasets from before it was recorded, which used `label`.
   */
  labelColumn: z.string().min(1).optional(),
  /** How pixels were prepared before caching (resize mode, intensity handling). */
  preprocessing: z.object({
    resize: z.enum(['pad', 'crop', 'stretch']),
    intensity: z.string(),
  }).passthrough(),
  hasMasks: z.boolean(),
  /** SHA-256 of images.u16, so a model's provenance names exactly the pixels it saw. */
  imagesSha256: z.string(),
  source: z.string(),
  createdAt: z.string(),
});
export type DatasetMeta = z.infer<typeof datasetMetaSchema>;

export interface Dataset {
  dir: string;
  meta: DatasetMeta;
  /** The index as a manifest (paths as in the original manifest, resolved against its folder). */
  manifest: Manifest;
  /** count × size × size grey values (0..65535). */
  pixels: Uint16Array;
  masks?: Uint8Array;
}

export const U16_SCALE = 65535;

/** The i-th image as float32 intensities in [0, 1] (a fresh array, or written into `out`). */
export function imageAt(ds: Pick<Dataset, 'pixels' | 'meta'>, i: number, out?: Float32Array): Float32Array {
  const n = ds.meta.imageSize * ds.meta.imageSize;
  const o = out ?? new Float32Array(n);
  const src = ds.pixels.subarray(i * n, (i + 1) * n);
  for (let k = 0; k < n; k++) o[k] = src[k]! / U16_SCALE;
  return o;
}

export function isDatasetDir(path: string): boolean {
  return existsSync(join(path, 'dataset.json'));
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Read a dataset folder written by `writeDataset`, verifying the pixel file's hash and size. */
export function readDataset(dir: string, opts: { verify?: boolean } = {}): Dataset {
  const metaPath = join(dir, 'dataset.json');
  if (!existsSync(metaPath)) throw new InputError('DATASET_MISSING', `${dir}: not a radml dataset (no dataset.json); create one with \`radml ingest\``, { file: dir });
  const meta = readJsonWithSchema(metaPath, datasetMetaSchema, 'DATASET_CORRUPT');
  const buf = readFileSync(join(dir, 'images.u16'));
  const expected = meta.count * meta.imageSize * meta.imageSize * 2;
  if (buf.byteLength !== expected) throw new InputError('DATASET_CORRUPT', `${join(dir, 'images.u16')}: ${buf.byteLength} bytes, expected ${expected} for ${meta.count} images of ${meta.imageSize}²`, { file: dir });
  if (opts.verify !== false && sha256(buf) !== meta.imagesSha256) throw new InputError('DATASET_CORRUPT', `${join(dir, 'images.u16')}: SHA-256 does not match dataset.json; the cache was altered or half-written`, { file: dir });
  // Copy into an aligned buffer: Buffer's byteOffset may be odd for small files from the pool.
  const pixels = new Uint16Array(meta.count * meta.imageSize * meta.imageSize);
  new Uint8Array(pixels.buffer).set(buf);
  const table = readCsv(join(dir, 'index.csv'));
  const manifest = manifestFromTable(table, join(dir, 'index.csv'), datasetLabelOptions(meta));
  if (manifest.records.length !== meta.count) throw new InputError('DATASET_CORRUPT', `${dir}: index.csv has ${manifest.records.length} rows, dataset.json says ${meta.count}`, { file: dir });
  const ds: Dataset = { dir, meta, manifest, pixels };
  if (meta.hasMasks) {
    const m = readFileSync(join(dir, 'masks.u8'));
    ds.masks = new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
  }
  return ds;
}

/**
 * How the dataset's index.csv is read for labels: what ingest recorded (the label column, or the
 * finding columns), so training uses the labels the dataset was made with.
 *
 * @example datasetLabelOptions(ds.meta) // { labelColumn: 'covid19' }
 */
export function datasetLabelOptions(meta: Pick<DatasetMeta, 'labelKind' | 'classes' | 'labelColumn'>): ManifestOptions {
  if (meta.labelKind === 'multilabel') return { findings: meta.classes };
  if (meta.labelKind === 'categorical') return { labelColumn: meta.labelColumn ?? 'label' };
  return {};
}

export interface DatasetContent {
  meta: Omit<DatasetMeta, 'format' | 'version' | 'imagesSha256' | 'count' | 'createdAt'>;
  header: string[];
  rows: Record<string, string>[];
  pixels: Uint16Array;
  masks?: Uint8Array;
}

/** Write a dataset folder. Each file goes through temp-file-then-rename; dataset.json last, so a crash leaves no valid-looking half dataset. */
export function writeDataset(dir: string, content: DatasetContent): DatasetMeta {
  const bytes = new Uint8Array(content.pixels.buffer, content.pixels.byteOffset, content.pixels.byteLength);
  const meta: DatasetMeta = {
    format: DATASET_FORMAT,
    version: 1,
    ...content.meta,
    count: content.rows.length,
    imagesSha256: sha256(bytes),
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(join(dir, 'images.u16'), bytes);
  if (content.masks) writeFileAtomic(join(dir, 'masks.u8'), content.masks);
  const header = content.header.includes('cache_index') ? content.header : [...content.header, 'cache_index'];
  writeFileAtomic(join(dir, 'index.csv'), formatCsv(header, content.rows.map((r, i) => ({ ...r, cache_index: String(i) }))));
  writeJsonAtomic(join(dir, 'dataset.json'), meta);
  return meta;
}
