/** Locating one frame's bytes inside Pixel Data: native (uncompressed) or encapsulated fragments. */
import type { DataSet, Element, Fragment } from 'dicom-parser';
import { InputError } from '../../util/errors.js';
import type { DicomHeader } from './header.js';
import type { PixelEncoding } from './transfer-syntax.js';

/** Bits of one native frame (bit-packed for BitsAllocated 1). */
export function nativeFrameBits(h: DicomHeader): number {
  const perPixel = h.photometricInterpretation === 'YBR_FULL_422' && h.samplesPerPixel === 3 ? 2 : h.samplesPerPixel;
  return h.rows * h.columns * perPixel * h.bitsAllocated;
}

/**
 * Bytes of native frame `index`. For BitsAllocated 1 the frame may start mid-byte: `bitOffset` says where.
 */
export function nativeFrame(ds: DataSet, px: Element, h: DicomHeader, index: number, file: string): { bytes: Uint8Array; bitOffset: number; start: number } {
  const bits = nativeFrameBits(h);
  const startBit = bits * index;
  const start = Math.floor(startBit / 8);
  const end = Math.ceil((startBit + bits) / 8);
  if (end > px.length || px.dataOffset + end > ds.byteArray.length) {
    throw new InputError(
      'DICOM_TRUNCATED',
      `${file}: Pixel Data holds ${Math.min(px.length, ds.byteArray.length - px.dataOffset)} bytes but frame ${index + 1} of ${h.numberOfFrames} (${h.rows}×${h.columns}, ${h.samplesPerPixel} sample(s), ${h.bitsAllocated} bits) needs bytes up to ${end}`,
      { file },
    );
  }
  return { bytes: ds.byteArray.subarray(px.dataOffset + start, px.dataOffset + end), bitOffset: startBit % 8, start };
}

function concat(ds: DataSet, frags: Fragment[], file: string): Uint8Array {
  let total = 0;
  for (const f of frags) {
    if (f.position + f.length > ds.byteArray.length) {
      throw new InputError('DICOM_TRUNCATED', `${file}: truncated DICOM: a Pixel Data fragment runs past the end of the file`, { file });
    }
    total += f.length;
  }
  if (frags.length === 1) return ds.byteArray.subarray(frags[0]!.position, frags[0]!.position + frags[0]!.length);
  const out = new Uint8Array(total);
  let o = 0;
  for (const f of frags) {
    out.set(ds.byteArray.subarray(f.position, f.position + f.length), o);
    o += f.length;
  }
  return out;
}

/** Whether a fragment starts a new compressed frame (SOI for the JPEG family, SOC or a JP2 box for JPEG 2000). */
function startsFrame(ds: DataSet, f: Fragment, encoding: PixelEncoding): boolean {
  const b = ds.byteArray;
  const p = f.position;
  if (f.length < 2) return false;
  if (encoding === 'jpeg-2000' || encoding === 'htj2k') return (b[p] === 0xff && b[p + 1] === 0x4f) || (f.length >= 8 && b[p + 4] === 0x6a && b[p + 5] === 0x50);
  return b[p] === 0xff && b[p + 1] === 0xd8;
}

/**
 * The compressed bytes of frame `index` from encapsulated Pixel Data. Uses the Basic Offset Table when
 * present, else one fragment per frame when the counts match, else start-of-codestream markers.
 */
export function encapsulatedFrame(ds: DataSet, px: Element, h: DicomHeader, index: number, encoding: PixelEncoding, file: string): Uint8Array {
  const frags = px.fragments ?? [];
  if (frags.length === 0) throw new InputError('DICOM_CORRUPT', `${file}: encapsulated Pixel Data has no fragments`, { file });
  const frames = h.numberOfFrames;
  const bot = px.basicOffsetTable ?? [];
  let chosen: Fragment[];
  if (frames === 1) {
    chosen = frags;
  } else if (bot.length === frames) {
    const start = bot[index]!;
    const end = index + 1 < frames ? bot[index + 1]! : Infinity;
    chosen = frags.filter((f) => f.offset >= start && f.offset < end);
  } else if (frags.length === frames) {
    chosen = [frags[index]!];
  } else if (encoding === 'rle') {
    throw new InputError('DICOM_CORRUPT', `${file}: RLE Pixel Data has ${frags.length} fragments for ${frames} frames`, { file });
  } else {
    const starts: number[] = [];
    frags.forEach((f, i) => { if (startsFrame(ds, f, encoding)) starts.push(i); });
    if (starts.length !== frames) {
      throw new InputError('DICOM_CORRUPT', `${file}: cannot split ${frags.length} Pixel Data fragments into ${frames} frames`, { file });
    }
    chosen = frags.slice(starts[index]!, index + 1 < frames ? starts[index + 1]! : frags.length);
  }
  if (chosen.length === 0) throw new InputError('DICOM_CORRUPT', `${file}: frame ${index + 1} has no Pixel Data fragments`, { file });
  return concat(ds, chosen, file);
}
