/**
 * Resizing to the model's square input. Downsampling averages over each output pixel's footprint
 * (area / box filter with fractional edge weights, like PIL BOX or OpenCV INTER_AREA) so thin
 * structures and noise are integrated rather than aliased; upsampling is bilinear on pixel
 * centres (half-pixel convention, edge-clamped, as PIL/OpenCV/ONNX `half_pixel`).
 * Both are separable, so one pass per axis through precomputed tap tables.
 */
import type { GreyImage } from '../grey-image.js';
import { InputError } from '../../util/errors.js';

export type ResizeMode = 'pad' | 'crop' | 'stretch';

/** Per-output-pixel taps along one axis: source `start`, `count` taps, weights in `weights[i*maxTaps + k]`. */
interface AxisTaps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  maxTaps: number;
}

const tapCache = new Map<string, AxisTaps>();

/** Tap table for resampling `src` samples to `dst` samples (area average down, bilinear up). */
function axisTaps(src: number, dst: number): AxisTaps {
  const key = `${src}>${dst}`;
  const hit = tapCache.get(key);
  if (hit) return hit;
  const scale = src / dst;
  let taps: AxisTaps;
  if (dst < src) {
    const maxTaps = Math.ceil(scale) + 1;
    const start = new Int32Array(dst);
    const count = new Int32Array(dst);
    const weights = new Float32Array(dst * maxTaps);
    for (let i = 0; i < dst; i++) {
      const a = i * scale;
      const b = Math.min(src, (i + 1) * scale);
      const j0 = Math.floor(a);
      const j1 = Math.min(src, Math.ceil(b));
      let n = 0;
      let first = -1;
      for (let j = j0; j < j1; j++) {
        const w = Math.min(b, j + 1) - Math.max(a, j);
        if (w <= 1e-9) continue;
        if (first < 0) first = j;
        // Weights are contiguous from `first`: a zero weight can only occur at the ends.
        weights[i * maxTaps + (j - first)] = w / scale;
        n = j - first + 1;
      }
      start[i] = first;
      count[i] = n;
    }
    taps = { start, count, weights, maxTaps };
  } else {
    const maxTaps = 2;
    const start = new Int32Array(dst);
    const count = new Int32Array(dst);
    const weights = new Float32Array(dst * maxTaps);
    for (let i = 0; i < dst; i++) {
      let x = (i + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      if (x > src - 1) x = src - 1;
      const j0 = Math.floor(x);
      const f = x - j0;
      start[i] = j0;
      if (f > 0 && j0 + 1 < src) {
        count[i] = 2;
        weights[i * 2] = 1 - f;
        weights[i * 2 + 1] = f;
      } else {
        count[i] = 1;
        weights[i * 2] = 1;
      }
    }
    taps = { start, count, weights, maxTaps };
  }
  if (tapCache.size > 256) tapCache.clear();
  tapCache.set(key, taps);
  return taps;
}

/**
 * Resample a rectangular region of `img` (x0, y0, w, h) to outW × outH, writing into `out`
 * at (ox, oy) with row stride `outStride`.
 */
function resampleRegion(
  img: GreyImage, x0: number, y0: number, w: number, h: number,
  outW: number, outH: number, out: Float32Array, outStride: number, ox: number, oy: number,
): void {
  const src = img.data;
  const sw = img.width;
  const tx = axisTaps(w, outW);
  const ty = axisTaps(h, outH);
  // Horizontal pass over the rows the region covers, into a h × outW buffer.
  const tmp = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    const row = (y0 + y) * sw + x0;
    const trow = y * outW;
    for (let i = 0; i < outW; i++) {
      const s = row + tx.start[i]!;
      const n = tx.count[i]!;
      const wo = i * tx.maxTaps;
      let acc = 0;
      for (let k = 0; k < n; k++) acc += src[s + k]! * tx.weights[wo + k]!;
      tmp[trow + i] = acc;
    }
  }
  // Vertical pass: accumulate whole rows (cache-friendly).
  for (let j = 0; j < outH; j++) {
    const s = ty.start[j]!;
    const n = ty.count[j]!;
    const wo = j * ty.maxTaps;
    const orow = (oy + j) * outStride + ox;
    for (let i = 0; i < outW; i++) out[orow + i] = 0;
    for (let k = 0; k < n; k++) {
      const wk = ty.weights[wo + k]!;
      const trow = (s + k) * outW;
      for (let i = 0; i < outW; i++) out[orow + i] += tmp[trow + i]! * wk;
    }
  }
}

function checkImage(img: GreyImage, size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new InputError('RESIZE_SIZE', `resize: size must be a positive whole number, got ${size}`);
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new InputError('RESIZE_INPUT', `resize: image must be at least 1×1, got ${img.width}×${img.height}`);
  }
  if (img.data.length !== img.width * img.height) {
    throw new InputError('RESIZE_INPUT', `resize: image data has ${img.data.length} values but ${img.width}×${img.height} needs ${img.width * img.height}`);
  }
}

/** Resample to an arbitrary width × height (no aspect handling). */
export function resampleImage(img: GreyImage, width: number, height: number): GreyImage {
  checkImage(img, Math.min(width, height));
  const data = new Float32Array(width * height);
  resampleRegion(img, 0, 0, img.width, img.height, width, height, data, width, 0, 0);
  return { width, height, data };
}

/**
 * Resize to a `size` × `size` square.
 * - `stretch`: each axis resampled independently (aspect ratio changes).
 * - `pad`: the long side becomes `size`, the short side round(short × size / long); the result is
 *   centred (offset floor(margin / 2)) on black (0).
 * - `crop`: the centred square of side min(width, height) (offset floor((long − short) / 2)) is
 *   cut out, then resampled to `size`.
 *
 * @example
 *   const x = resizeImage({ width: 1024, height: 800, data }, 256, 'pad'); // 256×256, black bars top/bottom
 */
export function resizeImage(img: GreyImage, size: number, mode: ResizeMode): GreyImage {
  checkImage(img, size);
  const { width: w, height: h } = img;
  const data = new Float32Array(size * size);
  switch (mode) {
    case 'stretch':
      resampleRegion(img, 0, 0, w, h, size, size, data, size, 0, 0);
      break;
    case 'pad': {
      const long = Math.max(w, h);
      const nw = w === long ? size : Math.max(1, Math.round((w * size) / long));
      const nh = h === long ? size : Math.max(1, Math.round((h * size) / long));
      resampleRegion(img, 0, 0, w, h, nw, nh, data, size, (size - nw) >> 1, (size - nh) >> 1);
      break;
    }
    case 'crop': {
      const side = Math.min(w, h);
      resampleRegion(img, (w - side) >> 1, (h - side) >> 1, side, side, size, size, data, size, 0, 0);
      break;
    }
    default:
      throw new InputError('RESIZE_MODE', `resize: mode must be pad, crop or stretch, got "${String(mode)}"`);
  }
  return { width: size, height: size, data };
}
