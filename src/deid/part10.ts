/**
 * A DICOM Part 10 file as a tree of elements whose values stay raw bytes, so de-identification can
 * change the attributes it must and write every other byte back as it came — Pixel Data included,
 * native or encapsulated. The data set keeps its transfer syntax on output (implicit or explicit VR,
 * little or big endian, deflated); the file meta group is always explicit VR little endian.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { InputError, UnsupportedError } from '../util/errors.js';
import { dictionaryVr } from './vr.js';

export interface Element {
  tag: number;
  vr: string;
  /** Raw value bytes, in the data set's byte order (absent for sequences and encapsulated data). */
  value?: Uint8Array;
  /** Items of a sequence (VR SQ). */
  items?: Element[][];
  /** Encapsulated Pixel Data: the raw bytes after the element header, fragments and delimiter included. */
  encapsulated?: Uint8Array;
}

export interface Encoding {
  explicitVr: boolean;
  littleEndian: boolean;
}

export interface Part10File {
  /** The 128-byte preamble, when the file had one (kept: some files carry a TIFF header there). */
  preamble?: Uint8Array;
  meta: Element[];
  dataset: Element[];
  transferSyntaxUid: string;
  encoding: Encoding;
  deflated: boolean;
}

export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** VRs whose explicit-VR header has two reserved bytes and a 32-bit length (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const MAX_DEPTH = 64;
/** A deflated data set larger than this is refused as hostile (a small file that inflates to gigabytes). */
export const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

/** Hex form `(gggg,eeee)` used in logs and messages. */
export function tagString(tag: number): string {
  const h = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    readonly view: DataView,
    readonly file: string,
  ) {}
  u16(at: number, le: boolean): number {
    this.need(at, 2);
    return this.view.getUint16(at, le);
  }
  u32(at: number, le: boolean): number {
    this.need(at, 4);
    return this.view.getUint32(at, le);
  }
  need(at: number, n: number): void {
    if (at + n > this.buf.byteLength)
      throw new InputError('DICOM_TRUNCATED', `${this.file}: truncated DICOM (needs ${n} byte(s) at offset ${at}, file has ${this.buf.byteLength})`, { file: this.file });
  }
}

function readTag(r: Reader, at: number, le: boolean): number {
  return ((r.u16(at, le) << 16) | r.u16(at + 2, le)) >>> 0;
}

/** Read elements from `at` until `end`, an item delimiter, or (for top level) the end of the buffer. */
function readElements(r: Reader, at: number, end: number, enc: Encoding, depth: number, stopAtGroupChange?: number): { elements: Element[]; at: number; delimited: boolean } {
  if (depth > MAX_DEPTH) throw new InputError('DICOM_CORRUPT', `${r.file}: sequences nested deeper than ${MAX_DEPTH} levels`, { file: r.file });
  const elements: Element[] = [];
  const le = enc.littleEndian;
  while (at < end) {
    const tag = readTag(r, at, le);
    if (stopAtGroupChange !== undefined && tag >>> 16 !== stopAtGroupChange) break;
    if (tag === ITEM_END) {
      return { elements, at: at + 8, delimited: true };
    }
    if (tag === SEQUENCE_END || tag === ITEM)
      throw new InputError('DICOM_CORRUPT', `${r.file}: unexpected ${tag === ITEM ? 'item' : 'sequence delimiter'} at offset ${at}`, { file: r.file });
    let vr: string;
    let length: number;
    let valueAt: number;
    if (enc.explicitVr) {
      r.need(at + 4, 2);
      vr = String.fromCharCode(r.buf[at + 4]!, r.buf[at + 5]!);
      if (!/^[A-Z]{2}$/.test(vr))
        throw new InputError('DICOM_CORRUPT', `${r.file}: element ${tagString(tag)} at offset ${at} has no valid explicit VR`, { file: r.file });
      if (LONG_VRS.has(vr)) {
        length = r.u32(at + 8, le);
        valueAt = at + 12;
      } else {
        length = r.u16(at + 6, le);
        valueAt = at + 8;
      }
    } else {
      vr = dictionaryVr(tag);
      length = r.u32(at + 4, le);
      valueAt = at + 8;
    }
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA) {
        const stop = encapsulatedEnd(r, valueAt, le);
        elements.push({ tag, vr: vr === 'UN' ? 'OB' : vr, encapsulated: r.buf.subarray(valueAt, stop) });
        at = stop;
        continue;
      }
      if (vr !== 'SQ' && vr !== 'UN')
        throw new InputError('DICOM_CORRUPT', `${r.file}: element ${tagString(tag)} (${vr}) has undefined length`, { file: r.file });
      // An undefined-length UN is a sequence encoded in implicit VR little endian (PS3.5 §6.2.2).
      const inner: Encoding = vr === 'UN' ? { explicitVr: false, littleEndian: true } : enc;
      const seq = readSequence(r, valueAt, r.buf.byteLength, inner, depth + 1, true);
      elements.push({ tag, vr: 'SQ', items: seq.items });
      at = seq.at;
      continue;
    }
    r.need(valueAt, length);
    if (vr === 'SQ') {
      const seq = readSequence(r, valueAt, valueAt + length, enc, depth + 1, false);
      elements.push({ tag, vr, items: seq.items });
    } else {
      elements.push({ tag, vr, value: r.buf.subarray(valueAt, valueAt + length) });
    }
    at = valueAt + length;
  }
  return { elements, at, delimited: false };
}

function readSequence(r: Reader, at: number, end: number, enc: Encoding, depth: number, undefinedLength: boolean): { items: Element[][]; at: number } {
  const items: Element[][] = [];
  const le = enc.littleEndian;
  while (at < end) {
    const tag = readTag(r, at, le);
    const length = r.u32(at + 4, le);
    if (tag === SEQUENCE_END) return { items, at: at + 8 };
    if (tag !== ITEM) throw new InputError('DICOM_CORRUPT', `${r.file}: expected a sequence item at offset ${at}, found ${tagString(tag)}`, { file: r.file });
    if (length === UNDEFINED) {
      const got = readElements(r, at + 8, end, enc, depth);
      if (!got.delimited) throw new InputError('DICOM_TRUNCATED', `${r.file}: sequence item without its delimiter (truncated?)`, { file: r.file });
      items.push(got.elements);
      at = got.at;
    } else {
      r.need(at + 8, length);
      items.push(readElements(r, at + 8, at + 8 + length, enc, depth).elements);
      at = at + 8 + length;
    }
  }
  if (undefinedLength) throw new InputError('DICOM_TRUNCATED', `${r.file}: sequence without its delimiter (truncated?)`, { file: r.file });
  return { items, at };
}

function encapsulatedEnd(r: Reader, at: number, le: boolean): number {
  for (;;) {
    const tag = readTag(r, at, le);
    const length = r.u32(at + 4, le);
    if (tag === SEQUENCE_END) return at + 8;
    if (tag !== ITEM || length === UNDEFINED)
      throw new InputError('DICOM_CORRUPT', `${r.file}: encapsulated Pixel Data has a malformed fragment at offset ${at}`, { file: r.file });
    r.need(at + 8, length);
    at += 8 + length;
  }
}

/** Text of a string element (trailing padding removed). */
export function elementText(e: Element | undefined): string | undefined {
  if (!e?.value) return undefined;
  return Buffer.from(e.value).toString('latin1').replace(/[\0 ]+$/, '');
}

export function findElement(elements: readonly Element[], tag: number): Element | undefined {
  return elements.find((e) => e.tag === tag);
}

/**
 * Parse a Part 10 file. Refuses, with the file named, anything it cannot write back faithfully.
 * @example const f = parsePart10(readFileSync('ct.dcm'), 'ct.dcm'); f.dataset.length
 */
export function parsePart10(bytes: Uint8Array, file: string, opts: { maxInflatedBytes?: number } = {}): Part10File {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let r = new Reader(bytes, view, file);
  let at = 0;
  let preamble: Uint8Array | undefined;
  if (bytes.byteLength >= 132 && Buffer.from(bytes.subarray(128, 132)).toString('latin1') === 'DICM') {
    preamble = bytes.subarray(0, 128);
    at = 132;
  } else if (!(bytes.byteLength >= 8 && bytes[0] === 0x02 && bytes[1] === 0x00)) {
    throw new UnsupportedError('DICOM_NOT_PART10', `${file}: not a DICOM Part 10 file (no "DICM" at byte 128 and no file meta group); de-identification needs the file meta information to know the transfer syntax`, { file });
  }
  const metaEnc: Encoding = { explicitVr: true, littleEndian: true };
  const meta = readElements(r, at, bytes.byteLength, metaEnc, 0, 0x0002);
  at = meta.at;
  const tsUid = elementText(findElement(meta.elements, 0x00020010));
  if (!tsUid) throw new InputError('DICOM_CORRUPT', `${file}: the file meta group has no Transfer Syntax UID (0002,0010)`, { file });
  const encoding: Encoding = { explicitVr: tsUid !== IMPLICIT_LE, littleEndian: tsUid !== EXPLICIT_BE };
  const deflated = tsUid === DEFLATED_LE;
  let datasetBytes = bytes.subarray(at);
  let start = 0;
  if (deflated) {
    const limit = opts.maxInflatedBytes ?? MAX_INFLATED_BYTES;
    try {
      datasetBytes = inflateRawSync(datasetBytes, { maxOutputLength: limit });
    } catch (e) {
      const tooBig = e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new InputError(tooBig ? 'DICOM_HOSTILE' : 'DICOM_CORRUPT', tooBig ? `${file}: deflated data set inflates beyond ${limit} bytes; refused` : `${file}: deflated data set cannot be inflated (corrupt)`, { file, cause: e });
    }
    r = new Reader(datasetBytes, new DataView(datasetBytes.buffer, datasetBytes.byteOffset, datasetBytes.byteLength), file);
  } else {
    start = at;
    datasetBytes = bytes;
  }
  const ds = readElements(r, start, datasetBytes.byteLength, encoding, 0);
  return { ...(preamble ? { preamble } : {}), meta: meta.elements, dataset: ds.elements, transferSyntaxUid: tsUid, encoding, deflated };
}

class Writer {
  private chunks: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.byteLength;
  }
  header(tag: number, vr: string, length: number, enc: Encoding): void {
    const le = enc.littleEndian;
    const long = !enc.explicitVr || LONG_VRS.has(vr) || vr === 'SQ';
    const b = new Uint8Array(enc.explicitVr ? (long ? 12 : 8) : 8);
    const v = new DataView(b.buffer);
    v.setUint16(0, tag >>> 16, le);
    v.setUint16(2, tag & 0xffff, le);
    if (!enc.explicitVr) v.setUint32(4, length, le);
    else {
      b[4] = vr.charCodeAt(0);
      b[5] = vr.charCodeAt(1);
      if (long) v.setUint32(8, length, le);
      else {
        if (length > 0xffff) throw new InputError('DICOM_VALUE_TOO_LONG', `element ${tagString(tag)} (${vr}) value of ${length} bytes does not fit its 16-bit length`);
        v.setUint16(6, length, le);
      }
    }
    this.push(b);
  }
  marker(tag: number, length: number, le: boolean): void {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint16(0, tag >>> 16, le);
    v.setUint16(2, tag & 0xffff, le);
    v.setUint32(4, length, le);
    this.push(b);
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.size);
  }
}

function padValue(vr: string, value: Uint8Array): Uint8Array {
  if (value.byteLength % 2 === 0) return value;
  const out = new Uint8Array(value.byteLength + 1);
  out.set(value);
  out[value.byteLength] = vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0 : 0x20;
  return out;
}

function writeElements(w: Writer, elements: readonly Element[], enc: Encoding): void {
  for (const e of [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0))) {
    if (e.items) {
      // Undefined lengths: no length arithmetic to get wrong, and valid in every transfer syntax.
      w.header(e.tag, 'SQ', UNDEFINED, enc);
      for (const item of e.items) {
        w.marker(ITEM, UNDEFINED, enc.littleEndian);
        writeElements(w, item, enc);
        w.marker(ITEM_END, 0, enc.littleEndian);
      }
      w.marker(SEQUENCE_END, 0, enc.littleEndian);
    } else if (e.encapsulated) {
      w.header(e.tag, e.vr, UNDEFINED, enc);
      w.push(e.encapsulated);
    } else {
      const v = padValue(e.vr, e.value ?? new Uint8Array(0));
      w.header(e.tag, e.vr, v.byteLength, enc);
      w.push(v);
    }
  }
}

/** Serialise with a recomputed (0002,0000) File Meta Information Group Length. */
export function writePart10(f: Part10File): Uint8Array {
  const metaEnc: Encoding = { explicitVr: true, littleEndian: true };
  const metaBody = new Writer();
  writeElements(metaBody, f.meta.filter((e) => e.tag !== 0x00020000), metaEnc);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaBody.size, true);
  const head = new Writer();
  head.push(f.preamble ?? new Uint8Array(128));
  head.push(Buffer.from('DICM', 'latin1'));
  writeElements(head, [{ tag: 0x00020000, vr: 'UL', value: groupLength }], metaEnc);
  const ds = new Writer();
  writeElements(ds, f.dataset, f.encoding);
  const body = f.deflated ? deflateRawSync(ds.bytes()) : ds.bytes();
  return Buffer.concat([head.bytes(), metaBody.bytes(), body]);
}

/** A string value as element bytes (padding is added on write). */
export function textValue(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}
