/** One frame's Pixel Data → raw stored samples, for every transfer syntax radml reads. */
import type { DataSet, Element } from 'dicom-parser';
import { InputError, UnsupportedError, errorMessage } from '../../util/errors.js';
import type { DicomHeader } from './header.js';
import type { TransferSyntax } from './transfer-syntax.js';
import { encapsulatedFrame, nativeFrame } from './frames.js';
import { decodeRle } from './codecs/rle.js';
import { decodeWithCodec, type CodecName } from './codecs/wasm.js';
import { decodeJpegDct } from './codecs/jpeg-dct.js';
import { decodeJpegLossless } from './codecs/jpeg-lossless.js';
import { j2kFrameHeader, j2kResolutions, jpegFrameHeader, type CodestreamHeader } from './codecs/jpeg-markers.js';

/** Largest frame (rows × columns) radml decodes; bigger declared sizes are treated as hostile. */
export const MAX_FRAME_PIXELS = 1 << 26;

export interface RawFrame {
  /** Size of the decoded frame: Columns × Rows, or smaller for a reduced-resolution JPEG 2000 decode. */
  width: number;
  height: number;
  /** Stored values in an unsigned container (sign is restored later from Bits Stored). */
  samples: Uint8Array | Uint16Array | Uint32Array;
  samplesPerPixel: number;
  /** Colour-by-plane (RR…GG…BB…) rather than colour-by-pixel. */
  planar: boolean;
  /** How to turn three samples into grey: RGB → luma, YBR → the Y sample. */
  colour: 'mono' | 'rgb' | 'ybr';
  /** Set for codec output: values sit in the low bits (no High Bit shift) with this many bits. */
  codecPrecision?: number;
  /** Codec output that is already two's complement in its container (JPEG 2000 signed components). */
  codecSigned?: boolean;
}

const SUPPORTED_PHOTOMETRIC = new Set(['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT']);

/** Check the header describes an image radml can decode; throws UnsupportedError / InputError otherwise. */
export function checkImageHeader(h: DicomHeader, file: string): void {
  if (!h.hasPixelData) {
    throw new UnsupportedError('DICOM_NO_PIXELS', `${file}: no Pixel Data (7FE0,0010); SOP class ${h.sopClassName} is not an image`, { file });
  }
  if (!SUPPORTED_PHOTOMETRIC.has(h.photometricInterpretation)) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PHOTOMETRIC', `${file}: unsupported photometric interpretation ${h.photometricInterpretation}`, { file });
  }
  if (h.rows < 1 || h.columns < 1) throw new InputError('DICOM_CORRUPT', `${file}: image has ${h.rows} rows and ${h.columns} columns`, { file });
  if (h.rows * h.columns > MAX_FRAME_PIXELS) {
    throw new UnsupportedError('DICOM_TOO_LARGE', `${file}: a ${h.rows}×${h.columns} frame is larger than radml reads (${MAX_FRAME_PIXELS} pixels)`, { file });
  }
  if (h.samplesPerPixel !== 1 && h.samplesPerPixel !== 3) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PIXELS', `${file}: ${h.samplesPerPixel} samples per pixel (radml reads 1 or 3)`, { file });
  }
  if (h.samplesPerPixel === 1 && !h.photometricInterpretation.startsWith('MONOCHROME')) {
    throw new InputError('DICOM_CORRUPT', `${file}: ${h.photometricInterpretation} with 1 sample per pixel`, { file });
  }
  if (![1, 8, 16, 32].includes(h.bitsAllocated)) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PIXELS', `${file}: Bits Allocated ${h.bitsAllocated} (radml reads 1, 8, 16 or 32)`, { file });
  }
  if (h.bitsStored < 1 || h.bitsStored > h.bitsAllocated || h.highBit < h.bitsStored - 1 || h.highBit >= h.bitsAllocated) {
    throw new InputError('DICOM_CORRUPT', `${file}: inconsistent Bits Stored ${h.bitsStored} / High Bit ${h.highBit} / Bits Allocated ${h.bitsAllocated}`, { file });
  }
}

function colourOf(h: DicomHeader, fromCodec: boolean): RawFrame['colour'] {
  if (h.samplesPerPixel === 1) return 'mono';
  // Codecs hand back RGB (JPEG's YCbCr and JPEG 2000's ICT/RCT are undone inside them).
  if (fromCodec) return 'rgb';
  return h.photometricInterpretation.startsWith('YBR') ? 'ybr' : 'rgb';
}

function aligned16(bytes: Uint8Array, swap: boolean): Uint16Array {
  const n = bytes.length >> 1;
  if (!swap && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint16Array(n);
  if (swap) for (let i = 0; i < n; i++) out[i] = (bytes[2 * i]! << 8) | bytes[2 * i + 1]!;
  else new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
  return out;
}

function aligned32(bytes: Uint8Array, swap: boolean): Uint32Array {
  const n = bytes.length >> 2;
  const out = new Uint32Array(n);
  const v = new DataView(bytes.buffer, bytes.byteOffset, n * 4);
  for (let i = 0; i < n; i++) out[i] = v.getUint32(i * 4, !swap);
  return out;
}

function nativeSamples(bytes: Uint8Array, bitOffset: number, h: DicomHeader, bigEndian: boolean, vr: string | undefined): RawFrame['samples'] {
  const count = h.rows * h.columns * (h.photometricInterpretation === 'YBR_FULL_422' ? 2 : h.samplesPerPixel);
  switch (h.bitsAllocated) {
    case 1: {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const b = bitOffset + i;
        out[i] = (bytes[b >> 3]! >> (b & 7)) & 1;
      }
      return out;
    }
    case 8:
      if (bigEndian && vr === 'OW') {
        // 8-bit samples in an OW value are byte-swapped in pairs by the big-endian encoding.
        const out = new Uint8Array(count);
        for (let i = 0; i < count; i++) out[i] = bytes[i ^ 1] ?? 0;
        return out;
      }
      return bytes.subarray(0, count);
    case 16:
      return aligned16(bytes.subarray(0, count * 2), bigEndian);
    default:
      return aligned32(bytes.subarray(0, count * 4), bigEndian);
  }
}

/** YBR_FULL_422 native data is Y Y Cb Cr per pixel pair: keep the luma samples only. */
function lumaOf422(s: RawFrame['samples'], pixels: number): RawFrame['samples'] {
  const out = new (s.constructor as new (n: number) => RawFrame['samples'])(pixels);
  for (let i = 0, p = 0; p < pixels; i += 4) {
    out[p++] = s[i]!;
    if (p < pixels) out[p++] = s[i + 1]!;
  }
  return out;
}

function checkCodestream(head: CodestreamHeader | undefined, h: DicomHeader, what: string, file: string): CodestreamHeader {
  if (!head) throw new InputError('DICOM_CORRUPT', `${file}: ${what} frame has no readable frame header`, { file });
  if (head.width !== h.columns || head.height !== h.rows) {
    throw new InputError(
      'DICOM_CORRUPT',
      `${file}: ${what} codestream is ${head.width}×${head.height} but the header says ${h.columns}×${h.rows}`,
      { file },
    );
  }
  if (head.components !== h.samplesPerPixel) {
    throw new InputError('DICOM_CORRUPT', `${file}: ${what} codestream has ${head.components} component(s), the header says ${h.samplesPerPixel}`, { file });
  }
  return head;
}

function codecSamples(bytes: Uint8Array, bitsPerSample: number): RawFrame['samples'] {
  return bitsPerSample <= 8 ? bytes : aligned16(bytes, false);
}

/** The coarsest JPEG 2000 resolution level whose sides are both ≥ minSide (0 = full size). */
function j2kLevel(data: Uint8Array, minSide: number | undefined): { level: number; reducedSize?: { width: number; height: number } } {
  if (minSide === undefined) return { level: 0 };
  const sizes = j2kResolutions(data);
  if (!sizes) return { level: 0 };
  let level = 0;
  for (let l = 1; l < sizes.length; l++) {
    if (sizes[l]!.width < minSide || sizes[l]!.height < minSide) break;
    level = l;
  }
  return level > 0 ? { level, reducedSize: sizes[level]! } : { level: 0 };
}

interface CodecFrame {
  samples: RawFrame['samples'];
  interleave?: number;
  width: number;
  height: number;
  codecPrecision: number;
  codecSigned: boolean;
}

async function viaCodec(
  codec: CodecName,
  data: Uint8Array,
  reduce: { level?: number; reducedSize?: { width: number; height: number } } = {},
): Promise<CodecFrame> {
  const { info, bytes, interleaveMode } = await decodeWithCodec(codec, data, reduce);
  const perSample = info.bitsPerSample <= 8 ? 1 : 2;
  if (bytes.length < info.width * info.height * info.componentCount * perSample) {
    throw new Error(`${codec} returned ${bytes.length} bytes for a ${info.width}×${info.height} frame`);
  }
  const r: CodecFrame = {
    samples: codecSamples(bytes, info.bitsPerSample),
    width: info.width,
    height: info.height,
    codecPrecision: info.bitsPerSample,
    codecSigned: info.isSigned === true,
  };
  if (interleaveMode !== undefined) r.interleave = interleaveMode;
  return r;
}

export interface DecodeOptions {
  /** JPEG 2000 only: decode the coarsest resolution level whose sides are both ≥ this (for fixed-size ingest). */
  decodeSize?: number;
}

/**
 * Decode frame `index` (0-based) of a parsed file into raw stored samples.
 */
export async function decodeRawFrame(
  ds: DataSet,
  px: Element,
  ts: TransferSyntax,
  h: DicomHeader,
  index: number,
  file: string,
  opts: DecodeOptions = {},
): Promise<RawFrame> {
  const spp = h.samplesPerPixel;
  const full = { width: h.columns, height: h.rows };
  if (ts.pixels === 'native') {
    const { bytes, bitOffset } = nativeFrame(ds, px, h, index, file);
    let samples = nativeSamples(bytes, bitOffset, h, ts.bigEndian, px.vr);
    if (h.photometricInterpretation === 'YBR_FULL_422') {
      samples = lumaOf422(samples, h.rows * h.columns);
      return { ...full, samples, samplesPerPixel: 1, planar: false, colour: 'mono' };
    }
    return { ...full, samples, samplesPerPixel: spp, planar: spp > 1 && h.planarConfiguration === 1, colour: colourOf(h, false) };
  }

  if (!px.encapsulatedPixelData) {
    throw new InputError('DICOM_CORRUPT', `${file}: ${ts.name} needs encapsulated Pixel Data but it is native`, { file });
  }
  const data = encapsulatedFrame(ds, px, h, index, ts.pixels, file);
  try {
    switch (ts.pixels) {
      case 'rle': {
        if (h.bitsAllocated < 8) throw new Error(`RLE with Bits Allocated ${h.bitsAllocated}`);
        const bytes = decodeRle(data, h);
        const samples = h.bitsAllocated === 8 ? bytes : h.bitsAllocated === 16 ? aligned16(bytes, false) : aligned32(bytes, false);
        return { ...full, samples, samplesPerPixel: spp, planar: false, colour: colourOf(h, false) };
      }
      case 'jpeg-2000': {
        checkCodestream(j2kFrameHeader(data), h, 'JPEG 2000', file);
        const { interleave: _, ...frame } = await viaCodec('openjpeg', data, j2kLevel(data, opts.decodeSize));
        return { ...frame, samplesPerPixel: spp, planar: false, colour: colourOf(h, true) };
      }
      case 'jpeg-ls': {
        checkCodestream(jpegFrameHeader(data), h, 'JPEG-LS', file);
        const { interleave, ...frame } = await viaCodec('charls', data);
        return { ...frame, samplesPerPixel: spp, planar: spp > 1 && interleave === 0, colour: colourOf(h, true) };
      }
      default: {
        // The JPEG family: route by the frame header, not the UID (files are often labelled loosely).
        const head = checkCodestream(jpegFrameHeader(data), h, 'JPEG', file);
        if (head.marker === 0xc3 || head.marker === 0xc7) {
          const samples = decodeJpegLossless(data, head.precision);
          return { ...full, samples, samplesPerPixel: spp, planar: false, colour: colourOf(h, true), codecPrecision: head.precision };
        }
        if (head.precision <= 8 && (head.marker === 0xc0 || head.marker === 0xc1 || head.marker === 0xc2)) {
          const { interleave: _, ...frame } = await viaCodec('libjpeg-turbo', data);
          return { ...frame, samplesPerPixel: spp, planar: false, colour: colourOf(h, true) };
        }
        if (head.precision === 12 && (head.marker === 0xc0 || head.marker === 0xc1)) {
          const frame = decodeJpegDct(data, MAX_FRAME_PIXELS);
          return { ...full, samples: frame.data, samplesPerPixel: spp, planar: false, colour: colourOf(h, true), codecPrecision: 12 };
        }
        throw new UnsupportedError(
          'DICOM_UNSUPPORTED_TRANSFER_SYNTAX',
          `${file}: JPEG process SOF${head.marker - 0xc0} at ${head.precision} bits is not supported`,
          { file },
        );
      }
    }
  } catch (e) {
    if (e instanceof InputError || e instanceof UnsupportedError) throw e;
    throw new InputError('DICOM_CORRUPT', `${file}: cannot decode ${ts.name} frame ${index + 1}: ${errorMessage(e)}`, { file, cause: e });
  }
}
