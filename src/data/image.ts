/**
 * One entry point for reading any supported image file into a GreyImage: PNG, JPEG, TIFF (through
 * sharp, 8 or 16 bit, colour to grey) and DICOM (src/data/dicom). The format is decided from the
 * file's bytes, not its name — public collections hold `.jpg` files that are really PNG.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { InputError, UnsupportedError } from '../util/errors.js';
import type { GreyImage } from './grey-image.js';
import { hasDicomPreamble, isDicom, readDicom } from './dicom/index.js';

export type ImageFormat = 'png' | 'jpeg' | 'tiff' | 'dicom' | 'webp' | 'unknown';

export function sniffFormat(buf: Uint8Array): ImageFormat {
  const b = buf;
  // DICOM first: a Part 10 preamble may itself hold a TIFF header (dual-personality files).
  if (hasDicomPreamble(b)) return 'dicom';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  if (isDicom(b)) return 'dicom';
  return 'unknown';
}

export interface ReadImageOptions {
  /** Keep raw DICOM PatientID instead of a salted hash (only when the user asks). */
  keepPatientIds?: boolean;
  /** Salt for hashing patient IDs, so the same patient maps to the same pseudonym within a project. */
  salt?: string;
  /**
   * The caller will downsample to this side anyway: JPEG 2000 DICOM may then decode at a coarser
   * resolution level (still ≥ this size), several times faster than a full decode.
   */
  decodeSize?: number;
  /** DICOM with the deflated transfer syntax: refuse data sets that inflate past this (see DicomReadOptions). */
  maxInflatedBytes?: number;
}

export interface ReadImageResult {
  image: GreyImage;
  format: ImageFormat;
  /** Manifest columns read from the file's header (DICOM only): sex, age, modality, view, site, … */
  columns: Record<string, string>;
}

// Refuse absurd raster sizes before decoding (a hostile PNG header can claim 2³¹ pixels).
const MAX_PIXELS = 16384 * 16384;

/** Decode a raster image (PNG/JPEG/TIFF/WebP) to grey in [0, 1], keeping 16-bit depth when present. */
export async function decodeRaster(buf: Uint8Array, file: string): Promise<GreyImage> {
  let meta: Metadata;
  try {
    meta = await sharp(buf, { failOn: 'error' }).metadata();
  } catch (e) {
    throw new InputError('IMAGE_CORRUPT', `${file}: cannot read the image header (${(e as Error).message})`, { file, cause: e });
  }
  if (!meta.width || !meta.height) throw new InputError('IMAGE_CORRUPT', `${file}: the image has no size`, { file });
  if (meta.width * meta.height > MAX_PIXELS) throw new UnsupportedError('IMAGE_TOO_LARGE', `${file}: ${meta.width}×${meta.height} pixels is larger than radml accepts`, { file });
  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  try {
    // Flatten alpha onto black so transparent borders read as background, not as white.
    let pipe = sharp(buf, { failOn: 'error', limitInputPixels: MAX_PIXELS }).rotate().flatten({ background: '#000000' });
    pipe = sixteen ? pipe.toColourspace('grey16') : pipe.greyscale();
    const { data, info } = await pipe.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const out = new Float32Array(n);
    const ch = info.channels;
    if (sixteen) {
      const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
      for (let i = 0; i < n; i++) out[i] = u16[i * ch]! / 65535;
    } else {
      for (let i = 0; i < n; i++) out[i] = data[i * ch]! / 255;
    }
    return { width: info.width, height: info.height, data: out };
  } catch (e) {
    throw new InputError('IMAGE_CORRUPT', `${file}: cannot decode the image (${(e as Error).message})`, { file, cause: e });
  }
}

/** Read PNG, JPEG, TIFF, WebP or DICOM from bytes already in memory. */
export async function readImageBuffer(buf: Uint8Array, file: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  if (buf.byteLength === 0) throw new InputError('IMAGE_EMPTY', `${file}: the file is empty`, { file });
  const format = sniffFormat(buf);
  if (format === 'dicom') {
    const d = await readDicom(buf, file, {
      ...(opts.keepPatientIds !== undefined && { keepPatientIds: opts.keepPatientIds }),
      ...(opts.salt !== undefined && { salt: opts.salt }),
      ...(opts.decodeSize !== undefined && { decodeSize: opts.decodeSize }),
      ...(opts.maxInflatedBytes !== undefined && { maxInflatedBytes: opts.maxInflatedBytes }),
    });
    return { image: d.image, format, columns: d.columns };
  }
  if (format === 'unknown') throw new UnsupportedError('IMAGE_FORMAT', `${file}: not a PNG, JPEG, TIFF, WebP or DICOM file`, { file });
  return { image: await decodeRaster(buf, file), format, columns: {} };
}

/** Read one image file. Errors name the file and the reason. */
export async function readImage(path: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new InputError('FILE_UNREADABLE', `${path}: ${why}`, { file: path, cause: e });
  }
  return readImageBuffer(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path, opts);
}
