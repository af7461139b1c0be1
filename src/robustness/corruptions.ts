/**
 * Natural corruptions at five graded severities, for robustness curves: what ordinary acquisition
 * and transmission do to an image (noise, blur, contrast and gamma changes, JPEG compression,
 * down-sampling, small rotations). Images are GreyImage intensities in [0,1]; output is clipped
 * to [0,1]. Geometric/blur parameters scale with the image side, so severities mean the same at
 * any input size.
 */
import sharp from 'sharp';
import { addGaussianNoise, applyContrastBrightness, applyGamma, gaussianBlur, inverseAffine, warpAffine } from '../data/augment/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { resampleImage } from '../data/preprocess/index.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export const CORRUPTIONS = ['gaussian_noise', 'blur', 'contrast', 'gamma', 'jpeg', 'downsample', 'rotation'] as const;
export type Corruption = (typeof CORRUPTIONS)[number];
export const SEVERITIES = [1, 2, 3, 4, 5] as const;

/** The parameter of each corruption at severities 1..5 (units in `CORRUPTION_UNITS`). */
export const CORRUPTION_LEVELS: Record<Corruption, readonly number[]> = {
  gaussian_noise: [0.01, 0.02, 0.04, 0.07, 0.1],
  blur: [0.004, 0.008, 0.012, 0.018, 0.025],
  contrast: [0.8, 0.65, 0.5, 0.35, 0.2],
  gamma: [1.25, 1.5, 1.75, 2.0, 2.5],
  jpeg: [80, 60, 40, 25, 10],
  downsample: [1.5, 2, 3, 4, 6],
  rotation: [2, 4, 6, 8, 10],
};
export const CORRUPTION_UNITS: Record<Corruption, string> = {
  gaussian_noise: 'noise sd (intensity)',
  blur: 'Gaussian sigma (fraction of image side)',
  contrast: 'contrast factor',
  gamma: 'gamma exponent',
  jpeg: 'JPEG quality',
  downsample: 'down-sampling factor',
  rotation: 'rotation (degrees)',
};

function clip(d: Float32Array): Float32Array {
  for (let i = 0; i < d.length; i++) d[i] = d[i]! < 0 ? 0 : d[i]! > 1 ? 1 : d[i]!;
  return d;
}

async function jpeg(img: GreyImage, quality: number): Promise<Float32Array> {
  const u8 = Buffer.alloc(img.data.length);
  for (let i = 0; i < u8.length; i++) u8[i] = Math.round(Math.min(1, Math.max(0, img.data[i]!)) * 255);
  const enc = await sharp(u8, { raw: { width: img.width, height: img.height, channels: 1 } }).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
  const { data, info } = await sharp(enc).greyscale().raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels]! / 255;
  return out;
}

/**
 * One corrupted copy of `img`. `seed` drives the noise (the other corruptions are deterministic).
 *
 * @example const noisy = await corrupt(img, 'gaussian_noise', 3, 1);
 */
export async function corrupt(img: GreyImage, kind: Corruption, severity: number, seed = 1): Promise<GreyImage> {
  const levels = CORRUPTION_LEVELS[kind];
  if (!levels) throw new InputError('CORRUPTION_UNKNOWN', `unknown corruption "${kind}" (one of ${CORRUPTIONS.join(', ')})`);
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) throw new InputError('SEVERITY_INVALID', `severity must be 1..5, got ${severity}`);
  const v = levels[severity - 1]!;
  const { width, height } = img;
  const out = new Float32Array(img.data.length);
  const side = Math.max(width, height);
  switch (kind) {
    case 'gaussian_noise': {
      const rng = new Rng(seed);
      addGaussianNoise(img.data, v, () => rng.normal(), out);
      break;
    }
    case 'blur':
      gaussianBlur(img.data, width, height, v * side, out);
      break;
    case 'contrast':
      applyContrastBrightness(img.data, v, 0, out);
      break;
    case 'gamma':
      applyGamma(img.data, v, out);
      break;
    case 'jpeg':
      out.set(await jpeg(img, v));
      break;
    case 'downsample': {
      const small = resampleImage(img, Math.max(1, Math.round(width / v)), Math.max(1, Math.round(height / v)));
      out.set(resampleImage(small, width, height).data);
      break;
    }
    case 'rotation': {
      const m = inverseAffine(width, height, { rotationDeg: v, scale: 1, shiftX: 0, shiftY: 0, flip: false });
      out.set(warpAffine(img, m, 'edge').data);
      break;
    }
  }
  return { width, height, data: clip(out) };
}
