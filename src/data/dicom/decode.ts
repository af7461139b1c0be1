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
import { j2kFrameHeader, j2kResolutions, jpegColourMarkers, jpegFrameHeader, withoutColourTransform, type CodestreamHeader } from './codecs/jpeg-markers.js';

/** Largest frame (rows × columns) radml decodes; bigger declared sizes are treated as hostile. */
export const MAX_FRAME_PIXELS = 1 << 26;

export interface RawFrame {
  /** Size of the decoded frame: Columns × Rows, or smaller for a reduced-resolution JPEG 2000 decode. */
  width: number;
  height: number;
  /**
   * Stored values in an unsigned container (sign is restored later from Bits Stored); Float and Double
   * Float Pixel Data keep their floating-point values.
   */
  samples: Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;
  samplesPerPixel: number;
  /** Colour-by-plane (RR…GG…BB…) rather than colour-by-pixel. */
  planar: boolean;
  /** How to turn three samples into grey: RGB → luma; YBR_FULL → RGB (as pydicom converts it) → luma. */
  colour: 'mono' | 'rgb' | 'ybr';
  /** Set for codec output: values sit in the low bits (no High Bit shift) with this many bits. */
  codecPrecision?: number;
  /** Codec output that is already two's complement in its container (JPEG 2000 signed components). */
  codecSigned?: boolean;
}

const SUPPORTED_PHOTOMETRIC = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT']);

/** Check the header describes an image radml can decode; throws UnsupportedError / InputError otherwise. */
export function checkImageHeader(h: DicomHeader, file: string): void {
  if (!h.hasPixelData) {
    const sop = h.sopClassName.startsWith('SOP class') || h.sopClassName.startsWith('unknown') ? h.sopClassName : `SOP class ${h.sopClassName}`;
    throw new UnsupportedError('DICOM_NO_PIXELS', `${file}: no Pixel Data (7FE0,0010) nor Float/Double Float Pixel Data (7FE0,0008/0009); ${sop} is not an image`, { file });
  }
  if (h.invalidNumberOfFrames !== '') {
    throw new InputError(
      'DICOM_BAD_NUMBER_OF_FRAMES',
      `${file}: Number of Frames (0028,0008) is '${h.invalidNumberOfFrames}', not a whole number; radml will not guess how many frames the Pixel Data holds`,
      { file },
    );
  }
  if (!SUPPORTED_PHOTOMETRIC.has(h.photometricInterpretation)) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PHOTOMETRIC', `${file}: unsupported photometric interpretation ${h.photometricInterpretation}`, { file });
  }
  if (h.pixelDataKind !== 'integer') {
    const bits = h.pixelDataKind === 'float' ? 32 : 64;
    if (h.bitsAllocated !== bits || h.samplesPerPixel !== 1) {
      throw new InputError('DICOM_CORRUPT', `${file}: ${h.pixelDataKind === 'float' ? 'Float' : 'Double Float'} Pixel Data needs Bits Allocated ${bits} and 1 sample per pixel, the header says ${h.bitsAllocated} and ${h.samplesPerPixel}`, { file });
    }
    if (h.rows < 1 || h.columns < 1) throw new InputError('DICOM_CORRUPT', `${file}: image has ${h.rows} rows and ${h.columns} columns`, { file });
    if (h.rows * h.columns > MAX_FRAME_PIXELS) {
      throw new UnsupportedError('DICOM_TOO_LARGE', `${file}: a ${h.rows}×${h.columns} frame is larger than radml reads (${MAX_FRAME_PIXELS} pixels)`, { file });
    }
    return;
  }
  if (h.rows < 1 || h.columns < 1) throw new InputError('DICOM_CORRUPT', `${file}: image has ${h.rows} rows and ${h.columns} columns`, { file });
  if (h.rows * h.columns > MAX_FRAME_PIXELS) {
    throw new UnsupportedError('DICOM_TOO_LARGE', `${file}: a ${h.rows}×${h.columns} frame is larger than radml reads (${MAX_FRAME_PIXELS} pixels)`, { file });
  }
  if (h.samplesPerPixel !== 1 && h.samplesPerPixel !== 3) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PIXELS', `${file}: ${h.samplesPerPixel} samples per pixel (radml reads 1 or 3)`, { file });
  }
  if (h.samplesPerPixel === 1 && !h.photometricInterpretation.startsWith('MONOCHROME') && h.photometricInterpretation !== 'PALETTE COLOR') {
    throw new InputError('DICOM_CORRUPT', `${file}: ${h.photometricInterpretation} with 1 sample per pixel`, { file });
  }
  if (![1, 8, 16, 32].includes(h.bitsAllocated)) {
    throw new UnsupportedError('DICOM_UNSUPPORTED_PIXELS', `${file}: Bits Allocated ${h.bitsAllocated} (radml reads 1, 8, 16 or 32)`, { file });
  }
  if (h.bitsStored < 1 || h.bitsStored > h.bitsAllocated || h.highBit < h.bitsStored - 1 || h.highBit >= h.bitsAllocated) {
    throw new InputError('DICOM_CORRUPT', `${file}: inconsistent Bits Stored ${h.bitsStored} / High Bit ${h.highBit} / Bits Allocated ${h.bitsAllocated}`, { file });
  }
}

/**
 * Colour space of three decoded samples. As pydicom: YBR_FULL / YBR_FULL_422 are converted to RGB,
 * everything else (RGB; YBR_ICT / YBR_RCT, which the JPEG 2000 codec already turns into RGB) is RGB.
 */
function colourOf(h: DicomHeader): RawFrame['colour'] {
  if (h.samplesPerPixel === 1) return 'mono';
  return h.photometricInterpretation === 'YBR_FULL' || h.photometricInterpretation === 'YBR_FULL_422' ? 'ybr' : 'rgb';
}

/**
 * Colour space of a baseline JPEG's three components, decided as pydicom/pylibjpeg decide it: component
 * IDs 'R','G','B' mean RGB; a JFIF marker means YCbCr; an Adobe APP14 marker's transform flag says
 * which (0 = none, RGB); with no marker the Photometric Interpretation decides, so an RGB-labelled
 * stream is not colour-converted (libjpeg's own guess would convert it).
 */
function jpegColour(data: Uint8Array, h: DicomHeader): RawFrame['colour'] {
  if (h.samplesPerPixel === 1) return 'mono';
  const m = jpegColourMarkers(data);
  const ids = m.componentIds.join(',');
  if (ids === '82,71,66' || ids === '114,103,98') return 'rgb';
  if (m.jfif) return 'ybr';
  if (m.adobeTransform !== undefined) return m.adobeTransform === 0 ? 'rgb' : 'ybr';
  return colourOf(h);
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

function floats(bytes: Uint8Array, count: number, double: boolean, bigEndian: boolean): Float32Array | Float64Array {
  const size = double ? 8 : 4;
  const out = double ? new Float64Array(count) : new Float32Array(count);
  const v = new DataView(bytes.buffer, bytes.byteOffset, count * size);
  for (let i = 0; i < count; i++) out[i] = double ? v.getFloat64(i * size, !bigEndian) : v.getFloat32(i * size, !bigEndian);
  return out;
}

/**
 * Stored samples of one native frame. `pixelData` and `start` (the frame's first byte within it) are
 * needed for 8-bit samples in a big-endian OW value: the encoding swapped the bytes in pairs across the
 * whole value, so sample k of the value sits at byte k ^ 1 — counted from the value's start, not the frame's.
 */
function nativeSamples(
  bytes: Uint8Array,
  bitOffset: number,
  h: DicomHeader,
  bigEndian: boolean,
  vr: string | undefined,
  pixelData: Uint8Array,
  start: number,
): RawFrame['samples'] {
  const count = h.rows * h.columns * (h.photometricInterpretation === 'YBR_FULL_422' && h.samplesPerPixel === 3 ? 2 : h.samplesPerPixel);
  if (h.pixelDataKind !== 'integer') return floats(bytes, count, h.pixelDataKind === 'double', bigEndian);
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
        for (let i = 0; i < count; i++) out[i] = pixelData[(start + i) ^ 1] ?? 0;
        return out;
      }
      return bytes.subarray(0, count);
    case 16:
      return aligned16(bytes.subarray(0, count * 2), bigEndian);
    default:
      return aligned32(bytes.subarray(0, count * 4), bigEndian);
  }
}

/**
 * YBR_FULL_422 native data is Y1 Y2 Cb Cr per pixel pair: expand to Y Cb Cr per pixel, the pair
 * sharing its chroma (PS3.3 C.7.6.3.1.2), as pydicom does.
 */
function expand422(s: RawFrame['samples'], pixels: number): RawFrame['samples'] {
  // A typed array of the same kind; never `s.constructor`, which for a Buffer view is the deprecated Buffer().
  const out = s.BYTES_PER_ELEMENT === 1 ? new Uint8Array(pixels * 3) : s.BYTES_PER_ELEMENT === 2 ? new Uint16Array(pixels * 3) : new Uint32Array(pixels * 3);
  for (let i = 0, p = 0; p < pixels; i += 4) {
    const cb = s[i + 2] ?? 0, cr = s[i + 3] ?? 0;
    out[3 * p] = s[i]!; out[3 * p + 1] = cb; out[3 * p + 2] = cr; p++;
    if (p < pixels) { out[3 * p] = s[i + 1]!; out[3 * p + 1] = cb; out[3 * p + 2] = cr; p++; }
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
    const { bytes, bitOffset, start } = nativeFrame(ds, px, h, index, file);
    const pixelData = ds.byteArray.subarray(px.dataOffset, px.dataOffset + px.length);
    let samples = nativeSamples(bytes, bitOffset, h, ts.bigEndian, px.vr, pixelData, start);
    if (h.photometricInterpretation === 'YBR_FULL_422' && spp === 3) {
      samples = expand422(samples, h.rows * h.columns);
      return { ...full, samples, samplesPerPixel: 3, planar: false, colour: 'ybr' };
    }
    return { ...full, samples, samplesPerPixel: spp, planar: spp > 1 && h.planarConfiguration === 1, colour: colourOf(h) };
  }

  if (h.pixelDataKind !== 'integer') {
    throw new InputError('DICOM_CORRUPT', `${file}: Float Pixel Data with the compressed transfer syntax ${ts.name}`, { file });
  }
  if (!px.encapsulatedPixelData) {
    throw new InputError('DICOM_CORRUPT', `${file}: ${ts.name} needs encapsulated Pixel Data but it is native`, { file });
  }
  const data = encapsulatedFrame(ds, px, h, index, ts.pixels, file);
  try {
    switch (ts.pixels) {
      case 'rle': {
        if (h.bitsAllocated < 8) {
          throw new UnsupportedError('DICOM_UNSUPPORTED_PIXELS', `${file}: RLE Lossless with Bits Allocated ${h.bitsAllocated} is not supported (radml reads RLE of 8, 16 or 32 bits)`, { file });
        }
        const bytes = decodeRle(data, h);
        const samples = h.bitsAllocated === 8 ? bytes : h.bitsAllocated === 16 ? aligned16(bytes, false) : aligned32(bytes, false);
        return { ...full, samples, samplesPerPixel: spp, planar: false, colour: colourOf(h) };
      }
      case 'jpeg-2000': {
        checkCodestream(j2kFrameHeader(data), h, 'JPEG 2000', file);
        const { interleave: _, ...frame } = await viaCodec('openjpeg', data, j2kLevel(data, opts.decodeSize));
        return { ...frame, samplesPerPixel: spp, planar: false, colour: colourOf(h) };
      }
      case 'htj2k': {
        checkCodestream(j2kFrameHeader(data), h, 'HTJ2K', file);
        const { interleave: _, ...frame } = await viaCodec('openjph', data);
        return { ...frame, samplesPerPixel: spp, planar: false, colour: colourOf(h) };
      }
      case 'jpeg-ls': {
        checkCodestream(jpegFrameHeader(data), h, 'JPEG-LS', file);
        const { interleave, ...frame } = await viaCodec('charls', data);
        return { ...frame, samplesPerPixel: spp, planar: spp > 1 && interleave === 0, colour: colourOf(h) };
      }
      default: {
        // The JPEG family: route by the frame header, not the UID (files are often labelled loosely).
        const head = checkCodestream(jpegFrameHeader(data), h, 'JPEG', file);
        if (head.marker === 0xc3 || head.marker === 0xc7) {
          const samples = decodeJpegLossless(data, head.precision);
          return { ...full, samples, samplesPerPixel: spp, planar: false, colour: colourOf(h), codecPrecision: head.precision };
        }
        if (head.precision <= 8 && (head.marker === 0xc0 || head.marker === 0xc1 || head.marker === 0xc2)) {
          // Decode the components as stored (no colour conversion inside libjpeg-turbo), then convert
          // here by the rule pydicom follows, so RGB-labelled streams without markers keep their colours.
          const colour = jpegColour(data, h);
          const { interleave: _, ...frame } = await viaCodec('libjpeg-turbo', spp === 3 ? withoutColourTransform(data) : data);
          return { ...frame, samplesPerPixel: spp, planar: false, colour };
        }
        if (head.precision === 12 && (head.marker === 0xc0 || head.marker === 0xc1)) {
          const frame = decodeJpegDct(data, MAX_FRAME_PIXELS);
          return { ...full, samples: frame.data, samplesPerPixel: spp, planar: false, colour: colourOf(h), codecPrecision: 12 };
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
