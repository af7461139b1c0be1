/**
 * The serialisable preprocessing a model was trained with. Stored in model.json so prediction
 * applies exactly what training did: resize → (histogram equalisation) → intensity normalisation.
 */
import { z } from 'zod';
import type { GreyImage } from '../grey-image.js';
import { InputError } from '../../util/errors.js';
import type { ProgressCallback } from '../../util/progress.js';
import { type Transform, compose, histogramEqualisation, meanStd, minMax, percentileClip, resize, zScore } from './transforms.js';

export const DEFAULT_PERCENTILES: [number, number] = [0.5, 99.5];
export const EQUALISE_BINS = 256;

export const preprocessingSpecSchema = z
  .object({
    /** Side of the square model input, in pixels. */
    size: z.number().int().min(1).max(8192),
    resize: z.enum(['pad', 'crop', 'stretch']).default('pad'),
    normalise: z.enum(['none', 'minmax', 'zscore', 'percentile']).default('minmax'),
    /** [lo, hi] in percent, for `percentile`. Default [0.5, 99.5]. */
    percentiles: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).optional()
      .refine((p) => p === undefined || p[0] < p[1], 'percentiles must be [lo, hi] with lo < hi'),
    equalise: z.boolean().default(false),
    /** Dataset mean and std for `zscore` (from fitIntensityStats); absent means per image. */
    mean: z.number().optional(),
    std: z.number().positive().optional(),
  })
  .refine((s) => (s.mean === undefined) === (s.std === undefined), 'mean and std go together');

export type PreprocessingSpec = z.infer<typeof preprocessingSpecSchema>;
export type PreprocessingSpecInput = z.input<typeof preprocessingSpecSchema>;

/** Validate (and fill defaults of) a spec, e.g. one read from model.json. */
export function parsePreprocessingSpec(value: unknown, where = 'preprocessing'): PreprocessingSpec {
  const r = preprocessingSpecSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError('PREPROCESSING_SPEC', `${where}: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** The geometric and equalisation stages, i.e. everything before intensity normalisation. */
function prenormalise(spec: PreprocessingSpec): Transform[] {
  const ts: Transform[] = [resize(spec.size, spec.resize)];
  if (spec.equalise) ts.push(histogramEqualisation(EQUALISE_BINS));
  return ts;
}

function normaliser(spec: PreprocessingSpec): Transform | undefined {
  switch (spec.normalise) {
    case 'none': return undefined;
    case 'minmax': return minMax();
    case 'zscore': return zScore(spec.mean !== undefined && spec.std !== undefined ? { mean: spec.mean, std: spec.std } : undefined);
    case 'percentile': {
      const [lo, hi] = spec.percentiles ?? DEFAULT_PERCENTILES;
      return percentileClip(lo, hi);
    }
  }
}

/** The spec as one composed transform. */
export function preprocessingTransform(spec: PreprocessingSpec): Transform {
  const n = normaliser(spec);
  return compose(...prenormalise(spec), ...(n ? [n] : []));
}

/**
 * Turn a decoded image into the model's input: size × size float32, row-major (one channel of NCHW).
 * @example const x = applyPreprocessing({ size: 128, resize: 'pad', normalise: 'zscore', equalise: false, mean: 0.5, std: 0.25 }, img);
 */
export function applyPreprocessing(spec: PreprocessingSpec, img: GreyImage): Float32Array {
  return preprocessingTransform(spec)(img).data;
}

/**
 * Dataset-level mean and (population) std of the pixels after resize and equalisation, for
 * `zscore` with fixed statistics. Sums in float64 per image then combines (Chan et al.), so a large
 * dataset does not lose precision.
 * @example const spec2 = { ...spec, ...fitIntensityStats(spec, images) };
 */
export function fitIntensityStats(
  spec: PreprocessingSpec,
  images: Iterable<GreyImage>,
  onProgress?: ProgressCallback,
  total = 0,
): { mean: number; std: number } {
  const pre = compose(...prenormalise(spec));
  let count = 0;
  let mean = 0;
  let m2 = 0;
  let done = 0;
  for (const img of images) {
    const d = pre(img).data;
    const n = d.length;
    if (n === 0) continue;
    const { mean: mb, std: sb } = meanStd(d);
    const ss = sb * sb * n;
    const tot = count + n;
    const delta = mb - mean;
    mean += (delta * n) / tot;
    m2 += ss + (delta * delta * count * n) / tot;
    count = tot;
    done++;
    onProgress?.({ stage: 'intensity statistics', done, total: Math.max(total, done) });
  }
  if (count === 0) throw new InputError('STATS_EMPTY', 'cannot fit intensity statistics on no images');
  const std = Math.sqrt(m2 / count);
  // A constant dataset has std 0, which zscore cannot divide by; 1 keeps the spec valid (shift only).
  return { mean, std: std > 0 ? std : 1 };
}

/**
 * A `zscore` spec with dataset statistics filled in (other specs come back unchanged).
 * @example const fitted = fitPreprocessing(parsePreprocessingSpec({ size: 128, normalise: 'zscore' }), trainImages);
 */
export function fitPreprocessing(spec: PreprocessingSpec, images: Iterable<GreyImage>, onProgress?: ProgressCallback, total = 0): PreprocessingSpec {
  if (spec.normalise !== 'zscore') return spec;
  return { ...spec, ...fitIntensityStats(spec, images, onProgress, total) };
}
