/**
 * Pure display maths of the viewer (no DOM, so the tests run it in Node): the 16-bit samples the
 * service sends back to modality values, the DICOM VOI window (PS3.3 C.11.2.1.2: LINEAR,
 * LINEAR_EXACT, SIGMOID) as a lookup table over every sample value, MONOCHROME1 inverted so that
 * 0 is black, and the heatmap colour map.
 */

/** What the service says about the samples (x-radml-image header of /pixels). */
export interface ImageInfo {
  width: number;
  height: number;
  rows: number;
  columns: number;
  factor: number;
  min: number;
  max: number;
  photometric: string;
  windowCenter: number | null;
  windowWidth: number | null;
  voiLutFunction: string;
  modality: string;
  display: boolean;
}

export interface Window {
  center: number;
  width: number;
}

/** Modality value of a 16-bit sample. */
export function modalityValue(info: Pick<ImageInfo, 'min' | 'max'>, sample: number): number {
  return info.min + (sample * (info.max - info.min)) / 65535;
}

/** The stored window when the file has one, else the full range of values. */
export function defaultWindow(info: ImageInfo): Window {
  if (info.windowCenter !== null && info.windowWidth !== null && info.windowWidth > 0) return { center: info.windowCenter, width: info.windowWidth };
  return { center: (info.min + info.max) / 2, width: Math.max(info.max - info.min, 1e-6) };
}

/**
 * Display value in [0, 1] of modality value `v` through window (c, w), PS3.3 C.11.2.1.2.1–3.
 * @example windowValue(40, { center: 40, width: 400 }, 'LINEAR') // ≈ 0.5
 */
export function windowValue(v: number, win: Window, fn: string): number {
  const c = win.center, w = win.width;
  if (fn === 'SIGMOID') return 1 / (1 + Math.exp((-4 * (v - c)) / w));
  if (fn === 'LINEAR_EXACT') {
    if (v <= c - w / 2) return 0;
    if (v > c + w / 2) return 1;
    return (v - (c - w / 2)) / w;
  }
  if (w <= 1) return v <= c - 0.5 ? 0 : 1;
  if (v <= c - 0.5 - (w - 1) / 2) return 0;
  if (v > c - 0.5 + (w - 1) / 2) return 1;
  return (v - (c - 0.5)) / (w - 1) + 0.5;
}

/**
 * 8-bit grey level for each of the 65,536 sample values: window, then MONOCHROME1 inverted, then
 * the user's invert toggle.
 * @example const lut = greyLut(info, defaultWindow(info), false); lut[samples[0]]
 */
export function greyLut(info: ImageInfo, win: Window, invert: boolean): Uint8Array {
  const lut = new Uint8Array(65536);
  const flip = (info.photometric === 'MONOCHROME1') !== invert;
  const fn = info.display ? 'LINEAR_EXACT' : info.voiLutFunction;
  for (let s = 0; s < 65536; s++) {
    const d = windowValue(modalityValue(info, s), win, fn);
    lut[s] = Math.round((flip ? 1 - d : d) * 255);
  }
  return lut;
}

/** Fill RGBA pixels (width × height × 4) from samples through a grey LUT. */
export function paint(samples: Uint16Array, lut: Uint8Array, rgba: Uint8ClampedArray): void {
  for (let i = 0, j = 0; i < samples.length; i++, j += 4) {
    const g = lut[samples[i]!]!;
    rgba[j] = g;
    rgba[j + 1] = g;
    rgba[j + 2] = g;
    rgba[j + 3] = 255;
  }
}

/** Heat colour (a perceptually ordered dark-red → yellow ramp) and alpha for a value in [0, 1]. */
export function heatColour(t: number): [number, number, number, number] {
  const x = Math.min(1, Math.max(0, t));
  const r = Math.round(255 * Math.min(1, 0.3 + 1.4 * x));
  const g = Math.round(255 * Math.max(0, Math.min(1, 2 * x - 0.6)));
  const b = Math.round(255 * Math.max(0, 3 * x - 2.4));
  return [r, g, b, Math.round(255 * x)];
}

/** Parse the /pixels answer body: little-endian 16-bit samples. */
export function samplesOf(buf: ArrayBuffer): Uint16Array {
  return new Uint16Array(buf);
}
