/**
 * Parsing a DICOM byte stream into a dicom-parser data set, with the guards radml needs for
 * hostile input: a file that is not DICOM, a preamble-less file, a truncated file, a deflate bomb.
 */
import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';
import type { DataSet, Element } from 'dicom-parser';
import { InputError, UnsupportedError, errorMessage } from '../../util/errors.js';
import { transferSyntax, transferSyntaxName, type TransferSyntax } from './transfer-syntax.js';

// dicom-parser ships a UMD bundle whose named exports Node's ESM loader cannot see; require it.
const require = createRequire(import.meta.url);
const dicomParser = require('dicom-parser') as typeof import('dicom-parser');

/**
 * Default for `maxInflatedBytes`: the largest inflated data set accepted for the deflated transfer
 * syntax. Deflate reaches ~1000:1, so without a cap a 600 KB upload becomes 600 MB of memory per
 * request; 128 MiB still holds a 4k × 4k × 16-bit radiograph several times over.
 */
export const DEFAULT_MAX_INFLATED_BYTES = 128 * 1024 * 1024;

export interface ParseOptions {
  /**
   * Deflated Explicit VR Little Endian only: refuse a data set that inflates to more than this many
   * bytes (DicomInflateLimitError); default DEFAULT_MAX_INFLATED_BYTES. Inflation stops at the limit,
   * so memory use stays bounded.
   */
  maxInflatedBytes?: number;
}

/** A deflated data set inflates past `maxInflatedBytes` (a decompression bomb, or a very large file). */
export class DicomInflateLimitError extends InputError {
  readonly limit: number;
  constructor(file: string, limit: number, compressedBytes: number) {
    super(
      'DICOM_INFLATE_LIMIT',
      `${file}: the deflated data set (${compressedBytes} bytes) inflates to more than ${limit} bytes, the limit (option maxInflatedBytes); refused as a possible decompression bomb`,
      { file },
    );
    this.limit = limit;
  }
}

export interface ParsedDicom {
  dataSet: DataSet;
  /** Undefined when radml cannot decode the pixels of this transfer syntax (the header is still readable). */
  transferSyntax: TransferSyntax | undefined;
  /** The raw Transfer Syntax UID, also when radml cannot decode its pixels. */
  transferSyntaxUid: string;
}

/** The Part 10 marker: "DICM" right after the 128-byte preamble. */
export function hasDicomPreamble(buf: Uint8Array): boolean {
  return buf.length >= 132 && buf[128] === 0x44 && buf[129] === 0x49 && buf[130] === 0x43 && buf[131] === 0x4d;
}

function isUpper(c: number | undefined): boolean {
  return c !== undefined && c >= 0x41 && c <= 0x5a;
}

/**
 * True when the first element looks like a group 0002/0008 element (a file without preamble):
 * little endian explicit or implicit VR, or explicit VR big endian (group 0008 only).
 */
function startsWithElement(buf: Uint8Array): 'explicit' | 'implicit' | 'big-endian' | undefined {
  if (buf.length < 8) return undefined;
  const beGroup = (buf[0]! << 8) | buf[1]!;
  const beElement = (buf[2]! << 8) | buf[3]!;
  if (beGroup === 0x0008 && beElement <= 0x2000 && isUpper(buf[4]) && isUpper(buf[5])) return 'big-endian';
  const group = buf[0]! | (buf[1]! << 8);
  if (group !== 0x0002 && group !== 0x0008) return undefined;
  const element = buf[2]! | (buf[3]! << 8);
  // Elements of these groups near the start of a data set are small numbers (0000..1fff).
  if (element > 0x2000) return undefined;
  if (isUpper(buf[4]) && isUpper(buf[5])) return 'explicit';
  const length = buf[4]! | (buf[5]! << 8) | (buf[6]! << 16) | (buf[7]! * 2 ** 24);
  // Implicit VR: a 32-bit length that fits in the file (or undefined length for a sequence).
  if (length === 0xffffffff || length <= buf.length - 8) return 'implicit';
  return undefined;
}

/**
 * Whether the bytes are a DICOM file: "DICM" at offset 128, or (no preamble) a stream that starts
 * with a group-0002 or group-0008 element.
 *
 * @example isDicom(readFileSync('ct.dcm')) // true
 */
export function isDicom(buf: Uint8Array): boolean {
  return hasDicomPreamble(buf) || startsWithElement(buf) !== undefined;
}

function inflater(file: string, limit: number) {
  return (arr: Uint8Array, position: number): Uint8Array => {
    let inflated: Buffer;
    const maxOutputLength = Math.max(1, limit - position);
    try {
      // zlib stops at maxOutputLength, so a bomb costs at most `limit` bytes of memory.
      inflated = inflateRawSync(arr.subarray(position), { maxOutputLength });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new DicomInflateLimitError(file, limit, arr.length - position);
      throw new InputError('DICOM_CORRUPT', `${file}: the deflated data set cannot be inflated (${errorMessage(e)})`, { file, cause: e });
    }
    const out = new Uint8Array(position + inflated.length);
    out.set(arr.subarray(0, position), 0);
    out.set(inflated, position);
    return out;
  };
}

/**
 * A data set written in implicit VR although the File Meta says explicit (seen in the wild, and read
 * by pydicom): the first data set element has no VR letters. Parse it again as implicit VR; encapsulated
 * Pixel Data, which dicom-parser then reads as a sequence, is turned back into fragments.
 */
function implicitDataSet(bytes: Uint8Array): DataSet | undefined {
  if (!hasDicomPreamble(bytes)) return undefined;
  let meta: DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch {
    return undefined;
  }
  const start = (meta as DataSet & { position?: number }).position ?? 0;
  const ts = (meta.string('x00020010') ?? '').replace(/\0/g, '').trim();
  if (ts === '' || ts === '1.2.840.10008.1.2' || ts === '1.2.840.10008.1.2.2' || ts === '1.2.840.10008.1.2.1.99') return undefined;
  if (start + 8 > bytes.length || (isUpper(bytes[start + 4]) && isUpper(bytes[start + 5]))) return undefined;
  // One data set over the whole byte array (meta elements included), so every offset stays absolute.
  const DataSetClass = (dicomParser as unknown as { DataSet: new (p: unknown, b: Uint8Array, e: DataSet['elements']) => DataSet }).DataSet;
  const ds = new DataSetClass(dicomParser.littleEndianByteArrayParser, bytes, { ...meta.elements });
  try {
    dicomParser.parseDicomDataSetImplicit(ds, new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, start), bytes.length);
  } catch {
    return undefined;
  }
  const px = ds.elements['x7fe00010'];
  if (px && px.hadUndefinedLength && !px.encapsulatedPixelData) {
    const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, ds.byteArray, px.dataOffset);
    delete px.items;
    px.encapsulatedPixelData = true;
    try {
      dicomParser.findEndOfEncapsulatedElement(stream, px, []);
    } catch {
      return undefined;
    }
  }
  return ds;
}

/**
 * File Meta without a Transfer Syntax UID (pydicom reads these): infer implicit or explicit VR little
 * endian from the first data set element, as for a file without File Meta.
 */
function withoutTransferSyntax(bytes: Uint8Array): { dataSet: DataSet; uid: string } | undefined {
  if (!hasDicomPreamble(bytes)) return undefined;
  const meta = dicomParser.readPart10Header(bytes);
  const start = (meta as DataSet & { position?: number }).position ?? 0;
  const rest = bytes.subarray(start);
  const kind = startsWithElement(rest);
  if (kind === undefined || kind === 'big-endian') return undefined;
  const uid = kind === 'explicit' ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2';
  return { dataSet: dicomParser.parseDicom(rest, { TransferSyntaxUID: uid } as Parameters<typeof dicomParser.parseDicom>[1]), uid };
}

/** Plain words for what dicom-parser threw, without its internal function and parameter names. */
function parserError(e: unknown, file: string): InputError {
  const raw = parserMessage(e);
  const truncated = /past end|beyond|overrun|overread|maxPosition|end of buffer|premature|end of the buffer|cannot be greater than or equal to 'byteArray' length/i.test(raw);
  let why: string;
  if (truncated) why = 'an element or sequence runs past the end of the data';
  else if (/missing required meta header attribute 0002,0010/.test(raw)) why = 'the File Meta group has no Transfer Syntax UID (0002,0010)';
  else if (/basic offset table not found|missing basic offset table/i.test(raw)) why = 'encapsulated Pixel Data does not start with a Basic Offset Table item';
  else if (/DICM prefix not found/.test(raw)) why = 'no "DICM" marker after the preamble';
  else why = raw.replace(/^(dicomParser|[a-zA-Z]+ByteArrayParser)[.:][\w.]*:?\s*/, '').replace(/parameter '\w+'/g, 'a value');
  return new InputError(
    truncated ? 'DICOM_TRUNCATED' : 'DICOM_CORRUPT',
    `${file}: ${truncated ? 'truncated or corrupt DICOM' : 'corrupt DICOM'} (${why})`,
    { file, cause: e },
  );
}

/** Text of whatever dicom-parser threw (it throws strings and `{ exception, dataSet }` objects too). */
function parserMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && 'exception' in e) return parserMessage((e as { exception: unknown }).exception);
  return errorMessage(e);
}

/** End of an element's value in the byte array, for checking it against the buffer. */
export function elementEnd(el: Element): number {
  return el.dataOffset + el.length;
}

/**
 * Parse a DICOM file into a data set. Throws InputError for non-DICOM, truncated or corrupt input and
 * UnsupportedError for a transfer syntax radml cannot read.
 */
export function parseDicomBytes(buf: Uint8Array, file: string, opts: ParseOptions = {}): ParsedDicom {
  let bytes = buf;
  const options: { TransferSyntaxUID?: string; inflater?: (arr: Uint8Array, position: number) => Uint8Array } = {};
  if (!hasDicomPreamble(buf)) {
    const start = startsWithElement(buf);
    if (start === undefined) {
      throw new InputError('DICOM_NOT_DICOM', `${file}: not a DICOM file (no "DICM" at byte 128 and no DICOM element at the start)`, { file });
    }
    const group = buf[0]! | (buf[1]! << 8);
    if (group === 0x0002) {
      // File meta information without the 128-byte preamble: put one in front so the parser reads the meta.
      bytes = new Uint8Array(132 + buf.length);
      bytes.set([0x44, 0x49, 0x43, 0x4d], 128);
      bytes.set(buf, 132);
    } else {
      options.TransferSyntaxUID = start === 'explicit' ? '1.2.840.10008.1.2.1' : start === 'big-endian' ? '1.2.840.10008.1.2.2' : '1.2.840.10008.1.2';
    }
  }
  const limit = opts.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
  if (!(limit > 0)) throw new InputError('DICOM_BAD_OPTION', `${file}: maxInflatedBytes must be a positive number of bytes, got ${limit}`, { file });
  options.inflater = inflater(file, limit);

  let dataSet: DataSet;
  let implicitDespiteMeta = false;
  try {
    dataSet = dicomParser.parseDicom(bytes, options as Parameters<typeof dicomParser.parseDicom>[1]);
  } catch (e) {
    if (e instanceof InputError) throw e;
    let retry: DataSet | undefined;
    let inferred: string | undefined;
    try {
      retry = implicitDataSet(bytes);
      if (retry) implicitDespiteMeta = true;
      else if (/missing required meta header attribute 0002,0010/.test(parserMessage(e))) ({ dataSet: retry, uid: inferred } = withoutTransferSyntax(bytes) ?? {});
    } catch {
      retry = undefined; // e.g. a File Meta group cut short: report the original parser failure
    }
    if (!retry) throw parserError(e, file);
    dataSet = retry;
    if (inferred) options.TransferSyntaxUID = inferred;
  }

  // dicom-parser accepts an element whose declared length runs past the end of the buffer: a truncated file.
  for (const el of Object.values(dataSet.elements)) {
    if (el.length !== 0xffffffff && elementEnd(el) > dataSet.byteArray.length) {
      throw new InputError(
        'DICOM_TRUNCATED',
        `${file}: truncated DICOM: element (${el.tag.slice(1, 5)},${el.tag.slice(5)}) declares ${el.length} bytes but the file ends ${elementEnd(el) - dataSet.byteArray.length} bytes early`,
        { file },
      );
    }
  }

  const uid = (dataSet.string('x00020010') ?? options.TransferSyntaxUID ?? '').replace(/\0/g, '').trim();
  const ts = transferSyntax(uid);
  return { dataSet, transferSyntax: ts && implicitDespiteMeta ? { ...ts, explicitVr: false } : ts, transferSyntaxUid: uid };
}

/** The transfer syntax of a parsed file, or UnsupportedError when radml cannot decode its pixels. */
export function requireTransferSyntax(parsed: ParsedDicom, file: string): TransferSyntax {
  if (parsed.transferSyntax) return parsed.transferSyntax;
  const uid = parsed.transferSyntaxUid;
  throw new UnsupportedError(
    'DICOM_UNSUPPORTED_TRANSFER_SYNTAX',
    `${file}: unsupported transfer syntax ${uid || '(missing)'} (${transferSyntaxName(uid)})`,
    { file },
  );
}

export { dicomParser };
