/** Intensity augmentations on [0, 1] images. Each writes into `out` (may alias the input). */
import { normalQuantileTable16 } from '../../util/normal.js';

const GAMMA_LUT_STEPS = 4096;
let logTable: Float64Array | undefined;

/**
 * x^gamma on values clamped to [0, 1] (gamma > 1 darkens mid-tones, < 1 brightens), through a
 * 4097-point table with linear interpolation: Math.pow per pixel costs ~15× more, and the table's
 * error (< 1e-7 for gamma ≥ 1, < 1e-3 only in the first 1/4096 for gamma < 1) is far below the
 * augmentation's own randomness.
 */
export function applyGamma(src: Float32Array, gamma: number, out: Float32Array): void {
  const n = GAMMA_LUT_STEPS;
  if (!logTable) {
    logTable = new Float64Array(n + 1);
    for (let k = 1; k <= n; k++) logTable[k] = Math.log(k / n);
  }
  // exp(γ·ln x) from a cached log table: Math.pow is ~6× slower here.
  const lut = new Float32Array(n + 2);
  for (let k = 1; k <= n; k++) lut[k] = Math.exp(gamma * logTable[k]!);
  lut[n + 1] = 1;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v <= 0) out[i] = 0;
    else if (v >= 1) out[i] = 1;
    else {
      const t = v * n;
      const k = t | 0;
      const a = lut[k]!;
      out[i] = a + (t - k) * (lut[k + 1]! - a);
    }
  }
}

/** Scale deviations from the image mean by `factor`, then add `offset` (brightness). */
export function applyContrastBrightness(src: Float32Array, factor: number, offset: number, out: Float32Array): void {
  let s = 0;
  for (let i = 0; i < src.length; i++) s += src[i]!;
  const mean = src.length ? s / src.length : 0;
  for (let i = 0; i < src.length; i++) out[i] = (src[i]! - mean) * factor + mean + offset;
}

/** Normalised 1-D Gaussian kernel of radius ceil(3σ). */
export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    s += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  return k;
}

/** Separable Gaussian blur with edge-clamped borders. */
export function gaussianBlur(src: Float32Array, width: number, height: number, sigma: number, out: Float32Array): void {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) >> 1;
  const tmp = new Float32Array(width * height);
  // Horizontal pass on an edge-padded copy of each row, so the inner loop has no bounds checks.
  const padded = new Float32Array(width + 2 * r);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < r; x++) {
      padded[x] = src[row]!;
      padded[r + width + x] = src[row + width - 1]!;
    }
    for (let x = 0; x < width; x++) padded[r + x] = src[row + x]!;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let j = 0; j < k.length; j++) acc += padded[x + j]! * k[j]!;
      tmp[row + x] = acc;
    }
  }
  // Vertical pass: clamped source rows per output row, the sum kept in a register per pixel.
  const taps = k.length;
  const rows = new Int32Array(taps);
  for (let y = 0; y < height; y++) {
    for (let j = 0; j < taps; j++) {
      let yy = y + j - r;
      yy = yy < 0 ? 0 : yy >= height ? height - 1 : yy;
      rows[j] = yy * width;
    }
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let j = 0; j < taps; j++) acc += tmp[rows[j]! + x]! * k[j]!;
      out[row + x] = acc;
    }
  }
}

/** Add sd × (a draw from `normal`) to every pixel. */
export function addGaussianNoise(src: Float32Array, sd: number, normal: () => number, out: Float32Array): void {
  for (let i = 0; i < src.length; i++) out[i] = src[i]! + sd * normal();
}



/**
 * Gaussian noise for a whole image from 16-bit uniform indices into a table of the 65,536 normal
 * quantiles at (k + ½)/65536: one 32-bit draw gives two samples, ~15× faster than Marsaglia per
 * pixel. The samples are a 65,536-level discretisation of N(0, 1), truncated at ±4.3σ — exact
 * enough for augmentation noise, and still fully determined by the seed.
 */
export function addTabulatedGaussianNoise(src: Float32Array, sd: number, nextUint32: () => number, out: Float32Array): void {
  // A local xoshiro128** stream seeded from four draws of the caller's generator: same quality,
  // but inlined here instead of one method call per pair of pixels.
  let s0 = nextUint32() | 0, s1 = nextUint32() | 0, s2 = nextUint32() | 0, s3 = nextUint32() | 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const next = (): number => {
    const r = Math.imul(rotl32(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl32(s3, 11);
    return r >>> 0;
  };
  const table = normalQuantileTable16();
  const len = src.length;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    const u = next();
    out[i] = src[i]! + sd * table[u & 0xffff]!;
    out[i + 1] = src[i + 1]! + sd * table[u >>> 16]!;
  }
  if (i < len) out[i] = src[i]! + sd * table[next() & 0xffff]!;
}

function rotl32(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function clip01(data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    data[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}
