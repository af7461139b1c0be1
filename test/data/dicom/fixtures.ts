/**
 * Test helper: synthetic DICOM fixtures built with radml's writer (src/data/dicom/writer.ts, explicit
 * VR little endian), then transcoded here byte by byte into the other encodings a reader meets:
 * implicit VR little endian, explicit VR big endian, deflated, RLE Lossless, and without File Meta.
 * Each fixture carries the values radml must report (`expected`: modality values, every frame
 * concatenated), computed from the source arrays — not by the reader.
 */
import { deflateRawSync } from 'node:zlib';
import { writeDicom, uidFromName, type DicomElement } from '../../../src/data/dicom/writer.js';

export type Encoding = 'explicit-le' | 'implicit-le' | 'explicit-be' | 'deflated' | 'rle' | 'no-meta-implicit' | 'no-meta-explicit' | 'no-meta-be';

export const TRANSFER_SYNTAX: Record<Encoding, string> = {
  'explicit-le': '1.2.840.10008.1.2.1',
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-be': '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  rle: '1.2.840.10008.1.2.5',
  'no-meta-implicit': '1.2.840.10008.1.2',
  'no-meta-explicit': '1.2.840.10008.1.2.1',
  'no-meta-be': '1.2.840.10008.1.2.2',
};

export interface Fixture {
  name: string;
  elements: DicomElement[];
  /** Expected modalityValues of every frame, concatenated. */
  expected: Float64Array;
  frames: number;
  rows: number;
  columns: number;
  /** Encodings that apply (RLE needs whole-byte integer samples). */
  encodings: Encoding[];
}

const LUMA = [0.299, 0.587, 0.114];

/** A deterministic pseudo-random generator (LCG) so fixtures are the same on every run. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function base(name: string, rows: number, columns: number, extra: DicomElement[]): DicomElement[] {
  return [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00080018, vr: 'UI', value: uidFromName(`radml-test-fixture/${name}`) },
    { tag: 0x00080060, vr: 'CS', value: 'OT' },
    { tag: 0x00100020, vr: 'LO', value: 'FIXTURE' },
    { tag: 0x00280010, vr: 'US', value: rows },
    { tag: 0x00280011, vr: 'US', value: columns },
    ...extra,
  ];
}

const ALL: Encoding[] = ['explicit-le', 'implicit-le', 'explicit-be', 'deflated', 'rle', 'no-meta-implicit', 'no-meta-explicit', 'no-meta-be'];
const NATIVE: Encoding[] = ALL.filter((e) => e !== 'rle');

/** The fixtures: grey (8/12/16/32 bits, signed, rescaled), colour (RGB by pixel/plane, YBR_FULL), palettes, float, 1-bit. */
export function fixtures(): Fixture[] {
  const out: Fixture[] = [];
  const rnd = lcg(11);

  {
    // 12 of 16 bits, unsigned, rescaled; odd size, 2 frames. High bits hold junk that must be masked.
    const rows = 5, columns = 7, frames = 2, n = rows * columns * frames;
    const stored = Uint16Array.from({ length: n }, () => Math.floor(rnd() * 4096));
    const px = stored.map((v, i) => v | ((i % 3) << 12));
    out.push({
      name: 'mono12_rescaled_2frames', rows, columns, frames, encodings: ALL,
      elements: base('mono12', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280008, vr: 'IS', value: frames },
        { tag: 0x00280100, vr: 'US', value: 16 }, { tag: 0x00280101, vr: 'US', value: 12 }, { tag: 0x00280102, vr: 'US', value: 11 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x00281052, vr: 'DS', value: '-7.5' }, { tag: 0x00281053, vr: 'DS', value: '0.25' },
        { tag: 0x7fe00010, vr: 'OW', value: px },
      ]),
      expected: Float64Array.from(stored, (v) => v * 0.25 - 7.5),
    });
  }
  {
    // Signed 16-bit CT-like values with intercept −1024.
    const rows = 4, columns = 6, n = rows * columns;
    const v = Int16Array.from({ length: n }, () => Math.floor(rnd() * 4000) - 2000);
    out.push({
      name: 'ct_signed16', rows, columns, frames: 1, encodings: ALL,
      elements: base('ct16', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280100, vr: 'US', value: 16 }, { tag: 0x00280101, vr: 'US', value: 16 }, { tag: 0x00280102, vr: 'US', value: 15 },
        { tag: 0x00280103, vr: 'US', value: 1 },
        { tag: 0x00281052, vr: 'DS', value: '-1024' }, { tag: 0x00281053, vr: 'DS', value: '1' },
        { tag: 0x7fe00010, vr: 'OW', value: new Uint16Array(v.buffer) },
      ]),
      expected: Float64Array.from(v, (x) => x - 1024),
    });
  }
  {
    // 8-bit grey, odd length, 3 frames (big endian swaps 8-bit OW data in pairs across frame boundaries).
    const rows = 3, columns = 3, frames = 3, n = rows * columns * frames;
    const v = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256);
    out.push({
      name: 'mono8_odd_3frames', rows, columns, frames, encodings: ALL,
      elements: base('mono8', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280008, vr: 'IS', value: frames },
        { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        // OW holding an odd number of 8-bit samples, padded to even length (as SC_rgb_small_odd_big_endian.dcm).
        { tag: 0x7fe00010, vr: 'OW', value: new Uint16Array(Uint8Array.from([...v, 0]).buffer) },
      ]),
      expected: Float64Array.from(v),
    });
  }
  {
    // 32-bit unsigned.
    const rows = 2, columns = 3, n = rows * columns;
    const v = Uint32Array.from({ length: n }, (_, i) => (i * 123456789) % 4294967295 >>> 0);
    out.push({
      name: 'mono32', rows, columns, frames: 1, encodings: ALL,
      elements: base('mono32', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280100, vr: 'US', value: 32 }, { tag: 0x00280101, vr: 'US', value: 32 }, { tag: 0x00280102, vr: 'US', value: 31 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x7fe00010, vr: 'OW', value: new Uint16Array(v.buffer) },
      ]),
      expected: Float64Array.from(v),
    });
  }
  for (const planar of [0, 1] as const) {
    // RGB 8-bit, odd size, 2 frames, by pixel and by plane.
    const rows = 3, columns = 5, frames = 2, n = rows * columns;
    const rgb = Uint8Array.from({ length: n * 3 * frames }, () => Math.floor(rnd() * 256));
    const stored = new Uint8Array(rgb.length);
    const expected = new Float64Array(n * frames);
    for (let f = 0; f < frames; f++) {
      for (let i = 0; i < n; i++) {
        let luma = 0;
        for (let c = 0; c < 3; c++) {
          const v = rgb[(f * n + i) * 3 + c]!;
          stored[planar ? f * n * 3 + c * n + i : (f * n + i) * 3 + c] = v;
          luma += LUMA[c]! * v;
        }
        expected[f * n + i] = luma;
      }
    }
    out.push({
      name: `rgb8_planar${planar}_2frames`, rows, columns, frames, encodings: planar ? NATIVE : ALL,
      elements: base(`rgb${planar}`, rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 3 }, { tag: 0x00280004, vr: 'CS', value: 'RGB' },
        { tag: 0x00280006, vr: 'US', value: planar }, { tag: 0x00280008, vr: 'IS', value: frames },
        { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x7fe00010, vr: 'OB', value: stored },
      ]),
      expected,
    });
  }
  {
    // PALETTE COLOR: 8-bit indices, 16-bit palettes with first mapped value 10 (indices below map to entry 0).
    const rows = 4, columns = 4, n = rows * columns, entries = 200, first = 10;
    const idx = Uint8Array.from({ length: n }, (_, i) => (i * 17) % 256);
    const lut = [0, 1, 2].map((c) => Uint16Array.from({ length: entries }, (_, k) => (k * (97 + c * 61) * 13) % 65536));
    const expected = Float64Array.from(idx, (v) => {
      const k = Math.min(entries - 1, Math.max(0, v - first));
      return LUMA[0]! * lut[0]![k]! + LUMA[1]! * lut[1]![k]! + LUMA[2]! * lut[2]![k]!;
    });
    out.push({
      name: 'palette16', rows, columns, frames: 1, encodings: ALL,
      elements: base('palette16', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'PALETTE COLOR' },
        { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x00281101, vr: 'US', value: [entries, first, 16] },
        { tag: 0x00281102, vr: 'US', value: [entries, first, 16] },
        { tag: 0x00281103, vr: 'US', value: [entries, first, 16] },
        { tag: 0x00281201, vr: 'OW', value: lut[0]! },
        { tag: 0x00281202, vr: 'OW', value: lut[1]! },
        { tag: 0x00281203, vr: 'OW', value: lut[2]! },
        { tag: 0x7fe00010, vr: 'OB', value: idx },
      ]),
      expected,
    });
  }
  {
    // Segmented 16-bit palettes (C.7.9.2): discrete, linear and indirect segments. 16-bit indices.
    const rows = 2, columns = 8, n = rows * columns;
    // red: discrete [0, 100], linear to 1000 over 9 steps (exact: +100 each), then indirect copy of segment 0.
    const red = [0, 2, 0, 100, 1, 9, 1000, 2, 1, 0, 0];
    const redLut = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 0, 100];
    const green = [0, 13, ...Array.from({ length: 13 }, (_, k) => k * 5000)];
    const greenLut = Array.from({ length: 13 }, (_, k) => k * 5000);
    const blue = [0, 1, 65535, 1, 12, 65535];
    const blueLut = Array(13).fill(65535);
    const idx = Uint16Array.from({ length: n }, (_, i) => i);
    const expected = Float64Array.from(idx, (v) => {
      const k = Math.min(12, v);
      return LUMA[0]! * redLut[k]! + LUMA[1]! * greenLut[k]! + LUMA[2]! * blueLut[k]!;
    });
    out.push({
      name: 'palette_segmented', rows, columns, frames: 1, encodings: ALL,
      elements: base('palette_seg', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'PALETTE COLOR' },
        { tag: 0x00280100, vr: 'US', value: 16 }, { tag: 0x00280101, vr: 'US', value: 16 }, { tag: 0x00280102, vr: 'US', value: 15 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x00281101, vr: 'US', value: [13, 0, 16] },
        { tag: 0x00281102, vr: 'US', value: [13, 0, 16] },
        { tag: 0x00281103, vr: 'US', value: [13, 0, 16] },
        { tag: 0x00281221, vr: 'OW', value: Uint16Array.from(red) },
        { tag: 0x00281222, vr: 'OW', value: Uint16Array.from(green) },
        { tag: 0x00281223, vr: 'OW', value: Uint16Array.from(blue) },
        { tag: 0x7fe00010, vr: 'OW', value: idx },
      ]),
      expected,
    });
  }
  for (const double of [false, true]) {
    // Float / Double Float Pixel Data (parametric maps): values as stored, no rescale.
    const rows = 3, columns = 4, frames = 2, n = rows * columns * frames;
    const v = Float64Array.from({ length: n }, (_, i) => (i - 7) * 0.3125 + (i === 5 ? 1e6 : 0));
    const stored = double ? v : Float32Array.from(v);
    out.push({
      name: double ? 'double_float' : 'float', rows, columns, frames, encodings: NATIVE,
      elements: [
        ...base(double ? 'double' : 'float', rows, columns, [
          { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
          { tag: 0x00280008, vr: 'IS', value: frames },
          { tag: 0x00280100, vr: 'US', value: double ? 64 : 32 },
          { tag: double ? 0x7fe00009 : 0x7fe00008, vr: double ? 'OD' : 'OF', value: stored },
        ]),
      ].map((e) => (e.tag === 0x00080016 ? { ...e, value: '1.2.840.10008.5.1.4.1.1.30' } : e)),
      expected: Float64Array.from(stored),
    });
  }
  {
    // 1 bit per pixel, 3 frames of 3×5: frames start mid-byte.
    const rows = 3, columns = 5, frames = 3, n = rows * columns * frames;
    const bits = Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 1 : 0));
    const packed = new Uint8Array(Math.ceil(n / 8));
    bits.forEach((b, i) => { packed[i >> 3]! |= b << (i & 7); });
    out.push({
      name: 'bits1_3frames', rows, columns, frames, encodings: NATIVE.filter((e) => !e.includes('be')),
      elements: base('bits1', rows, columns, [
        { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280008, vr: 'IS', value: frames },
        { tag: 0x00280100, vr: 'US', value: 1 }, { tag: 0x00280101, vr: 'US', value: 1 }, { tag: 0x00280102, vr: 'US', value: 0 },
        { tag: 0x00280103, vr: 'US', value: 0 },
        { tag: 0x7fe00010, vr: 'OB', value: packed },
      ]),
      expected: Float64Array.from(bits),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Transcoding the writer's explicit VR little endian bytes.

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SWAP: Record<string, number> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 };

interface Walked {
  tag: number;
  vr: string;
  value?: Uint8Array;
  items?: Walked[][];
}

/** Parse explicit VR little endian elements with defined lengths (what the writer produces). */
function walk(b: Uint8Array, start: number, end: number): Walked[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Walked[] = [];
  let p = start;
  while (p < end) {
    const tag = ((v.getUint16(p, true) << 16) | v.getUint16(p + 2, true)) >>> 0;
    const vr = String.fromCharCode(b[p + 4]!, b[p + 5]!);
    let len: number;
    if (LONG.has(vr)) { len = v.getUint32(p + 8, true); p += 12; } else { len = v.getUint16(p + 6, true); p += 8; }
    if (vr === 'SQ') {
      const items: Walked[][] = [];
      let q = p;
      while (q < p + len) {
        const itemLen = v.getUint32(q + 4, true);
        items.push(walk(b, q + 8, q + 8 + itemLen));
        q += 8 + itemLen;
      }
      out.push({ tag, vr, items });
    } else {
      out.push({ tag, vr, value: b.subarray(p, p + len) });
    }
    p += len;
  }
  return out;
}

function encode(els: Walked[], explicit: boolean, bigEndian: boolean, pixelSwap = 2): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of els) {
    let value: Uint8Array;
    if (e.items) {
      const items = e.items.map((it) => {
        const body = encode(it, explicit, bigEndian);
        const head = new Uint8Array(8);
        const hv = new DataView(head.buffer);
        hv.setUint16(0, 0xfffe, !bigEndian); hv.setUint16(2, 0xe000, !bigEndian); hv.setUint32(4, body.length, !bigEndian);
        return concat([head, body]);
      });
      value = concat(items);
    } else {
      value = e.value!.slice();
      // Big endian: OW Pixel Data of 32-bit samples is swapped per sample (as pydicom reads it), else per word.
      const size = bigEndian ? (e.tag === 0x7fe00010 && e.vr === 'OW' ? pixelSwap : SWAP[e.vr]) : undefined;
      if (size) for (let i = 0; i + size <= value.length; i += size) value.subarray(i, i + size).reverse();
    }
    const long = LONG.has(e.vr);
    const head = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
    const hv = new DataView(head.buffer);
    hv.setUint16(0, e.tag >>> 16, !bigEndian);
    hv.setUint16(2, e.tag & 0xffff, !bigEndian);
    if (!explicit) hv.setUint32(4, value.length, !bigEndian);
    else {
      head[4] = e.vr.charCodeAt(0); head[5] = e.vr.charCodeAt(1);
      if (long) hv.setUint32(8, value.length, !bigEndian); else hv.setUint16(6, value.length, !bigEndian);
    }
    parts.push(head, value);
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** PackBits-encode one byte plane (literal runs ≤ 128, replicate runs of 3..128). */
function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3) { out.push(257 - run, src[i]!); i += run; continue; }
    const start = i;
    while (i < src.length && i - start < 128 && !(i + 2 < src.length && src[i] === src[i + 1] && src[i] === src[i + 2])) i++;
    out.push(i - start - 1, ...src.subarray(start, i));
  }
  if (out.length % 2) out.push(0x80); // no-op byte keeps segments even
  return Uint8Array.from(out);
}

/** One RLE frame (PS3.5 G): 64-byte header, one segment per byte plane, most significant byte first. */
function rleFrame(frame: Uint8Array, pixels: number, samples: number, bytesPerSample: number): Uint8Array {
  const segments: Uint8Array[] = [];
  for (let s = 0; s < samples; s++) {
    for (let b = bytesPerSample - 1; b >= 0; b--) {
      const plane = new Uint8Array(pixels);
      for (let i = 0; i < pixels; i++) plane[i] = frame[(i * samples + s) * bytesPerSample + b]!;
      segments.push(packBits(plane));
    }
  }
  const head = new Uint8Array(64);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, segments.length, true);
  let off = 64;
  segments.forEach((seg, k) => { hv.setUint32(4 + 4 * k, off, true); off += seg.length; });
  return concat([head, ...segments]);
}

function encapsulate(frames: Uint8Array[]): Uint8Array {
  const item = (body: Uint8Array) => {
    const h = new Uint8Array(8);
    const hv = new DataView(h.buffer);
    hv.setUint16(0, 0xfffe, true); hv.setUint16(2, 0xe000, true); hv.setUint32(4, body.length, true);
    return concat([h, body]);
  };
  const bot = new Uint8Array(4 * frames.length);
  let off = 0;
  frames.forEach((f, k) => { new DataView(bot.buffer).setUint32(4 * k, off, true); off += 8 + f.length; });
  const end = new Uint8Array([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return concat([item(bot), ...frames.map(item), end]);
}

function metaGroup(sopClass: string, sopInstance: string, ts: string): Uint8Array {
  // Reuse the writer for the meta group: write a tiny data set, then swap its Transfer Syntax UID.
  const bytes = writeDicom([{ tag: 0x00080016, vr: 'UI', value: sopClass }, { tag: 0x00080018, vr: 'UI', value: sopInstance }]);
  const metaLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(140, true);
  const meta = walk(bytes, 144, 144 + metaLen).map((e) => {
    if (e.tag !== 0x00020010) return e;
    const t = ts.length % 2 ? ts + '\0' : ts;
    return { ...e, value: Uint8Array.from(t, (c) => c.charCodeAt(0)) };
  });
  const body = encode(meta, true, false);
  const head = new Uint8Array(144);
  head.set([0x44, 0x49, 0x43, 0x4d], 128);
  head.set([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00], 132);
  new DataView(head.buffer).setUint32(140, body.length, true);
  return concat([head, body]);
}

/**
 * The fixture's bytes in one encoding.
 *
 * @example const bytes = encodeFixture(fixtures()[0], 'explicit-be');
 */
export function encodeFixture(f: Fixture, encoding: Encoding): Uint8Array {
  const written = writeDicom(f.elements);
  const metaLen = new DataView(written.buffer, written.byteOffset).getUint32(140, true);
  let els = walk(written, 144 + metaLen, written.length);
  const sop = (tag: number) => new TextDecoder().decode(els.find((e) => e.tag === tag)!.value!).replace(/\0/g, '').trim();
  const bitsEl = els.find((e) => e.tag === 0x00280100)!.value!;
  const pixelSwap = new DataView(bitsEl.buffer, bitsEl.byteOffset).getUint16(0, true) === 32 ? 4 : 2;
  const meta = () => metaGroup(sop(0x00080016), sop(0x00080018), TRANSFER_SYNTAX[encoding]);
  if (encoding === 'rle') {
    const us = (tag: number) => new DataView(els.find((e) => e.tag === tag)!.value!.buffer, els.find((e) => e.tag === tag)!.value!.byteOffset).getUint16(0, true);
    const samples = us(0x00280002), bytesPerSample = us(0x00280100) / 8, pixels = f.rows * f.columns;
    const px = els.find((e) => e.tag === 0x7fe00010)!;
    const frameBytes = pixels * samples * bytesPerSample;
    const frames = Array.from({ length: f.frames }, (_, k) => rleFrame(px.value!.subarray(k * frameBytes, (k + 1) * frameBytes), pixels, samples, bytesPerSample));
    els = els.map((e) => (e.tag === 0x7fe00010 ? { ...e, vr: 'OB', value: undefined, encapsulated: encapsulate(frames) } as Walked & { encapsulated: Uint8Array } : e));
    const parts: Uint8Array[] = [meta()];
    for (const e of els) {
      const enc = (e as Walked & { encapsulated?: Uint8Array }).encapsulated;
      if (!enc) { parts.push(encode([e], true, false)); continue; }
      const head = new Uint8Array(12);
      const hv = new DataView(head.buffer);
      hv.setUint16(0, 0x7fe0, true); hv.setUint16(2, 0x0010, true); head[4] = 0x4f; head[5] = 0x42; hv.setUint32(8, 0xffffffff, true);
      parts.push(head, enc);
    }
    return concat(parts);
  }
  switch (encoding) {
    case 'explicit-le': return written;
    case 'implicit-le': return concat([meta(), encode(els, false, false)]);
    case 'explicit-be': return concat([meta(), encode(els, true, true, pixelSwap)]);
    case 'deflated': return concat([meta(), deflateRawSync(encode(els, true, false))]);
    case 'no-meta-implicit': return encode(els, false, false);
    case 'no-meta-explicit': return encode(els, true, false);
    case 'no-meta-be': return encode(els, true, true, pixelSwap);
  }
}

/**
 * Part 10 bytes with one File Meta element removed (the group length is fixed up), e.g. a meta
 * group without its Transfer Syntax UID.
 */
export function withoutMetaElement(bytes: Uint8Array, tag: number): Uint8Array {
  const metaLen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(140, true);
  const meta = walk(bytes, 144, 144 + metaLen).filter((e) => e.tag !== tag);
  const body = encode(meta, true, false);
  const head = bytes.slice(0, 144);
  new DataView(head.buffer).setUint32(140, body.length, true);
  return concat([head, body, bytes.subarray(144 + metaLen)]);
}
