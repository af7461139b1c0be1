/**
 * A site's acquisition applied to a phantom: display curve (gamma, contrast), detector blur
 * (effective resolution), noise, quantisation to the site's bits stored, and storage as MONOCHROME1
 * (inverted) or MONOCHROME2. Pure: the noise comes from a seed.
 */
import { Rng } from '../../util/rng.js';
import { normalQuantileTable16 } from '../../util/normal.js';
import { gaussianBlur } from '../augment/intensity.js';
import type { SiteProfile } from './types.js';

/** Attenuation that maps to full white before the display curve. */
const FULL_SCALE = 0.78;

export interface Acquired {
  /** Stored pixel values as written to DICOM (MONOCHROME1 sites store inverted values). */
  stored: Uint16Array;
  /** The same image as MONOCHROME2 values (bright = dense), 0..2^bitsStored−1. */
  mono2: Uint16Array;
  maxValue: number;
  /** Window in rescaled (modality) units covering the image's useful range. */
  windowCenter: number;
  windowWidth: number;
}


const NORMAL_TABLE = normalQuantileTable16();

/**
 * Acquire a phantom as a site would.
 *
 * @example const { stored } = acquire(phantom.attenuation, 256, siteProfiles(4, 1)[1]!, 7);
 */
export function acquire(attenuation: Float32Array, size: number, site: SiteProfile, noiseSeed: number): Acquired {
  const n = size * size;
  const img = new Float32Array(n);
  // Display curve through a fine lookup table (linear between entries): pow per pixel is slow.
  const L = 4096;
  const lut = new Float32Array(L + 2);
  for (let k = 0; k <= L + 1; k++) lut[k] = 0.5 + site.contrast * (Math.pow(Math.min(1, k / L), site.gamma) - 0.5);
  for (let i = 0; i < n; i++) {
    const d = Math.min(1, Math.max(0, attenuation[i]! / FULL_SCALE)) * L;
    const k = Math.floor(d);
    img[i] = lut[k]! + (lut[k + 1]! - lut[k]!) * (d - k);
  }
  // Detector blur; below 0.05 px the kernel is an identity in all but rounding.
  const blur = site.blurSigma * (size / 256);
  if (blur >= 0.05) gaussianBlur(img, size, size, blur, img);
  const rng = new Rng(noiseSeed);
  const maxValue = 2 ** site.bitsStored - 1;
  // Real detectors use part of their range; leave margins so noise does not clip.
  const lo = Math.round(maxValue * 0.04);
  const hi = Math.round(maxValue * 0.96);
  const mono2 = new Uint16Array(n);
  const stored = new Uint16Array(n);
  // Noise is stronger in the brighter (less exposed) parts, as quantum noise is.
  let bits = 0;
  for (let i = 0; i < n; i++) {
    // Two 16-bit uniforms from each 32-bit draw.
    let u16: number;
    if ((i & 1) === 0) {
      bits = rng.nextUint32();
      u16 = bits & 0xffff;
    } else u16 = bits >>> 16;
    const d = img[i]! + site.noise * (0.6 + 0.8 * Math.max(0, img[i]!)) * NORMAL_TABLE[u16]!;
    const q = Math.round(lo + Math.min(1, Math.max(0, d)) * (hi - lo));
    mono2[i] = q;
    stored[i] = site.photometric === 'MONOCHROME1' ? maxValue - q : q;
  }
  const windowCenter = ((lo + hi) / 2) * site.rescaleSlope + site.rescaleIntercept;
  const windowWidth = (hi - lo) * site.rescaleSlope;
  return { stored, mono2, maxValue, windowCenter, windowWidth };
}
