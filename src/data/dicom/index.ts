/**
 * DICOM reading for radml. This module owns: recognising DICOM Part 10 files (with or without the
 * preamble; without File Meta in implicit/explicit little endian or explicit big endian), parsing
 * them with dicom-parser, decoding every frame of Pixel Data, Float Pixel Data and Double Float Pixel
 * Data for the native (implicit/explicit little endian, explicit big endian, deflated), RLE, JPEG
 * baseline/extended (8- and 12-bit), JPEG lossless, JPEG-LS, JPEG 2000 and High-Throughput JPEG 2000
 * transfer syntaxes, the pixel pipeline to a display-ready GreyImage (Bits Stored, sign, planar
 * configuration, PALETTE COLOR through its plain or segmented LUTs, YBR → RGB as pydicom converts it,
 * colour → luma, rescale to modality values, VOI LUT / window / min–max, MONOCHROME1 inversion), and
 * the header fields that become manifest columns (the Patient ID salted and hashed by default; the
 * patient's name never read). Writing DICOM lives in writer.ts (owned separately).
 *
 * Colour follows pydicom: a baseline JPEG's components are colour-converted only when the stream
 * (JFIF, Adobe APP14 transform flag, component IDs) or the Photometric Interpretation says YCbCr.
 *
 * Multi-frame files: every frame can be read (`opts.frame`, `DicomImage.readFrame`); the default
 * frame is the middle one (`floor(frames / 2)`), which for a volume or a cine loop is more typical of
 * the series than the first. A Number of Frames that is not a decimal integer is refused.
 *
 * Enhanced multi-frame objects: rescale and window come from the frame's Per-frame Functional Groups
 * item, else the Shared Functional Groups, else the top level.
 *
 * A Modality LUT Sequence replaces the rescale. Limits, by design: colour images become BT.601 luma
 * (no rescale; VOI = window if given, else the full stored range); Float Pixel Data is read as stored
 * (no Real World Value Mapping); progressive or arithmetic JPEG at 12 bits, RLE of 1-bit data and
 * Deflated Image Frame Compression are refused with UnsupportedError. Frames above MAX_FRAME_PIXELS
 * are refused as hostile, and deflated data sets that inflate past `maxInflatedBytes` (default
 * 128 MiB) with DicomInflateLimitError.
 */
import { readFile } from 'node:fs/promises';
import type { GreyImage } from '../grey-image.js';
import { InputError, errorMessage } from '../../util/errors.js';
import { parseDicomBytes, requireTransferSyntax, type ParsedDicom, type ParseOptions } from './parse.js';
import { extractHeader, frameHeader, headerColumns, type DicomHeader, type PatientIdOptions } from './header.js';
import { checkImageHeader, decodeRawFrame, type DecodeOptions } from './decode.js';
import { displayValues, modalityValues, storedValues, type VoiSource } from './pixels.js';
import { applyPalette, readPalette } from './palette.js';
import { pixelDataTag } from './header.js';

export { isDicom, hasDicomPreamble, DicomInflateLimitError, DEFAULT_MAX_INFLATED_BYTES, type ParseOptions } from './parse.js';
export {
  DicomHeaderSchema,
  DEFAULT_PATIENT_ID_SALT,
  hashPatientId,
  headerColumns,
  parseDicomAge,
  ageFromDates,
  type DicomHeader,
  type PatientIdOptions,
} from './header.js';
export { SUPPORTED_TRANSFER_SYNTAXES, transferSyntaxName } from './transfer-syntax.js';
export { applyWindow, type VoiSource } from './pixels.js';
export { MAX_FRAME_PIXELS } from './decode.js';

export interface DicomHeaderOptions extends PatientIdOptions, ParseOptions {}

export interface DicomReadOptions extends DicomHeaderOptions {
  /** 0-based frame index; default the middle frame, floor(frames / 2). */
  frame?: number;
  /**
   * Speed-up for ingest at a fixed model size: JPEG 2000 frames are decoded at the coarsest wavelet
   * resolution level whose sides are both ≥ decodeSize, so `image` and `modalityValues` may be smaller
   * than Rows × Columns (the header keeps the stored size). Other transfer syntaxes decode at full size.
   */
  decodeSize?: number;
}

export interface DicomFrame {
  /** Display-ready image in [0, 1], 0 = black. */
  image: GreyImage;
  /** Modality values (after Rescale Slope/Intercept: HU for CT), row-major like `image.data`. */
  modalityValues: Float32Array;
  /** Which VOI step produced `image`. */
  voi: VoiSource;
}

export interface DicomImage extends DicomFrame {
  /** Number of frames in the file. */
  frames: number;
  /** 0-based index of the frame in `image`. */
  frame: number;
  header: DicomHeader;
  /** Manifest columns from the header (see headerColumns). */
  columns: Record<string, string>;
  /** Decode another frame of the same file. */
  readFrame(index: number): Promise<DicomFrame>;
}

/**
 * Header only, no pixel decoding (input validation at prediction time).
 *
 * @example const h = readDicomHeader(bytes, 'a.dcm'); h.modality // 'CR'
 */
export function readDicomHeader(buf: Uint8Array, file: string, opts: DicomHeaderOptions = {}): DicomHeader {
  return extractHeader(parseDicomBytes(buf, file, opts), opts);
}

async function decodeFrame(parsed: ParsedDicom, header: DicomHeader, index: number, file: string, opts: DecodeOptions): Promise<DicomFrame> {
  const h = frameHeader(parsed.dataSet, header, index);
  const ts = requireTransferSyntax(parsed, file);
  if (!Number.isInteger(index) || index < 0 || index >= h.numberOfFrames) {
    throw new InputError('DICOM_BAD_FRAME', `${file}: frame ${index} requested but the file has ${h.numberOfFrames} frame(s) (0-based)`, { file });
  }
  const ds = parsed.dataSet;
  const px = ds.elements[pixelDataTag(ds)!]!;
  let raw = await decodeRawFrame(ds, px, ts, h, index, file, opts);
  const expected = raw.width * raw.height * raw.samplesPerPixel;
  if (raw.samples.length < expected) {
    throw new InputError('DICOM_CORRUPT', `${file}: frame ${index + 1} decoded to ${raw.samples.length} samples, expected ${expected}`, { file });
  }
  let hv = h;
  if (h.photometricInterpretation === 'PALETTE COLOR') {
    // Indices → RGB through the palette; from here on the frame is an RGB image of the palette's depth.
    const palette = readPalette(ds, h, !ts.bigEndian, file);
    raw = applyPalette(raw, palette, storedValues(h, raw));
    hv = { ...h, samplesPerPixel: 3, photometricInterpretation: 'RGB', bitsStored: palette.bits, highBit: palette.bits - 1, pixelRepresentation: 0, windowCenter: [], windowWidth: [] };
  }
  const values = modalityValues(raw, hv, ds);
  const { data, voi } = displayValues(values, hv, ds);
  return { image: { width: raw.width, height: raw.height, data }, modalityValues: values, voi };
}

/**
 * Read a DICOM image: header, manifest columns and one decoded frame.
 *
 * @example
 *   const d = await readDicom(readFileSync('cr.dcm'), 'cr.dcm');
 *   d.image.width; d.columns.view; d.modalityValues[0];
 */
export async function readDicom(buf: Uint8Array, file: string, opts: DicomReadOptions = {}): Promise<DicomImage> {
  const parsed = parseDicomBytes(buf, file, opts);
  const header = extractHeader(parsed, opts);
  checkImageHeader(header, file);
  requireTransferSyntax(parsed, file);
  const frame = opts.frame ?? Math.floor(header.numberOfFrames / 2);
  const decodeOpts: DecodeOptions = opts.decodeSize !== undefined ? { decodeSize: opts.decodeSize } : {};
  const first = await decodeFrame(parsed, header, frame, file, decodeOpts);
  return {
    ...first,
    frames: header.numberOfFrames,
    frame,
    header,
    columns: headerColumns(header),
    readFrame: (index: number) => decodeFrame(parsed, header, index, file, decodeOpts),
  };
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new InputError('FILE_UNREADABLE', `${path}: cannot read file (${errorMessage(e)})`, { file: path, cause: e });
  }
}

/**
 * readDicom on a file path.
 *
 * @example const d = await readDicomFile('scans/ct.dcm', { keepPatientIds: false });
 */
export async function readDicomFile(path: string, opts: DicomReadOptions = {}): Promise<DicomImage> {
  return readDicom(await readBytes(path), path, opts);
}

/** readDicomHeader on a file path. */
export async function readDicomHeaderFile(path: string, opts: DicomHeaderOptions = {}): Promise<DicomHeader> {
  return readDicomHeader(await readBytes(path), path, opts);
}

