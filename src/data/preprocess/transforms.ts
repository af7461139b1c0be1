/**
 * Intensity and geometry transforms as small pure functions `(img) => img`, composed with
 * `compose(...)` (MONAI style). None mutates its input.
 */
import type { GreyImage } from '../grey-image.js';
import { InputError } from '../../util/errors.js';
import { type ResizeMode, resizeImage } from './resize.js';

export type Transform = (img: GreyImage) => GreyImage;

/**
 * Apply transforms left to right.
 * @example compose(resize(128, 'pad'), percentileClip(0.5, 99.5))(img)
 */
export function compose(...transforms: Transform[]): Transform {
  return (img) => transforms.reduce((acc, t) => t(acc), img);
}

function withData(img: GreyImage, data: Float32Array): GreyImage {
  return { width: img.width, height: img.height, data };
}

/** Smallest and largest finite value. */
export function intensityRange(data: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** Linear rescale so the image spans [0, 1]; a constant image becomes all zeros. */
export function minMax(): Transform {
  return (img) => {
    const { min, max } = intensityRange(img.data);
    const out = new Float32Array(img.data.length);
    const range = max - min;
    if (range > 0 && Number.isFinite(range)) {
      const inv = 1 / range;
      for (let i = 0; i < out.length; i++) out[i] = (img.data[i]! - min) * inv;
    }
    return withData(img, out);
  };
}

/** Mean and population standard deviation (two-pass, float64 accumulation). */
export function meanStd(data: Float32Array): { mean: number; std: number } {
  const n = data.length;
  if (n === 0) return { mean: 0, std: 0 };
  let s = 0;
  for (let i = 0; i < n; i++) s += data[i]!;
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = data[i]! - mean;
    ss += d * d;
  }
  return { mean, std: Math.sqrt(ss / n) };
}

/**
 * (x − mean) / std. Without `stats`, per image; with dataset `{ mean, std }` from
 * `fitIntensityStats`, the same shift and scale for every image. A zero std only subtracts the mean.
 * @example zScore({ mean: 0.48, std: 0.23 })(img)
 */
export function zScore(stats?: { mean: number; std: number }): Transform {
  return (img) => {
    const { mean, std } = stats ?? meanStd(img.data);
    const inv = std > 0 ? 1 / std : 1;
    const out = new Float32Array(img.data.length);
    for (let i = 0; i < out.length; i++) out[i] = (img.data[i]! - mean) * inv;
    return withData(img, out);
  };
}

/** Percentiles (0–100) with linear interpolation between order statistics, as numpy's default. */
export function percentiles(data: Float32Array, ps: readonly number[]): number[] {
  if (data.length === 0) throw new InputError('PERCENTILE_EMPTY', 'percentile of an empty image');
  const sorted = Float32Array.from(data).sort();
  const n = sorted.length;
  return ps.map((p) => {
    const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
  });
}

/**
 * Clip to the image's [lo, hi] percentiles, then rescale that range to [0, 1]. Robust to burnt-in
 * text, markers and collimation edges that would dominate a plain min–max.
 * @example percentileClip(0.5, 99.5)(img)
 */
export function percentileClip(lo: number, hi: number): Transform {
  if (!(lo >= 0 && hi <= 100 && lo < hi)) throw new InputError('PERCENTILE_RANGE', `percentile clip needs 0 ≤ lo < hi ≤ 100, got ${lo}, ${hi}`);
  return (img) => {
    const [a, b] = percentiles(img.data, [lo, hi]) as [number, number];
    const out = new Float32Array(img.data.length);
    const range = b - a;
    if (range > 0) {
      const inv = 1 / range;
      for (let i = 0; i < out.length; i++) {
        const v = (img.data[i]! - a) * inv;
        out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
    return withData(img, out);
  };
}

/**
 * Histogram equalisation of an image in [0, 1] with `bins` bins: each value maps to the cumulative
 * fraction of pixels up to it, interpolated between bin centres (as scikit-image's equalize_hist).
 * The mapping is monotone non-decreasing and flattens the histogram.
 * @example histogramEqualisation(256)(img)
 */
export function histogramEqualisation(bins = 256): Transform {
  if (!Number.isInteger(bins) || bins < 2) throw new InputError('EQUALISE_BINS', `histogram equalisation needs at least 2 bins, got ${bins}`);
  return (img) => {
    const n = img.data.length;
    const hist = new Float64Array(bins);
    for (let i = 0; i < n; i++) {
      const v = img.data[i]!;
      let b = Math.floor((v < 0 ? 0 : v > 1 ? 1 : v) * bins);
      if (b >= bins) b = bins - 1;
      hist[b]! += 1;
    }
    const cdf = new Float64Array(bins);
    let acc = 0;
    for (let b = 0; b < bins; b++) {
      acc += hist[b]!;
      cdf[b] = acc / n;
    }
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = img.data[i]!;
      // Position in units of bins, relative to the first bin centre.
      const t = (v < 0 ? 0 : v > 1 ? 1 : v) * bins - 0.5;
      if (t <= 0) out[i] = cdf[0]!;
      else if (t >= bins - 1) out[i] = cdf[bins - 1]!;
      else {
        const k = Math.floor(t);
        const f = t - k;
        out[i] = cdf[k]! + f * (cdf[k + 1]! - cdf[k]!);
      }
    }
    return withData(img, out);
  };
}

/** Resize to a square (see resizeImage). */
export function resize(size: number, mode: ResizeMode = 'pad'): Transform {
  return (img) => resizeImage(img, size, mode);
}
