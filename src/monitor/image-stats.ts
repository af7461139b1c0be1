/**
 * Image statistics the pixel detectors compare: intensity percentiles, contrast, a noise estimate
 * and a sharpness estimate, computed on the model-size grey image (intensities in [0, 1]), so the
 * reference and the stream are measured after the same decoding and resizing.
 */

export const IMAGE_STAT_NAMES = ['intensity_p01', 'intensity_p50', 'intensity_p99', 'intensity_mean', 'contrast', 'noise', 'sharpness'] as const;
export type ImageStatName = (typeof IMAGE_STAT_NAMES)[number];

/**
 * Statistics of one square grey image. Noise is Immerkær's estimate (the mean absolute response of
 * a Laplacian-difference mask that cancels smooth structure, scaled to a Gaussian σ); sharpness is
 * the mean gradient magnitude divided by the contrast, so a global gain does not change it.
 *
 * @example imageStatistics(img.data, 64).noise
 */
export function imageStatistics(img: ArrayLike<number>, size: number): Record<ImageStatName, number> {
  const n = size * size;
  const sorted = Float64Array.from(img as ArrayLike<number>).sort();
  const q = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.round(p * (n - 1))))]!;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += sorted[i]!;
  mean /= n;
  const contrast = q(0.95) - q(0.05);
  let noiseSum = 0, grad = 0, cnt = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const at = (dy: number, dx: number) => img[(y + dy) * size + x + dx]!;
      // Immerkær (1996) mask [1 −2 1; −2 4 −2; 1 −2 1].
      const r = at(-1, -1) - 2 * at(-1, 0) + at(-1, 1) - 2 * at(0, -1) + 4 * at(0, 0) - 2 * at(0, 1) + at(1, -1) - 2 * at(1, 0) + at(1, 1);
      noiseSum += Math.abs(r);
      grad += Math.hypot(at(0, 1) - at(0, -1), at(1, 0) - at(-1, 0)) / 2;
      cnt++;
    }
  }
  const noise = cnt ? Math.sqrt(Math.PI / 2) * noiseSum / (6 * cnt) : 0;
  const sharpness = cnt && contrast > 1e-6 ? grad / cnt / contrast : 0;
  return { intensity_p01: q(0.01), intensity_p50: q(0.5), intensity_p99: q(0.99), intensity_mean: mean, contrast, noise, sharpness };
}
