/**
 * One image → one cache entry: decode (PNG/JPEG/TIFF/DICOM), make square at the cache size and
 * quantise to uint16; the same code runs in-process and in the ingest worker threads (pool.ts).
 */
import { U16_SCALE } from '../dataset.js';
import { readImage, type ReadImageOptions } from '../image.js';
import { resizeImage, type ResizeMode } from '../preprocess/resize.js';

export interface CacheEntryRequest {
  /** Absolute path of the image. */
  path: string;
  /** Absolute path of its mask image, when the manifest has one. */
  maskPath?: string;
  size: number;
  mode: ResizeMode;
  read: ReadImageOptions;
}

export interface CacheEntry {
  /** size × size, 0..U16_SCALE. */
  pixels: Uint16Array;
  /** size × size, 0/1, when a mask was given. */
  mask?: Uint8Array;
  /** Manifest columns read from the file's header (DICOM). */
  columns: Record<string, string>;
}

/**
 * Decode, resize and quantise one image (and its mask). Throws the reader's typed errors.
 *
 * @example const e = await decodeCacheEntry({ path: '/data/a.dcm', size: 128, mode: 'pad', read: { decodeSize: 128 } });
 */
export async function decodeCacheEntry(req: CacheEntryRequest): Promise<CacheEntry> {
  const { image, columns } = await readImage(req.path, req.read);
  const sq = resizeImage(image, req.size, req.mode);
  const px = req.size * req.size;
  const pixels = new Uint16Array(px);
  for (let k = 0; k < px; k++) {
    const v = sq.data[k]!;
    pixels[k] = v <= 0 ? 0 : v >= 1 ? U16_SCALE : Math.round(v * U16_SCALE);
  }
  const out: CacheEntry = { pixels, columns };
  if (req.maskPath) {
    const m = await readImage(req.maskPath);
    const msq = resizeImage(m.image, req.size, req.mode);
    const mask = new Uint8Array(px);
    for (let k = 0; k < px; k++) mask[k] = msq.data[k]! >= 0.5 ? 1 : 0;
    out.mask = mask;
  }
  return out;
}
