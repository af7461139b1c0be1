/**
 * What augmentation to apply, as a zod schema with defaults chosen for chest radiographs, and the
 * draw of one sample's random parameters from a seeded Rng.
 *
 * Horizontal flip is OFF by default: chest radiographs have laterality. The heart, aortic knuckle
 * and gastric bubble sit on the patient's left, L/R markers are burnt in, and findings are often
 * lateral (right-sided effusion, left lower lobe collapse). A mirrored film is a different and rare
 * anatomy (situs inversus / dextrocardia) rather than a plausible new patient, so flipping teaches
 * the model to ignore cues that are diagnostic and can corrupt side-specific labels. Enable it only
 * for tasks that are truly symmetric.
 *
 * Rotation, scale and shift are kept small (±10°, ±10 %, ±5 %): real positioning variation on
 * PA/AP films is of that order, and larger warps push anatomy out of the field of view.
 */
import { z } from 'zod';
import { InputError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import type { GeometricParams } from './warp.js';

export const augmentationSpecSchema = z.object({
  /** Rotation uniform in ±rotationDeg degrees. */
  rotationDeg: z.number().min(0).max(180).default(10),
  /** Zoom factor uniform in [1 − scale, 1 + scale]. */
  scale: z.number().min(0).max(0.9).default(0.1),
  /** Shift per axis uniform in ±shift × side. */
  shift: z.number().min(0).max(0.5).default(0.05),
  /** Probability of a left–right mirror. Default 0: see the module header (laterality). */
  horizontalFlip: z.number().min(0).max(1).default(0),
  /** Additive brightness offset uniform in ±brightness. */
  brightness: z.number().min(0).max(1).default(0.1),
  /** Contrast factor about the image mean, uniform in [1 − contrast, 1 + contrast]. */
  contrast: z.number().min(0).max(1).default(0.1),
  /** Gamma exponent log-uniform in [1/(1 + gamma), 1 + gamma]. */
  gamma: z.number().min(0).max(4).default(0.2),
  /** With probability noiseProbability, Gaussian noise of sd uniform in [0, noiseStd]. */
  noiseStd: z.number().min(0).max(1).default(0.02),
  noiseProbability: z.number().min(0).max(1).default(0.5),
  /** With probability blurProbability, Gaussian blur of sigma uniform in [0, blurSigma] pixels. */
  blurSigma: z.number().min(0).max(10).default(0.5),
  blurProbability: z.number().min(0).max(1).default(0.2),
  /** What the warp reads outside the image: black (matches pad-resizing) or the nearest edge. */
  fill: z.enum(['zero', 'edge']).default('zero'),
  /** Clip the result to [0, 1]. */
  clip: z.boolean().default(true),
});

export type AugmentationSpec = z.infer<typeof augmentationSpecSchema>;
export type AugmentationSpecInput = z.input<typeof augmentationSpecSchema>;

/** The chest-radiograph defaults. */
export const DEFAULT_AUGMENTATION: AugmentationSpec = augmentationSpecSchema.parse({});

/** A spec that changes nothing (every strength 0). */
export const NO_AUGMENTATION: AugmentationSpec = augmentationSpecSchema.parse({
  rotationDeg: 0, scale: 0, shift: 0, horizontalFlip: 0, brightness: 0, contrast: 0, gamma: 0,
  noiseStd: 0, noiseProbability: 0, blurSigma: 0, blurProbability: 0,
});

export function parseAugmentationSpec(value: unknown, where = 'augmentation'): AugmentationSpec {
  const r = augmentationSpecSchema.safeParse(value ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError('AUGMENTATION_SPEC', `${where}: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** One sample's random parameters. */
export interface AugmentationParams extends GeometricParams {
  gamma: number;
  contrast: number;
  brightness: number;
  /** 0 = no blur. */
  blurSigma: number;
  /** 0 = no noise. */
  noiseStd: number;
}

/**
 * Draw parameters for one image of side `width` × `height`. Always consumes the same number of
 * draws in the same order, so a spec change in one op does not reshuffle the others.
 */
export function sampleAugmentation(spec: AugmentationSpec, rng: Rng, width: number, height: number): AugmentationParams {
  const u = (lo: number, hi: number) => lo + (hi - lo) * rng.random();
  const rot = u(-1, 1);
  const sc = u(-1, 1);
  const sx = u(-1, 1);
  const sy = u(-1, 1);
  const fl = rng.random();
  const gm = u(-1, 1);
  const ct = u(-1, 1);
  const br = u(-1, 1);
  const blurOn = rng.random();
  const bs = rng.random();
  const noiseOn = rng.random();
  const ns = rng.random();
  const logG = Math.log1p(spec.gamma);
  return {
    rotationDeg: rot * spec.rotationDeg,
    scale: 1 + sc * spec.scale,
    shiftX: sx * spec.shift * width,
    shiftY: sy * spec.shift * height,
    flip: fl < spec.horizontalFlip,
    gamma: Math.exp(gm * logG),
    contrast: 1 + ct * spec.contrast,
    brightness: br * spec.brightness,
    blurSigma: blurOn < spec.blurProbability ? bs * spec.blurSigma : 0,
    noiseStd: noiseOn < spec.noiseProbability ? ns * spec.noiseStd : 0,
  };
}
