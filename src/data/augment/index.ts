/**
 * Seeded on-the-fly augmentation for training: one affine warp (rotation, scale, shift, optional
 * flip) then gamma, contrast, brightness, blur and noise. Identical seed → identical output.
 * Works on display intensities in [0, 1], i.e. before intensity normalisation (gamma is defined
 * on [0, 1] and the result is clipped back to it); the training loop normalises afterwards.
 * Defaults and the reason horizontal flip is off for chest radiographs: see ./spec.ts.
 */
import type { GreyImage } from '../grey-image.js';
import { InputError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { type AugmentationParams, type AugmentationSpec, sampleAugmentation } from './spec.js';
import { addTabulatedGaussianNoise, applyContrastBrightness, applyGamma, clip01, gaussianBlur } from './intensity.js';
import { type FillMode, inverseAffine, isIdentityGeometry, warpAffine } from './warp.js';

export * from './spec.js';
export * from './warp.js';
export { applyGamma, applyContrastBrightness, gaussianBlur, gaussianKernel, addGaussianNoise, addTabulatedGaussianNoise } from './intensity.js';
export { normalQuantile } from '../../util/normal.js';

/** Blur below this sigma changes nothing visible; skipping it keeps the zero-strength spec exact. */
const MIN_BLUR_SIGMA = 0.05;

/**
 * Apply already-drawn parameters (for test-time augmentation or reproducing a sample).
 * Returns a new image; the input is not modified.
 */
export function applyAugmentation(img: GreyImage, p: AugmentationParams, opts: { fill?: FillMode; clip?: boolean; nextUint32?: () => number } = {}): GreyImage {
  const { width: w, height: h } = img;
  let data: Float32Array;
  if (isIdentityGeometry(p)) data = img.data.slice();
  else data = warpAffine(img, inverseAffine(w, h, p), opts.fill ?? 'zero').data;
  if (p.gamma !== 1) applyGamma(data, p.gamma, data);
  if (p.contrast !== 1 || p.brightness !== 0) applyContrastBrightness(data, p.contrast, p.brightness, data);
  if (p.blurSigma >= MIN_BLUR_SIGMA) gaussianBlur(data, w, h, p.blurSigma, data);
  if (p.noiseStd > 0) {
    if (!opts.nextUint32) throw new InputError('AUGMENT_NOISE', 'noise needs a seeded random source (nextUint32)');
    addTabulatedGaussianNoise(data, p.noiseStd, opts.nextUint32, data);
  }
  if (opts.clip ?? true) clip01(data);
  return { width: w, height: h, data };
}

/**
 * Augment one image with parameters drawn from `rng`.
 * @example
 *   const rng = new Rng(42).fork(sampleIndex);
 *   const x = augment(img, DEFAULT_AUGMENTATION, rng);
 */
export function augment(img: GreyImage, spec: AugmentationSpec, rng: Rng): GreyImage {
  if (img.data.length !== img.width * img.height) {
    throw new InputError('AUGMENT_INPUT', `augment: image data has ${img.data.length} values but ${img.width}×${img.height} needs ${img.width * img.height}`);
  }
  const p = sampleAugmentation(spec, rng, img.width, img.height);
  return applyAugmentation(img, p, { fill: spec.fill, clip: spec.clip, nextUint32: () => rng.nextUint32() });
}

/** Augment a square image given as a bare Float32Array (side = √length). */
export function augmentSquare(data: Float32Array, spec: AugmentationSpec, rng: Rng): Float32Array {
  const side = Math.round(Math.sqrt(data.length));
  if (side * side !== data.length) throw new InputError('AUGMENT_INPUT', `augment: ${data.length} values is not a square image`);
  return augment({ width: side, height: side, data }, spec, rng).data;
}
