/**
 * PALETTE COLOR images (PS3.3 C.7.6.3.1.5–6, C.7.9): stored indices → RGB through the Red/Green/Blue
 * Palette Color Lookup Tables, plain or segmented, with pydicom's conventions (apply_color_lut) so
 * the two agree value for value.
 */
import type { DataSet } from 'dicom-parser';
import { InputError } from '../../util/errors.js';
import type { DicomHeader } from './header.js';
import type { RawFrame } from './decode.js';

const CHANNELS = [
  { name: 'Red', desc: 'x00281101', data: 'x00281201', segmented: 'x00281221' },
  { name: 'Green', desc: 'x00281102', data: 'x00281202', segmented: 'x00281222' },
  { name: 'Blue', desc: 'x00281103', data: 'x00281203', segmented: 'x00281223' },
] as const;

/** Round half to even, as numpy.around. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Expand segmented LUT data (C.7.9.2): discrete (0), linear (1) and indirect (2) segments.
 * Follows pydicom's _expand_segmented_lut, including its linear-segment rounding.
 */
export function expandSegmentedLut(data: ArrayLike<number>, bytesPerEntry: 1 | 2, littleEndian: boolean, maxEntries: number, nrSegments?: number, lastValue?: number, depth = 0): number[] {
  if (depth > 4) throw new Error('segmented LUT: indirect segments nest too deeply');
  const lut: number[] = [];
  let offset = 0;
  let read = 0;
  const indirect = littleEndian ? [3, 2, 1, 0] : [2, 3, 0, 1];
  while (offset + 1 < data.length) {
    const opcode = data[offset]!;
    const length = data[offset + 1]!;
    offset += 2;
    if (opcode === 0) {
      for (let k = 0; k < length && offset + k < data.length; k++) lut.push(data[offset + k]!);
      offset += length;
    } else if (opcode === 1) {
      const y0 = lut.length ? lut[lut.length - 1]! : lastValue;
      if (y0 === undefined) throw new Error('segmented LUT: the first segment cannot be linear');
      const y1 = data[offset]!;
      offset += 1;
      if (y0 === y1) for (let k = 0; k < length; k++) lut.push(y1);
      else {
        const step = (y1 - y0) / length;
        // numpy.linspace(y0 + step, y1, length), then numpy.around.
        const a = y0 + step;
        const inner = length > 1 ? (y1 - a) / (length - 1) : 0;
        for (let k = 0; k < length; k++) lut.push(roundHalfEven(k === length - 1 ? y1 : k * inner + a));
      }
    } else if (opcode === 2) {
      if (!lut.length) throw new Error('segmented LUT: the first segment cannot be indirect');
      let byteOffset: number;
      if (bytesPerEntry === 1) {
        const ii = indirect.map((v) => data[offset + v]!);
        byteOffset = (((ii[0]! << 8) | ii[1]!) << 16) | ((ii[2]! << 8) | ii[3]!);
        offset += 4;
      } else {
        byteOffset = (data[offset + 1]! << 16) | data[offset]!;
        offset += 2;
      }
      const rest = Array.prototype.slice.call(data, byteOffset) as number[];
      lut.push(...expandSegmentedLut(rest, bytesPerEntry, littleEndian, maxEntries, length, lut[lut.length - 1], depth + 1));
    } else {
      throw new Error(`segmented LUT: unknown segment type ${opcode}`);
    }
    if (lut.length > maxEntries) throw new Error(`segmented LUT expands past ${maxEntries} entries`);
    read += 1;
    if (read === nrSegments) return lut;
  }
  return lut;
}

function elementWords(ds: DataSet, tag: string, bytesPerEntry: 1 | 2, littleEndian: boolean): number[] | undefined {
  const el = ds.elements[tag];
  if (!el || el.dataOffset + el.length > ds.byteArray.length) return undefined;
  const b = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  // 8-bit entries packed in a big-endian OW value were swapped in pairs by the encoding.
  if (bytesPerEntry === 1) return !littleEndian && el.vr === 'OW' ? Array.from(b, (_, i) => b[i ^ 1] ?? 0) : Array.from(b);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<number>(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = v.getUint16(2 * i, littleEndian);
  return out;
}

export interface Palette {
  /** First stored value mapped (may be negative for signed data). */
  first: number;
  /** Bits per entry of the output: 8 or 16. */
  bits: 8 | 16;
  red: Uint16Array;
  green: Uint16Array;
  blue: Uint16Array;
}

/** Read the Red/Green/Blue palettes of a PALETTE COLOR image; throws InputError naming the file when malformed. */
export function readPalette(ds: DataSet, h: DicomHeader, littleEndian: boolean, file: string): Palette {
  const bad = (why: string) => new InputError('DICOM_CORRUPT', `${file}: PALETTE COLOR image with ${why}`, { file });
  const desc = ds.elements[CHANNELS[0].desc];
  if (!desc || desc.length < 6) throw bad('no Red Palette Color Lookup Table Descriptor (0028,1101)');
  const entries = (ds.uint16(CHANNELS[0].desc, 0) ?? 0) || 65536;
  let first = ds.uint16(CHANNELS[0].desc, 1) ?? 0;
  if (first >= 32768 && h.pixelRepresentation === 1) first -= 65536;
  const nominal = ds.uint16(CHANNELS[0].desc, 2) ?? 0;
  const luts: number[][] = [];
  let bits: number;
  if (ds.elements[CHANNELS[0].data]) {
    const len = ds.elements[CHANNELS[0].data]!.length;
    // The entry width comes from the data length (8-bit entries are often stored in 16-bit words).
    bits = (len / entries) * 8;
    if (bits !== 8 && bits !== 16) throw bad(`${len} bytes of LUT data for ${entries} entries (8 or 16 bits per entry expected)`);
    for (const c of CHANNELS) {
      const w = elementWords(ds, c.data, bits === 8 ? 1 : 2, littleEndian);
      if (!w) throw bad(`no ${c.name} Palette Color Lookup Table Data`);
      luts.push(w);
    }
  } else if (ds.elements[CHANNELS[0].segmented]) {
    bits = nominal;
    if (bits !== 8 && bits !== 16) throw bad(`a ${bits}-bit segmented palette (8 or 16 expected)`);
    for (const c of CHANNELS) {
      const w = elementWords(ds, c.segmented, bits === 8 ? 1 : 2, littleEndian);
      if (!w) throw bad(`no Segmented ${c.name} Palette Color Lookup Table Data`);
      try {
        luts.push(expandSegmentedLut(w, bits === 8 ? 1 : 2, littleEndian, 65536));
      } catch (e) {
        throw bad(`a malformed segmented palette (${(e as Error).message})`);
      }
    }
  } else {
    throw bad('no Palette Color Lookup Table Data (0028,1201) or Segmented data (0028,1221)');
  }
  if (luts.some((l) => l.length !== luts[0]!.length) || luts[0]!.length === 0) throw bad('red, green and blue palettes of different lengths');
  const [red, green, blue] = luts.map((l) => Uint16Array.from(l)) as [Uint16Array, Uint16Array, Uint16Array];
  return { first, bits: bits as 8 | 16, red, green, blue };
}

/**
 * Indices → interleaved RGB samples (Uint8Array for 8-bit palettes, Uint16Array for 16-bit). `index`
 * gives the stored value of sample i (Bits Stored and sign applied). As pydicom: values below the
 * first mapped value take entry 0, values past the end the last entry, and the offset from the
 * first value is taken in the palette's own integer width.
 */
export function applyPalette(raw: RawFrame, p: Palette, index: (v: number) => number): RawFrame {
  const n = raw.width * raw.height;
  const out = p.bits === 8 ? new Uint8Array(n * 3) : new Uint16Array(n * 3);
  const wrap = p.bits === 8 ? 0xff : 0xffff;
  const last = Math.min(p.red.length, p.green.length, p.blue.length) - 1;
  const s = raw.samples;
  for (let i = 0; i < n; i++) {
    const v = index(s[i]!);
    let k = v >= p.first ? (v - p.first) & wrap : 0;
    if (k > last) k = last;
    out[3 * i] = p.red[k]!;
    out[3 * i + 1] = p.green[k]!;
    out[3 * i + 2] = p.blue[k]!;
  }
  return { width: raw.width, height: raw.height, samples: out, samplesPerPixel: 3, planar: false, colour: 'rgb', codecPrecision: p.bits };
}
