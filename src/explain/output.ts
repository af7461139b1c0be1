/**
 * Writing saliency results: PNG overlays (a heat map blended over the grey image, via sharp) and
 * raw float maps as NumPy `.npy` (float32, C order), which numpy, ITK readers and radml all read.
 * Maps computed on the model's square input are mapped back onto the original image's geometry
 * (undoing the pad / crop / stretch of preprocessing).
 */
import sharp from 'sharp';
import type { GreyImage } from '../data/grey-image.js';
import type { ResizeMode } from '../data/preprocess/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { upsampleBilinear } from './saliency.js';

/** NumPy .npy (format 1.0) bytes of a float32 array with the given shape. */
export function npyBytes(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  const le = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(le, total);
  return out;
}

export function writeNpy(path: string, data: Float32Array, shape: number[]): void {
  writeFileAtomic(path, npyBytes(data, shape));
}

/**
 * A square model-input map back on the original image grid: undo `pad` (cut the image region out),
 * `crop` (place the centred square, zero outside) or `stretch` (plain resample).
 */
export function mapToOriginal(map: Float32Array, size: number, width: number, height: number, mode: ResizeMode): Float32Array {
  if (mode === 'stretch') return upsampleBilinear(map, size, size, height, width);
  const long = Math.max(width, height), short = Math.min(width, height);
  if (mode === 'pad') {
    const inner = Math.max(1, Math.round((short * size) / long));
    const off = Math.floor((size - inner) / 2);
    const w = width >= height ? size : inner, h = width >= height ? inner : size;
    const x0 = width >= height ? 0 : off, y0 = width >= height ? off : 0;
    const sub = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) sub[y * w + x] = map[(y0 + y) * size + x0 + x]!;
    return upsampleBilinear(sub, h, w, height, width);
  }
  const sq = upsampleBilinear(map, size, size, short, short);
  const out = new Float32Array(width * height);
  const ox = Math.floor((width - short) / 2), oy = Math.floor((height - short) / 2);
  for (let y = 0; y < short; y++) for (let x = 0; x < short; x++) out[(oy + y) * width + ox + x] = sq[y * short + x]!;
  return out;
}

/** Jet-like colour map of t in [0,1]. */
function colour(t: number): [number, number, number] {
  const r = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 3)));
  const g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 2)));
  const b = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 1)));
  return [r * 255, g * 255, b * 255];
}

/**
 * Heat-map overlay PNG: |map| (or its positive part) scaled by its 99th percentile, blended over the
 * grey image with opacity growing with the value (weak attributions stay transparent).
 *
 * @example await writeOverlayPng('out/overlays/img0_gradcam.png', image, mapOnImageGrid, { signed: 'positive' });
 */
export async function overlayPng(image: GreyImage, map: Float32Array, opts: { signed?: 'positive' | 'absolute'; maxSide?: number } = {}): Promise<Buffer> {
  const { width, height } = image;
  const vals = Float32Array.from(map, (v) => (opts.signed === 'absolute' ? Math.abs(v) : Math.max(0, v)));
  const sorted = Float32Array.from(vals).sort();
  const top = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]! || sorted[sorted.length - 1]! || 1;
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const g = Math.min(1, Math.max(0, image.data[p]!)) * 255;
    const t = Math.min(1, vals[p]! / top);
    const a = 0.6 * Math.sqrt(t);
    const [r, gg, b] = colour(t);
    rgb[p * 3] = Math.round(g * (1 - a) + r * a);
    rgb[p * 3 + 1] = Math.round(g * (1 - a) + gg * a);
    rgb[p * 3 + 2] = Math.round(g * (1 - a) + b * a);
  }
  let pipe = sharp(rgb, { raw: { width, height, channels: 3 } });
  const maxSide = opts.maxSide ?? 1024;
  if (Math.max(width, height) > maxSide) pipe = pipe.resize({ width: width >= height ? maxSide : undefined, height: height > width ? maxSide : undefined });
  return pipe.png().toBuffer();
}

export async function writeOverlayPng(path: string, image: GreyImage, map: Float32Array, opts: { signed?: 'positive' | 'absolute'; maxSide?: number } = {}): Promise<void> {
  writeFileAtomic(path, await overlayPng(image, map, opts));
}
