/**
 * DICOM Part 10 writer (explicit VR little endian). Takes a plain element list — tag, VR, value —
 * and returns the bytes of a complete file: 128-byte preamble, "DICM", File Meta Information group
 * (with its group length) and the data set, elements sorted by tag, every value padded to even
 * length by the VR's rule (UI with NUL, OB/UN with 0x00, text with a space). Sequences are written
 * with defined lengths by default (or undefined lengths with delimitation items on request).
 *
 * Used for the synthetic cohort and, later, Structured Reports and Secondary Captures from the
 * deployment service, so it validates what it writes (VR value lengths, formats of DA/TM/AS/UI/DS/IS,
 * character repertoire) instead of producing files other tools warn about.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InputError } from '../../util/errors.js';

export type DicomVR =
  | 'AE' | 'AS' | 'AT' | 'CS' | 'DA' | 'DS' | 'DT' | 'FL' | 'FD' | 'IS' | 'LO' | 'LT' | 'OB' | 'OD'
  | 'OF' | 'OL' | 'OV' | 'OW' | 'PN' | 'SH' | 'SL' | 'SQ' | 'SS' | 'ST' | 'SV' | 'TM' | 'UC' | 'UI'
  | 'UL' | 'UN' | 'UR' | 'US' | 'UT' | 'UV';

/** A tag as a number 0xGGGGEEEE, or text "GGGGEEEE", "GGGG,EEEE" or "(GGGG,EEEE)". */
export type DicomTag = number | string;

export type DicomValue =
  | string
  | number
  | bigint
  | readonly (string | number | bigint)[]
  | Uint8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | readonly DicomItem[]
  | null
  | undefined;

export interface DicomElement {
  tag: DicomTag;
  vr: DicomVR;
  /** Text VRs: string or string[] (multi-valued, joined with "\"); DS/IS also accept numbers;
   *  binary numeric VRs: number(s) or a typed array; OB/OW/…: a typed array; SQ: an array of items;
   *  AT: tag number(s); null/undefined/"": an empty (zero-length) value. */
  value?: DicomValue;
}

/** One sequence item: its own element list. */
export type DicomItem = readonly DicomElement[];

export interface WriteDicomOptions {
  /** Transfer syntax of the data set. Only explicit VR little endian is written. */
  transferSyntaxUid?: string;
  /** Default: the radml implementation UID. */
  implementationClassUid?: string;
  implementationVersionName?: string;
  /** Sequences and items with undefined length plus delimitation items (default: defined lengths). */
  undefinedLengthSequences?: boolean;
}

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const IMPLEMENTATION_VERSION_NAME = 'RADML_0_1';

/** A DICOM UID under the UUID-derived root 2.25 (ITU-T X.667) from the first 128 bits of a hash. */
function uidFromUuidBytes(b: Uint8Array): string {
  let n = 0n;
  for (let i = 0; i < 16; i++) n = (n << 8n) | BigInt(b[i]!);
  return '2.25.' + n.toString(10);
}

/**
 * A deterministic UID from a name (a name-based, version-5-style UUID written as 2.25.<integer>):
 * the same name always gives the same UID, different names practically never collide.
 *
 * @example uidFromName('radml-synth/seed=1/study/ST00001') // '2.25.1234…'
 */
export function uidFromName(name: string): string {
  const h = createHash('sha1').update('radml-dicom-uid:').update(name, 'utf8').digest();
  const b = new Uint8Array(h.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50; // version 5
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return uidFromUuidBytes(b);
}

/** A fresh random UID (version-4 UUID as 2.25.<integer>). @example randomUid() */
export function randomUid(): string {
  const b = new Uint8Array(randomBytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return uidFromUuidBytes(b);
}

export const IMPLEMENTATION_CLASS_UID = uidFromName('radml/implementation-class');

const LONG_LENGTH_VRS = new Set<DicomVR>(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const TEXT_VRS = new Set<DicomVR>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
/** VRs whose value is one string that may contain a backslash (VM is always 1). */
const SINGLE_TEXT_VRS = new Set<DicomVR>(['LT', 'ST', 'UT', 'UR']);
/** Maximum length (bytes) of one value of each text VR (PS3.5 table 6.2-1). */
const MAX_LENGTH: Partial<Record<DicomVR, number>> = {
  AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, LO: 64, LT: 10240, SH: 16, ST: 1024, TM: 14, UI: 64,
};
const NUMERIC: Partial<Record<DicomVR, { size: number; kind: 'u' | 'i' | 'f' | 'bu' | 'bi' }>> = {
  US: { size: 2, kind: 'u' }, SS: { size: 2, kind: 'i' }, UL: { size: 4, kind: 'u' }, SL: { size: 4, kind: 'i' },
  FL: { size: 4, kind: 'f' }, FD: { size: 8, kind: 'f' }, UV: { size: 8, kind: 'bu' }, SV: { size: 8, kind: 'bi' },
  OW: { size: 2, kind: 'u' }, OL: { size: 4, kind: 'u' }, OF: { size: 4, kind: 'f' }, OD: { size: 8, kind: 'f' },
  OV: { size: 8, kind: 'bu' },
};

/** Parse a tag given as number or text into 0xGGGGEEEE. */
export function parseTag(tag: DicomTag): number {
  if (typeof tag === 'number') {
    if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) throw new InputError('DICOM_WRITE', `invalid DICOM tag ${tag}`);
    return tag >>> 0;
  }
  const m = /^\(?([0-9a-fA-F]{4}),?([0-9a-fA-F]{4})\)?$/.exec(tag.trim());
  if (!m) throw new InputError('DICOM_WRITE', `invalid DICOM tag "${tag}" (expected GGGGEEEE or (GGGG,EEEE))`);
  return ((parseInt(m[1]!, 16) << 16) | parseInt(m[2]!, 16)) >>> 0;
}

export function formatTag(tag: number): string {
  const h = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/** DS text of a number, at most 16 characters, without losing more precision than that forces. */
export function formatDS(v: number): string {
  if (!Number.isFinite(v)) throw new InputError('DICOM_WRITE', `DS value must be finite, got ${v}`);
  let s = String(v);
  if (s.length <= 16) return s;
  for (let p = 15; p >= 1; p--) {
    s = Number(v.toPrecision(p)).toString();
    if (s.length <= 16) return s;
  }
  return v.toExponential(6);
}

type Charset = 'ascii' | 'latin1' | 'utf8';

function charsetOf(elements: readonly DicomElement[]): Charset {
  const cs = elements.find((e) => parseTag(e.tag) === 0x00080005);
  const v = cs?.value;
  const s = Array.isArray(v) ? v.join('\\') : typeof v === 'string' ? v : '';
  if (s.includes('ISO_IR 192')) return 'utf8';
  if (s.includes('ISO_IR 100')) return 'latin1';
  return 'ascii';
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }
  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.push(b);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.push(b);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }
  concatInto(w: Writer): void {
    for (const c of this.chunks) w.push(c);
  }
}

function fail(tag: number, vr: DicomVR, msg: string): never {
  throw new InputError('DICOM_WRITE', `${formatTag(tag)} ${vr}: ${msg}`);
}

/** A value as shown in an error: never for person names or patient-module tags (no PHI in errors). */
function shown(tag: number, vr: DicomVR, s: string): string {
  return vr === 'PN' || tag >>> 16 === 0x0010 ? '(value withheld)' : `"${s.slice(0, 70)}"`;
}

function checkTextValue(tag: number, vr: DicomVR, s: string): void {
  const max = MAX_LENGTH[vr];
  if (max !== undefined && s.length > max) fail(tag, vr, `value ${shown(tag, vr, s)} is ${s.length} characters, more than the ${max} this VR allows`);
  switch (vr) {
    case 'UI':
      if (s !== '' && !/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(s)) fail(tag, vr, `"${s}" is not a valid UID (digits and dots, no leading zeros)`);
      break;
    case 'DA':
      if (s !== '' && !/^\d{8}$/.test(s)) fail(tag, vr, `${shown(tag, vr, s)} is not a date YYYYMMDD`);
      break;
    case 'TM':
      if (s !== '' && !/^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(s)) fail(tag, vr, `"${s}" is not a time HHMMSS.FFFFFF`);
      break;
    case 'AS':
      if (s !== '' && !/^\d{3}[DWMY]$/.test(s)) fail(tag, vr, `${shown(tag, vr, s)} is not an age string like 045Y`);
      break;
    case 'IS':
      if (s !== '' && !/^ *[+-]?\d+ *$/.test(s)) fail(tag, vr, `"${s}" is not an integer string`);
      break;
    case 'DS':
      if (s !== '' && !/^ *[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? *$/.test(s)) fail(tag, vr, `"${s}" is not a decimal string`);
      break;
    case 'CS':
      if (!/^[A-Z0-9 _]*$/.test(s)) fail(tag, vr, `${shown(tag, vr, s)} has characters a code string may not hold (A-Z, 0-9, space, _)`);
      break;
    case 'PN':
      if (s.split('=').some((g) => g.length > 64)) fail(tag, vr, `a person-name component group is longer than 64 characters`);
      break;
    default:
      break;
  }
  if (vr !== 'LT' && vr !== 'ST' && vr !== 'UT' && /[\r\n\f]/.test(s)) fail(tag, vr, 'control characters (line breaks) are only allowed in LT, ST and UT');
}

function encodeText(tag: number, vr: DicomVR, value: DicomValue, charset: Charset): Uint8Array {
  let parts: string[];
  if (value === null || value === undefined) parts = [];
  else if (typeof value === 'string') parts = SINGLE_TEXT_VRS.has(vr) ? [value] : value.split('\\');
  else if (typeof value === 'number' || typeof value === 'bigint') parts = [numberText(tag, vr, value)];
  else if (Array.isArray(value)) {
    if (SINGLE_TEXT_VRS.has(vr) && value.length > 1) fail(tag, vr, 'this VR holds exactly one value');
    parts = value.map((v) => (typeof v === 'string' ? v : numberText(tag, vr, v as number | bigint)));
  } else fail(tag, vr, 'a text VR needs a string, a number (DS/IS) or an array of them');
  for (const p of parts) {
    if (!SINGLE_TEXT_VRS.has(vr) && p.includes('\\')) fail(tag, vr, `value ${shown(tag, vr, p)} contains a backslash, the value separator`);
    checkTextValue(tag, vr, p);
  }
  const text = parts.join('\\');
  let bytes: Uint8Array;
  if (vr === 'UI' || vr === 'AS' || vr === 'DA' || vr === 'TM' || vr === 'DT' || vr === 'IS' || vr === 'DS' || vr === 'CS' || vr === 'AE' || charset === 'ascii') {
    // eslint-disable-next-line no-control-regex
    if (/[^\x00-\x7f]/.test(text)) fail(tag, vr, 'non-ASCII characters need SpecificCharacterSet (0008,0005) ISO_IR 100 or ISO_IR 192, and are never allowed in this VR');
    bytes = Buffer.from(text, 'latin1');
  } else if (charset === 'latin1') {
    if (/[^\x00-\xff]/.test(text)) fail(tag, vr, 'characters outside ISO_IR 100 (Latin-1); use ISO_IR 192 (UTF-8)');
    bytes = Buffer.from(text, 'latin1');
  } else bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength % 2 === 1) {
    const padded = new Uint8Array(bytes.byteLength + 1);
    padded.set(bytes);
    padded[bytes.byteLength] = vr === 'UI' ? 0x00 : 0x20;
    bytes = padded;
  }
  return bytes;
}

function numberText(tag: number, vr: DicomVR, v: number | bigint): string {
  if (vr === 'DS') return formatDS(Number(v));
  if (vr === 'IS') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < -(2 ** 31) || n > 2 ** 31 - 1) fail(tag, vr, `${v} is not a 32-bit integer`);
    return String(n);
  }
  fail(tag, vr, `a number was given where text is expected`);
}

function encodeNumeric(tag: number, vr: DicomVR, value: DicomValue): Uint8Array {
  const spec = NUMERIC[vr]!;
  if (value === null || value === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(value)) {
    // Typed arrays are taken as the raw little-endian values (the host is little endian on every
    // platform Node supports); check the element size matches the VR.
    const view = value as ArrayBufferView & { BYTES_PER_ELEMENT: number };
    if (view.BYTES_PER_ELEMENT !== spec.size && !(value instanceof Uint8Array))
      fail(tag, vr, `typed array of ${view.BYTES_PER_ELEMENT}-byte elements does not match the VR's ${spec.size}-byte values`);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.byteLength % spec.size !== 0) fail(tag, vr, `${bytes.byteLength} bytes is not a whole number of ${spec.size}-byte values`);
    return bytes;
  }
  const list = (Array.isArray(value) ? value : [value]) as readonly unknown[];
  const out = new Uint8Array(list.length * spec.size);
  const dv = new DataView(out.buffer);
  list.forEach((raw, i) => {
    if (typeof raw !== 'number' && typeof raw !== 'bigint') fail(tag, vr, `value ${String(raw)} is not a number`);
    const o = i * spec.size;
    if (spec.kind === 'bu' || spec.kind === 'bi') {
      const b = BigInt(raw);
      if (spec.kind === 'bu') dv.setBigUint64(o, b, true);
      else dv.setBigInt64(o, b, true);
      return;
    }
    const v = Number(raw);
    if (spec.kind === 'f') {
      if (spec.size === 4) dv.setFloat32(o, v, true);
      else dv.setFloat64(o, v, true);
      return;
    }
    const bits = spec.size * 8;
    const lo = spec.kind === 'u' ? 0 : -(2 ** (bits - 1));
    const hi = spec.kind === 'u' ? 2 ** bits - 1 : 2 ** (bits - 1) - 1;
    if (!Number.isInteger(v) || v < lo || v > hi) fail(tag, vr, `${v} does not fit this VR (${lo}..${hi})`);
    if (spec.size === 2) {
      if (spec.kind === 'u') dv.setUint16(o, v, true);
      else dv.setInt16(o, v, true);
    } else if (spec.kind === 'u') dv.setUint32(o, v, true);
    else dv.setInt32(o, v, true);
  });
  return out;
}

function encodeAT(value: DicomValue): Uint8Array {
  if (value === null || value === undefined) return new Uint8Array(0);
  const list = (Array.isArray(value) ? value : [value]) as readonly (string | number)[];
  const out = new Uint8Array(list.length * 4);
  const dv = new DataView(out.buffer);
  list.forEach((t, i) => {
    const n = parseTag(t);
    dv.setUint16(i * 4, n >>> 16, true);
    dv.setUint16(i * 4 + 2, n & 0xffff, true);
  });
  return out;
}

function encodeBytes(tag: number, vr: DicomVR, value: DicomValue): Uint8Array {
  if (value === null || value === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(value)) {
    const v = value as ArrayBufferView;
    let b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (b.byteLength % 2 === 1) {
      const p = new Uint8Array(b.byteLength + 1);
      p.set(b);
      b = p; // OB / UN pad with a trailing 0x00
    }
    return b;
  }
  if (Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255)) {
    return encodeBytes(tag, vr, Uint8Array.from(value as number[]));
  }
  fail(tag, vr, 'OB/UN values must be a Uint8Array (or byte numbers)');
}

function isItemList(v: DicomValue): v is readonly DicomItem[] {
  return Array.isArray(v) && v.every((x) => Array.isArray(x));
}

const MAX_LONG = 0xfffffffe;

function writeElements(w: Writer, elements: readonly DicomElement[], charset: Charset, opts: WriteDicomOptions, context: string): void {
  const sorted = elements.map((e) => ({ e, tag: parseTag(e.tag) })).sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.tag === sorted[i - 1]!.tag) throw new InputError('DICOM_WRITE', `${formatTag(sorted[i]!.tag)} appears twice${context}`);
  }
  for (const { e, tag } of sorted) writeElement(w, tag, e, charset, opts);
}

function writeElement(w: Writer, tag: number, e: DicomElement, charset: Charset, opts: WriteDicomOptions): void {
  const vr = e.vr;
  const group = tag >>> 16;
  if ((tag & 0xffff) === 0 && group !== 0x0002) return; // group lengths are retired outside the meta group
  if (group === 0xfffe) fail(tag, vr, 'item and delimitation tags are written by the writer, not given as elements');
  if (vr === 'SQ') {
    const v = e.value ?? [];
    if (!isItemList(v)) fail(tag, vr, 'a sequence value must be an array of items (each an element array)');
    const body = new Writer();
    for (const item of v) {
      const iw = new Writer();
      writeElements(iw, item, charset, opts, ` in an item of ${formatTag(tag)}`);
      body.u16(0xfffe);
      body.u16(0xe000);
      if (opts.undefinedLengthSequences) {
        body.u32(0xffffffff);
        iw.concatInto(body);
        body.u16(0xfffe); body.u16(0xe00d); body.u32(0);
      } else {
        if (iw.length > MAX_LONG) fail(tag, vr, 'item too long');
        body.u32(iw.length);
        iw.concatInto(body);
      }
    }
    header(w, tag, vr, opts.undefinedLengthSequences ? 0xffffffff : body.length);
    body.concatInto(w);
    if (opts.undefinedLengthSequences) {
      w.u16(0xfffe); w.u16(0xe0dd); w.u32(0);
    }
    return;
  }
  let bytes: Uint8Array;
  if (TEXT_VRS.has(vr)) bytes = encodeText(tag, vr, e.value, charset);
  else if (vr === 'AT') bytes = encodeAT(e.value);
  else if (vr === 'OB' || vr === 'UN') bytes = encodeBytes(tag, vr, e.value);
  else if (NUMERIC[vr]) bytes = encodeNumeric(tag, vr, e.value);
  else fail(tag, vr, 'unknown VR');
  if (bytes.byteLength % 2 === 1) fail(tag, vr, `value has odd length ${bytes.byteLength}`);
  if (!LONG_LENGTH_VRS.has(vr) && bytes.byteLength > 0xffff) fail(tag, vr, `value of ${bytes.byteLength} bytes exceeds the 65,534 a 2-byte length allows`);
  header(w, tag, vr, bytes.byteLength);
  w.push(bytes);
}

function header(w: Writer, tag: number, vr: DicomVR, length: number): void {
  const long = LONG_LENGTH_VRS.has(vr);
  const b = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, tag >>> 16, true);
  dv.setUint16(2, tag & 0xffff, true);
  b[4] = vr.charCodeAt(0);
  b[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, length >>> 0, true);
  else dv.setUint16(6, length, true);
  w.push(b);
}

function textValue(elements: readonly DicomElement[], tag: number): string | undefined {
  const e = elements.find((x) => parseTag(x.tag) === tag);
  if (!e) return undefined;
  if (typeof e.value === 'string') return e.value;
  if (Array.isArray(e.value) && typeof e.value[0] === 'string') return e.value[0];
  return undefined;
}

/**
 * Encode a data set as a DICOM Part 10 file (explicit VR little endian). The File Meta group is
 * built here from SOPClassUID (0008,0016) and SOPInstanceUID (0008,0018), which the data set must
 * hold; group 0002 elements in `elements` are not allowed. Throws InputError naming tag and VR for
 * any value the VR cannot hold.
 *
 * @example
 * const bytes = writeDicom([
 *   { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
 *   { tag: 0x00080018, vr: 'UI', value: uidFromName('example') },
 *   { tag: '(0010,0010)', vr: 'PN', value: 'SYNTH^1' },
 * ]);
 */
export function writeDicom(elements: readonly DicomElement[], opts: WriteDicomOptions = {}): Uint8Array {
  const ts = opts.transferSyntaxUid ?? EXPLICIT_VR_LITTLE_ENDIAN;
  if (ts !== EXPLICIT_VR_LITTLE_ENDIAN) throw new InputError('DICOM_WRITE', `transfer syntax ${ts} is not supported by the writer (only explicit VR little endian ${EXPLICIT_VR_LITTLE_ENDIAN})`);
  for (const e of elements) {
    if (parseTag(e.tag) >>> 16 === 0x0002) throw new InputError('DICOM_WRITE', `${formatTag(parseTag(e.tag))}: File Meta elements (group 0002) are written by the writer; pass options instead`);
  }
  const sopClass = textValue(elements, 0x00080016);
  const sopInstance = textValue(elements, 0x00080018);
  if (!sopClass || !sopInstance) throw new InputError('DICOM_WRITE', 'the data set needs SOPClassUID (0008,0016) and SOPInstanceUID (0008,0018) to build the File Meta group');
  const charset = charsetOf(elements);

  const meta = new Writer();
  const metaOpts: WriteDicomOptions = {};
  const metaElements: DicomElement[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: sopClass },
    { tag: 0x00020003, vr: 'UI', value: sopInstance },
    { tag: 0x00020010, vr: 'UI', value: ts },
    { tag: 0x00020012, vr: 'UI', value: opts.implementationClassUid ?? IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: opts.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME },
  ];
  writeElements(meta, metaElements, 'ascii', metaOpts, ' in the File Meta group');

  const out = new Writer();
  out.push(new Uint8Array(128));
  out.push(new Uint8Array([0x44, 0x49, 0x43, 0x4d])); // "DICM"
  header(out, 0x00020000, 'UL', 4);
  out.u32(meta.length);
  meta.concatInto(out);
  writeElements(out, elements, charset, opts, '');
  return out.bytes();
}
