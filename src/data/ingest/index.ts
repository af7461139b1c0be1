/**
 * Ingestion: decode every image of a manifest or folder once, preprocess it to the cache's square
 * size, and keep it as a compact dataset (src/data/dataset.ts) that training reads without decoding
 * again. Bad files are skipped with their reason and the run goes on; the summary lists them.
 * Decoding runs on worker threads (pool.ts; `workers`) for larger inputs, with the same result as on
 * the calling thread (decode.ts is the one per-image step both use).
 *
 * @example
 *   const { dataset, summary } = await ingest('cohort/manifest.csv', { imageSize: 128 });
 *   await ingestToDir('cohort/manifest.csv', 'cohort-ds', { imageSize: 128, onProgress });
 */
import { relative, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { type CsvTable } from '../../util/csv.js';
import { errorMessage, InputError, RadmlError } from '../../util/errors.js';
import { type ProgressCallback } from '../../util/progress.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { type Dataset, type DatasetMeta, isDatasetDir, readDataset, writeDataset } from '../dataset.js';
import { type Manifest, type ManifestOptions, manifestFromTable } from '../manifest.js';
import { availableParallelism } from 'node:os';
import { type ResizeMode } from '../preprocess/resize.js';
import { decodeCacheEntry, type CacheEntryRequest } from './decode.js';
import { IngestPool } from './pool.js';
import { folderSource, isManifestPath, manifestSource, type SourceTable } from './sources.js';
import { summarise, type IngestSummary, type SkippedFile } from './summary.js';

export { mapColumns, folderSource, manifestSource } from './sources.js';
export { summarise, formatSummary, type IngestSummary, type SkippedFile } from './summary.js';

export const DEFAULT_IMAGE_SIZE = 128;

export interface IngestOptions extends ManifestOptions {
  /** Side of the square cached image in pixels. Default 128. */
  imageSize?: number;
  /** How to make images square: pad (keep aspect, default), crop (centre) or stretch. */
  resize?: ResizeMode;
  /** Rename the source CSV's columns to the manifest contract, e.g. { path: 'filename' }. */
  columns?: Record<string, string>;
  /** Folder image paths are relative to (default: the manifest's folder). */
  imageRoot?: string;
  /** Keep raw DICOM PatientIDs instead of salted hashes. */
  keepPatientIds?: boolean;
  salt?: string;
  /** Images decoded at once (sharp decodes on libuv's pool). Default 4. */
  concurrency?: number;
  /**
   * Worker threads decoding images (each initialises the WASM codecs once). Default: one per core
   * (at most 4) when there are at least 32 images, else 0 (decode on the calling thread).
   */
  workers?: number;
  onProgress?: ProgressCallback;
}

export interface IngestResult {
  dataset: Dataset;
  skipped: SkippedFile[];
  summary: IngestSummary;
}

// Columns read from DICOM headers, in the order they are appended to the index.
const HEADER_COLUMN_ORDER = ['sex', 'age', 'view', 'site', 'manufacturer', 'modality', 'body_part', 'study_uid', 'series_uid', 'sop_uid', 'photometric', 'rows', 'columns', 'patient_id', 'study_id'];

function resolveSource(source: string, opts: IngestOptions): SourceTable {
  if (!existsSync(source)) throw new InputError('FILE_UNREADABLE', `${source}: no such file or folder`, { file: source });
  if (isManifestPath(source)) return manifestSource(source, { ...(opts.columns && { columns: opts.columns }), ...(opts.imageRoot && { imageRoot: opts.imageRoot }) });
  if (opts.columns) throw new InputError('CLI_ARGS', `${source}: column mapping applies to a manifest CSV, not a folder`);
  return folderSource(source);
}

function reasonOf(e: unknown, file: string): string {
  const msg = errorMessage(e);
  // Messages start with the file path; the skip list already names the file.
  return msg.startsWith(file + ': ') ? msg.slice(file.length + 2) : msg;
}

/** Decode, preprocess and cache every image of `source` (manifest CSV or folder) in memory. */
export async function ingest(source: string, opts: IngestOptions = {}): Promise<IngestResult> {
  const started = Date.now();
  const size = opts.imageSize ?? DEFAULT_IMAGE_SIZE;
  if (!Number.isInteger(size) || size < 8 || size > 2048) throw new InputError('CLI_ARGS', `image size must be a whole number from 8 to 2048, got ${size}`);
  const mode: ResizeMode = opts.resize ?? 'pad';
  const src = resolveSource(source, opts);
  const manifest = manifestFromTable(src.table, src.file, opts);
  for (const r of manifest.records) r.absPath = resolve(src.root, r.path);

  const n = manifest.records.length;
  const px = size * size;
  const pixels = new Uint16Array(n * px);
  const hasMaskColumn = src.table.header.includes('mask_path');
  const masks = hasMaskColumn ? new Uint8Array(n * px).fill(255) : undefined;
  const ok = new Uint8Array(n);
  const extraColumns: Record<string, string>[] = new Array(n);
  const skipped: SkippedFile[] = [];
  let done = 0;
  let next = 0;
  const report = opts.onProgress ?? (() => {});
  report({ stage: 'decode', done: 0, total: n });

  const workers = opts.workers ?? (n >= 32 ? Math.min(4, availableParallelism()) : 0);
  if (!Number.isInteger(workers) || workers < 0) throw new InputError('CLI_ARGS', `workers must be a whole number ≥ 0, got ${workers}`);
  const pool = workers > 0 ? new IngestPool(workers) : undefined;
  const read = { decodeSize: size, ...(opts.keepPatientIds !== undefined && { keepPatientIds: opts.keepPatientIds }), ...(opts.salt !== undefined && { salt: opts.salt }) };
  const work = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const rec = manifest.records[i]!;
      try {
        const maskPath = rec.columns['mask_path']?.trim();
        const req: CacheEntryRequest = { path: rec.absPath, size, mode, read, ...(masks && maskPath && { maskPath: resolve(src.root, maskPath) }) };
        const entry = pool ? await pool.decode(req) : await decodeCacheEntry(req);
        pixels.set(entry.pixels, i * px);
        if (masks && entry.mask) masks.set(entry.mask, i * px);
        extraColumns[i] = entry.columns;
        ok[i] = 1;
      } catch (e) {
        if (!(e instanceof RadmlError) && !(e instanceof Error)) throw e;
        skipped.push({ path: rec.path, reason: reasonOf(e, rec.absPath) });
      }
      done++;
      report({ stage: 'decode', done, total: n, ...(skipped.length ? { detail: `${skipped.length} skipped` } : {}) });
    }
  };
  try {
    // With workers, keep each one busy plus one image queued behind it.
    await Promise.all(Array.from({ length: pool ? workers * 2 : Math.max(1, opts.concurrency ?? 4) }, work));
  } finally {
    await pool?.close();
  }
  skipped.sort((a, b) => a.path.localeCompare(b.path));

  // Compact to the ingested rows, keeping manifest order; header columns fill blanks only.
  const keep = [...ok.keys()].filter((i) => ok[i]);
  const newCols = new Set<string>();
  for (const i of keep) for (const k of Object.keys(extraColumns[i] ?? {})) if (!src.table.header.includes(k)) newCols.add(k);
  const header = [...src.table.header, ...HEADER_COLUMN_ORDER.filter((c) => newCols.has(c)), ...[...newCols].filter((c) => !HEADER_COLUMN_ORDER.includes(c)).sort()];
  const rows = keep.map((i) => {
    const rec = manifest.records[i]!;
    const row: Record<string, string> = {};
    for (const h of header) row[h] = rec.columns[h] ?? '';
    for (const [k, v] of Object.entries(extraColumns[i] ?? {})) if ((row[k] ?? '').trim() === '') row[k] = v;
    row['path'] = rec.absPath;
    return row;
  });
  const outPixels = keep.length === n ? pixels : new Uint16Array(keep.length * px);
  const outMasks = masks && (keep.length === n ? masks : new Uint8Array(keep.length * px));
  if (keep.length !== n) {
    keep.forEach((i, j) => {
      outPixels.set(pixels.subarray(i * px, (i + 1) * px), j * px);
      if (masks && outMasks) outMasks.set(masks.subarray(i * px, (i + 1) * px), j * px);
    });
  }
  if (keep.length === 0) {
    const first = skipped.slice(0, 5).map((s) => `  ${s.path}: ${s.reason}`).join('\n');
    throw new InputError('INGEST_NOTHING', `${src.file}: no image could be ingested (${skipped.length} skipped):\n${first}${skipped.length > 5 ? '\n  …' : ''}`, { file: src.file });
  }
  const labelOpts: ManifestOptions = manifest.labelKind === 'multilabel' ? { findings: manifest.classes } : manifest.labelKind === 'categorical' ? { labelColumn: manifest.labelColumn ?? 'label' } : {};
  const table: CsvTable = { header, rows, lines: keep.map((i) => manifest.records[i]!.line) };
  const ingested: Manifest = manifestFromTable(table, src.file, labelOpts);
  const meta: DatasetMeta = {
    format: 'radml-dataset',
    version: 1,
    imageSize: size,
    count: keep.length,
    dtype: 'uint16',
    labelKind: ingested.labelKind,
    classes: ingested.classes,
    ...(ingested.labelColumn !== undefined && { labelColumn: ingested.labelColumn }),
    preprocessing: { resize: mode, intensity: 'DICOM: rescale, VOI LUT or window, MONOCHROME1 inverted; raster: grey 0-1' },
    hasMasks: Boolean(outMasks),
    imagesSha256: '',
    source: resolve(source),
    createdAt: new Date().toISOString(),
  };
  const dataset: Dataset = { dir: '', meta, manifest: ingested, pixels: outPixels, ...(outMasks && { masks: outMasks }) };
  const summary = summarise(ingested, skipped, { imageSize: size, source: resolve(source), seconds: (Date.now() - started) / 1000 });
  return { dataset, skipped, summary };
}

/**
 * Ingest and write the dataset folder (dataset.json, index.csv, images.u16, masks.u8, summary.json).
 * Paths in index.csv are made relative to the dataset folder so they still point at the originals.
 */
export async function ingestToDir(source: string, outDir: string, opts: IngestOptions = {}): Promise<IngestResult> {
  const res = await ingest(source, opts);
  const out = resolve(outDir);
  const rows = res.dataset.manifest.records.map((r) => ({ ...r.columns, path: relative(out, r.absPath).split('\\').join('/') }));
  const meta = writeDataset(out, {
    meta: {
      imageSize: res.dataset.meta.imageSize,
      dtype: 'uint16',
      labelKind: res.dataset.meta.labelKind,
      classes: res.dataset.meta.classes,
      ...(res.dataset.meta.labelColumn !== undefined && { labelColumn: res.dataset.meta.labelColumn }),
      preprocessing: res.dataset.meta.preprocessing,
      hasMasks: res.dataset.meta.hasMasks,
      source: res.dataset.meta.source,
    },
    header: res.dataset.manifest.header,
    rows,
    pixels: res.dataset.pixels,
    ...(res.dataset.masks && { masks: res.dataset.masks }),
  });
  writeJsonAtomic(resolve(out, 'summary.json'), res.summary);
  return { ...res, dataset: { ...res.dataset, dir: out, meta } };
}

/**
 * What training and prediction call: a dataset folder is read as is (verified); a manifest or
 * image folder is ingested in memory at `imageSize`.
 */
export async function loadOrIngest(source: string, opts: IngestOptions & { imageSize: number }): Promise<{ dataset: Dataset; skipped: SkippedFile[] }> {
  if (existsSync(source) && isDatasetDir(source)) return { dataset: readDataset(source), skipped: [] };
  const { dataset, skipped } = await ingest(source, opts);
  return { dataset, skipped };
}
