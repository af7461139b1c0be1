/**
 * Stored samples → modality values (Bits Stored, sign, colour → luma, Rescale Slope/Intercept) →
 * display values in [0, 1] (VOI LUT, else window, else min–max; MONOCHROME1 inverted).
 */
import type { DataSet } from 'dicom-parser';
import type { DicomHeader } from './header.js';
import type { RawFrame } from './decode.js';

/** ITU-R BT.601 luma weights, as in the JFIF YCbCr transform. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * A function restoring a stored value from its container: drop bits below the low bit, mask, sign-extend.
 * Codec output has no High Bit offset; when a codestream is wider than Bits Stored (a writer's
 * mismatch) its own precision wins, except for unsigned codestreams of signed data, which hold
 * two's complement in Bits Stored bits.
 */
function storedValue(h: DicomHeader, raw: RawFrame): ((v: number) => number) | undefined {
  if (raw.samples instanceof Float32Array || raw.samples instanceof Float64Array) return undefined;
  const signed = h.pixelRepresentation === 1;
  let bs = h.bitsStored;
  let low = h.highBit + 1 - bs;
  if (raw.codecPrecision !== undefined) {
    low = 0;
    if (raw.codecPrecision > bs && (!signed || raw.codecSigned)) bs = raw.codecPrecision;
  }
  const container = raw.samples.BYTES_PER_ELEMENT * 8;
  if (bs >= 32) return signed ? (v) => v | 0 : undefined;
  if (!signed && low === 0 && bs === container) return undefined;
  if (signed) {
    const s = 32 - bs;
    return (v) => (((v >>> low) << s) >> s);
  }
  const mask = bs === 31 ? 0x7fffffff : (1 << bs) - 1;
  return (v) => (v >>> low) & mask;
}

const f32 = Math.fround;
/** pydicom's YBR_FULL → RGB matrix (float32), PS3.3 C.7.6.3.1.2. */
const YBR = [f32(1.402), f32((-0.114 * 1.772) / 0.587), f32(1.772), f32((-0.299 * 1.402) / 0.587)] as const;
const rgb = new Float64Array(3);
/** Round half up in float32, clip to 0..255 (pydicom: floor(x + 0.5), clip). */
const ch = (v: number) => Math.min(255, Math.max(0, Math.floor(f32(v + 0.5))));

/**
 * YBR_FULL → RGB exactly as pydicom computes it (float32 arithmetic, round half up, clip to 0..255),
 * so radml's luma of a YBR image equals the luma of pydicom's RGB.
 */
function ybrToRgb(y: number, cb: number, cr: number, out: Float64Array): void {
  const b = f32(cb - 128), r = f32(cr - 128);
  out[0] = ch(f32(y + f32(r * YBR[0])));
  out[1] = ch(f32(f32(y + f32(b * YBR[1])) + f32(r * YBR[3])));
  out[2] = ch(f32(y + f32(b * YBR[2])));
}

/**
 * The stored value of each sample of a frame (Bits Stored, High Bit and sign applied).
 *
 * @example const v = storedValues(header, raw); v(raw.samples[0]!)
 */
export function storedValues(h: DicomHeader, raw: RawFrame): (v: number) => number {
  return storedValue(h, raw) ?? ((v: number) => v);
}

/**
 * Modality values of one frame (Float32Array, row-major). Rescale applies to grey images only;
 * colour is turned into luma on the stored-value scale.
 *
 * A Modality LUT Sequence, when present, is used instead of the rescale.
 *
 * @example modalityValues(raw, header, dataSet) // CT: Hounsfield units
 */
export function modalityValues(raw: RawFrame, h: DicomHeader, ds: DataSet): Float32Array {
  const n = raw.width * raw.height;
  const out = new Float32Array(n);
  const s = raw.samples;
  const f = storedValue(h, raw);
  const modalityLut = raw.samplesPerPixel === 1 && h.hasModalityLutSequence ? readLut(ds, 'x00283000', h) : undefined;
  if (modalityLut) {
    // A Modality LUT replaces Rescale Slope/Intercept (PS3.3 C.11.1).
    const g = f ?? ((v: number) => v);
    for (let i = 0; i < n; i++) out[i] = lookUp(modalityLut, g(s[i]!));
    return out;
  }
  if (raw.samplesPerPixel === 1) {
    // Float Pixel Data has no Rescale (its real-world mapping is a separate macro): values as stored.
    const float = h.pixelDataKind !== 'integer';
    const slope = float ? 1 : h.rescaleSlope, intercept = float ? 0 : h.rescaleIntercept;
    if (f) for (let i = 0; i < n; i++) out[i] = f(s[i]!) * slope + intercept;
    else if (slope === 1 && intercept === 0) for (let i = 0; i < n; i++) out[i] = s[i]!;
    else for (let i = 0; i < n; i++) out[i] = s[i]! * slope + intercept;
    return out;
  }
  const g = f ?? ((v: number) => v);
  const spp = raw.samplesPerPixel;
  // Offsets of the three samples of pixel i: interleaved (i·3 + c) or planar (c·n + i).
  const step = raw.planar ? 1 : spp;
  const plane = raw.planar ? n : 1;
  if (raw.colour === 'ybr' && raw.samples.BYTES_PER_ELEMENT === 1) {
    for (let i = 0; i < n; i++) {
      const o = i * step;
      ybrToRgb(g(s[o]!), g(s[o + plane]!), g(s[o + 2 * plane]!), rgb);
      out[i] = LUMA[0] * rgb[0]! + LUMA[1] * rgb[1]! + LUMA[2] * rgb[2]!;
    }
  } else if (raw.colour === 'ybr') {
    // Wider than 8 bits: the Y sample is the luma (pydicom's conversion is defined for 8 bits only).
    for (let i = 0; i < n; i++) out[i] = g(s[i * step]!);
  } else {
    for (let i = 0; i < n; i++) {
      const o = i * step;
      out[i] = LUMA[0] * g(s[o]!) + LUMA[1] * g(s[o + plane]!) + LUMA[2] * g(s[o + 2 * plane]!);
    }
  }
  return out;
}

interface Lut {
  first: number;
  bits: number;
  /** Raw entries, as stored. */
  data: Float32Array;
}

/**
 * The first item of a LUT sequence (Modality LUT (0028,3000) or VOI LUT (0028,3010)), or undefined
 * when absent or malformed (a LUT whose data is shorter than its descriptor says is ignored).
 */
export function readLut(ds: DataSet, sequenceTag: string, h: DicomHeader): Lut | undefined {
  const item = ds.elements[sequenceTag]?.items?.[0]?.dataSet;
  if (!item) return undefined;
  const desc = item.elements['x00283002'];
  const lutData = item.elements['x00283006'];
  if (!desc || desc.length < 6 || !lutData) return undefined;
  if (lutData.dataOffset + lutData.length > item.byteArray.length) return undefined;
  let entries = item.uint16('x00283002', 0) ?? 0;
  if (entries === 0) entries = 65536;
  let first = item.uint16('x00283002', 1) ?? 0;
  // First mapped value is SS when the LUT's input can be negative; implicit VR reads it as US.
  if (first >= 32768 && (h.pixelRepresentation === 1 || h.rescaleIntercept < 0)) first -= 65536;
  const bits = item.uint16('x00283002', 2) ?? 16;
  const wordSized = lutData.length >= entries * 2;
  if (!wordSized && lutData.length < entries) return undefined;
  const data = new Float32Array(entries);
  for (let i = 0; i < entries; i++) data[i] = wordSized ? item.uint16('x00283006', i)! : item.byteArray[lutData.dataOffset + i]!;
  return { first, bits, data };
}

function lookUp(lut: Lut, x: number): number {
  let k = Math.round(x) - lut.first;
  if (k < 0) k = 0;
  else if (k >= lut.data.length) k = lut.data.length - 1;
  return lut.data[k]!;
}

/** The VOI LUT as a [0, 1] lookup over modality values. */
function voiLut(ds: DataSet, h: DicomHeader): Lut | undefined {
  const lut = readLut(ds, 'x00283010', h);
  if (!lut) return undefined;
  let maxEntry = 0;
  for (const v of lut.data) if (v > maxEntry) maxEntry = v;
  // Some writers declare 16 bits for 12-bit LUT data; scale by the width the data actually uses.
  const top = lut.bits === 16 && maxEntry < 4096 ? 4095 : 2 ** lut.bits - 1;
  return { ...lut, data: lut.data.map((v) => Math.min(1, v / top)) };
}

/**
 * Window per PS3.3 C.11.2.1.2: LINEAR (with its −0.5 and width − 1 terms), LINEAR_EXACT or SIGMOID;
 * output in [0, 1].
 */
export function applyWindow(values: Float32Array, center: number, width: number, fn: string, out: Float32Array): void {
  const n = values.length;
  if (fn === 'SIGMOID') {
    const k = -4 / Math.max(width, 1e-6);
    for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(k * (values[i]! - center)));
    return;
  }
  if (fn === 'LINEAR_EXACT') {
    const w = Math.max(width, 1e-6);
    const lo = center - w / 2, hi = center + w / 2;
    for (let i = 0; i < n; i++) {
      const x = values[i]!;
      out[i] = x <= lo ? 0 : x > hi ? 1 : (x - center) / w + 0.5;
    }
    return;
  }
  const w = Math.max(width, 1);
  const c = center - 0.5;
  const lo = c - (w - 1) / 2, hi = c + (w - 1) / 2;
  const inv = w > 1 ? 1 / (w - 1) : 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    out[i] = x <= lo ? 0 : x > hi ? 1 : w > 1 ? (x - c) * inv + 0.5 : 1;
  }
}

/** Which VOI step produced the display image. */
export type VoiSource = 'voi-lut' | 'window' | 'min-max' | 'full-range';

/**
 * Display values in [0, 1] from modality values: VOI LUT Sequence, else the first Window Center/Width,
 * else min–max of the frame (colour: the full stored range); MONOCHROME1 is inverted so 0 is black.
 */
export function displayValues(values: Float32Array, h: DicomHeader, ds: DataSet): { data: Float32Array; voi: VoiSource } {
  const n = values.length;
  const out = new Float32Array(n);
  let voi: VoiSource;
  const lut = h.samplesPerPixel === 1 && h.hasVoiLutSequence ? voiLut(ds, h) : undefined;
  const center = h.windowCenter[0], width = h.windowWidth[0];
  if (lut) {
    for (let i = 0; i < n; i++) out[i] = lookUp(lut, values[i]!);
    voi = 'voi-lut';
  } else if (center !== undefined && width !== undefined && width > 0) {
    applyWindow(values, center, width, h.voiLutFunction, out);
    voi = 'window';
  } else if (h.samplesPerPixel > 1) {
    const top = 2 ** h.bitsStored - 1;
    for (let i = 0; i < n; i++) out[i] = Math.min(1, Math.max(0, values[i]! / top));
    voi = 'full-range';
  } else {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = hi > lo ? 1 / (hi - lo) : 0;
    for (let i = 0; i < n; i++) out[i] = (values[i]! - lo) * scale;
    voi = 'min-max';
  }
  if (h.photometricInterpretation === 'MONOCHROME1') for (let i = 0; i < n; i++) out[i] = 1 - out[i]!;
  return { data: out, voi };
}
