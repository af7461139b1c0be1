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

/** Largest inflated data set accepted for the deflated transfer syntax (a deflate bomb guard). */
const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

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

/** True when the first element looks like a little-endian group 0002/0008 element (a file without preamble). */
function startsWithElement(buf: Uint8Array): 'explicit' | 'implicit' | undefined {
  if (buf.length < 8) return undefined;
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

function inflater(file: string) {
  return (arr: Uint8Array, position: number): Uint8Array => {
    let inflated: Buffer;
    try {
      inflated = inflateRawSync(arr.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (e) {
      throw new InputError('DICOM_CORRUPT', `${file}: the deflated data set cannot be inflated (${errorMessage(e)})`, { file, cause: e });
    }
    const out = new Uint8Array(position + inflated.length);
    out.set(arr.subarray(0, position), 0);
    out.set(inflated, position);
    return out;
  };
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
export function parseDicomBytes(buf: Uint8Array, file: string): ParsedDicom {
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
      options.TransferSyntaxUID = start === 'explicit' ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2';
    }
  }
  options.inflater = inflater(file);

  let dataSet: DataSet;
  try {
    dataSet = dicomParser.parseDicom(bytes, options as Parameters<typeof dicomParser.parseDicom>[1]);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const msg = parserMessage(e);
    const truncated = /past end|beyond|overrun|maxPosition|end of buffer|premature|end of the buffer/i.test(msg);
    throw new InputError(
      truncated ? 'DICOM_TRUNCATED' : 'DICOM_CORRUPT',
      `${file}: ${truncated ? 'truncated or corrupt DICOM' : 'corrupt DICOM'} (${msg})`,
      { file, cause: e },
    );
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
  return { dataSet, transferSyntax: transferSyntax(uid), transferSyntaxUid: uid };
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
