/**
 * De-identification of one DICOM Part 10 file by the PS3.15 profile: every attribute of Table E.1-1
 * gets its action at every nesting depth, private attributes go unless a safe-private rule keeps
 * them, UIDs and the patient are replaced by keyed pseudonyms, dates are removed or shifted per
 * patient, and the instance says how it was de-identified. Pixel Data is written back byte for
 * byte unless a blackout region is asked for.
 */
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../data/dicom/writer.js';
import { UnsupportedError } from '../util/errors.js';
import { BASIC_PROFILE_CODE, CLEAN_PIXEL_CODE, OPTION_INFO, tableRow, type Action, type Profile } from './profile.js';
import { elementText, findElement, parsePart10, tagString, textValue, writePart10, type Element, type Part10File } from './part10.js';
import { shiftDate, shiftDateTime, type Pseudonymiser } from './pseudonyms.js';

/** A private attribute kept under the Retain Safe Private option: its creator and element byte. */
export interface SafePrivateRule {
  creator: string;
  /** The low byte of the element number (the part after the block), e.g. 0x10 for (0019,xx10). */
  element: number;
  /** Restrict to one group (default: any odd group). */
  group?: number;
}

/** One change made, for the audit log: never the original value. */
export interface Change {
  /** Where: tags from the top, `[i]` for sequence items, e.g. `(0008,1110)[0]/(0008,1155)`. */
  path: string;
  tag: string;
  keyword: string;
  action: string;
}

export interface DeidentifyDicomOptions {
  profile: Profile;
  pseudonyms: Pseudonymiser;
  safePrivate?: readonly SafePrivateRule[];
  /** Cleans a free-text value (the C action on descriptors and structured content text). */
  cleanText: (text: string) => string;
  /** Called with the decoded-pixel cleaning step when pixel regions must be blacked out. */
  cleanPixels?: (file: Part10File) => boolean;
  maxInflatedBytes?: number;
}

export interface DeidentifyDicomResult {
  bytes: Uint8Array;
  changes: Change[];
  /** The patient pseudonym written (Patient ID and Patient's Name). */
  patientPseudonym: string;
  /** The source's Burned In Annotation (0028,0301), upper-cased, when present. */
  burnedInAnnotation?: string;
  pixelCleaned: boolean;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
}

const PATIENT_NAME = 0x00100010;
const PATIENT_ID = 0x00100020;
const TEXT_VRS = new Set(['LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'PN']);
/** Maximum value length per VR (PS3.5 Table 6.2-1), for values radml rewrites. */
const MAX_LENGTH: Record<string, number> = { SH: 16, LO: 64, ST: 1024, LT: 10240, PN: 64 };
const BINARY_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'AT', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'SV', 'UV', 'UN']);

/** A dummy value consistent with the VR (the D action). */
function dummyValue(vr: string, old: Uint8Array | undefined): Uint8Array {
  switch (vr) {
    case 'DA':
      return textValue('19000101');
    case 'DT':
      return textValue('19000101000000');
    case 'TM':
      return textValue('000000');
    case 'DS':
    case 'IS':
      return textValue('0');
    case 'AS':
      return textValue('000Y');
    default:
      if (BINARY_VRS.has(vr)) return new Uint8Array(old?.byteLength ?? 0);
      return textValue('ANONYMIZED');
  }
}

interface Context {
  opts: DeidentifyDicomOptions;
  shiftDays: number;
  patientPseudonym: string;
  changes: Change[];
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  return a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b));
}

function keywordOf(tag: number): string {
  if ((tag >>> 16) & 1) return 'private';
  return tableRow(tag)?.keyword ?? '';
}

function log(ctx: Context, path: string, tag: number, action: string): void {
  ctx.changes.push({ path, tag: tagString(tag), keyword: keywordOf(tag), action });
}

function mapUids(ctx: Context, value: Uint8Array): Uint8Array {
  const text = Buffer.from(value).toString('latin1').replace(/[\0 ]+$/, '');
  if (!text) return value;
  return textValue(text.split('\\').map((u) => (u.trim() ? ctx.opts.pseudonyms.uid(u) : u)).join('\\'));
}

function clean(ctx: Context, e: Element, path: string): Element | undefined {
  const text = elementText(e) ?? '';
  if (e.vr === 'DA') return { ...e, value: textValue(shiftDate(text, ctx.shiftDays)) };
  if (e.vr === 'DT') return { ...e, value: textValue(shiftDateTime(text, ctx.shiftDays)) };
  if (e.vr === 'TM') return e;
  if (TEXT_VRS.has(e.vr)) {
    // Replacement tags can be longer than what they replace; the value must still fit its VR.
    const cleaned = ctx.opts.cleanText(Buffer.from(e.value ?? []).toString('latin1'));
    const max = MAX_LENGTH[e.vr];
    return { ...e, value: textValue(max ? cleaned.split('\\').map((v) => v.slice(0, max)).join('\\') : cleaned) };
  }
  if (e.items) return { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) };
  // Graphics and other binary content cannot be cleaned attribute by attribute: kept, and the log
  // says so, for a person to review.
  return e;
}

function applyAction(ctx: Context, e: Element, action: Action, path: string): Element | undefined {
  switch (action) {
    case 'X':
      return undefined;
    case 'Z':
      return e.items ? { tag: e.tag, vr: 'SQ', items: [] } : { tag: e.tag, vr: e.vr, value: new Uint8Array(0) };
    case 'D':
      if (e.items) return { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) };
      if (e.vr === 'UI') return { ...e, value: mapUids(ctx, e.value ?? new Uint8Array(0)) };
      return { tag: e.tag, vr: e.vr, value: dummyValue(e.vr, e.value) };
    case 'U':
      if (e.vr !== 'UI' || !e.value) return e.items ? { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) } : e;
      return { ...e, value: mapUids(ctx, e.value) };
    case 'C':
      return clean(ctx, e, path);
    case 'K':
      return e.items ? { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) } : e;
  }
}

function isSafePrivate(rules: readonly SafePrivateRule[], group: number, element: number, creators: Map<number, string>): boolean {
  const block = (element >>> 8) & 0xff;
  const creator = creators.get(block);
  if (creator === undefined) return false;
  return rules.some((r) => r.creator === creator && r.element === (element & 0xff) && (r.group === undefined || r.group === group));
}

function processItem(ctx: Context, elements: readonly Element[], prefix: string): Element[] {
  const out: Element[] = [];
  // Private creators per group, so private data elements can be matched to the safe list.
  const creators = new Map<number, Map<number, string>>();
  for (const e of elements) {
    const group = e.tag >>> 16;
    const el = e.tag & 0xffff;
    if (group & 1 && el >= 0x10 && el <= 0xff) {
      if (!creators.has(group)) creators.set(group, new Map());
      creators.get(group)!.set(el, elementText(e) ?? '');
    }
  }
  const keptBlocks = new Set<string>();
  const safe = ctx.opts.profile.options.has('retain-safe-private') ? (ctx.opts.safePrivate ?? []) : [];
  for (const e of elements) {
    const group = e.tag >>> 16;
    const el = e.tag & 0xffff;
    const path = `${prefix}${tagString(e.tag)}`;
    if (group & 1) {
      if (el < 0x10 || el > 0xff) {
        if (el >= 0x1000 && isSafePrivate(safe, group, el, creators.get(group) ?? new Map())) {
          out.push(e.items ? { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) } : e);
          keptBlocks.add(`${group}:${el >>> 8}`);
        } else log(ctx, path, e.tag, 'X');
      }
      continue;
    }
    if (e.tag === PATIENT_ID || e.tag === PATIENT_NAME) {
      out.push({ tag: e.tag, vr: e.vr, value: textValue(ctx.patientPseudonym) });
      log(ctx, path, e.tag, 'Z (keyed pseudonym)');
      continue;
    }
    const action = ctx.opts.profile.action(e.tag);
    if (action === undefined) {
      out.push(e.items ? { ...e, items: e.items.map((item, i) => processItem(ctx, item, `${path}[${i}]/`)) } : e);
      continue;
    }
    const next = applyAction(ctx, e, action, path);
    if (!next) log(ctx, path, e.tag, action);
    else {
      out.push(next);
      // Sequences kept or cleaned log their nested changes themselves.
      if (next.items) {
        if (action === 'Z' && (e.items?.length ?? 0) > 0) log(ctx, path, e.tag, action);
      } else if (!sameBytes(next.value, e.value)) log(ctx, path, e.tag, action);
      else if (action === 'C' && BINARY_VRS.has(e.vr)) log(ctx, path, e.tag, 'C (kept: binary content cannot be cleaned here; review)');
    }
  }
  // Creators of the blocks that keep at least one safe private element.
  for (const e of elements) {
    const group = e.tag >>> 16;
    const el = e.tag & 0xffff;
    if (group & 1 && el >= 0x10 && el <= 0xff) {
      if (keptBlocks.has(`${group}:${el}`)) out.push(e);
      else log(ctx, `${prefix}${tagString(e.tag)}`, e.tag, 'X');
    }
  }
  return out;
}

function codeItem(code: { code: string; meaning: string }): Element[] {
  return [
    { tag: 0x00080100, vr: 'SH', value: textValue(code.code) },
    { tag: 0x00080102, vr: 'SH', value: textValue('DCM') },
    { tag: 0x00080104, vr: 'LO', value: textValue(code.meaning) },
  ];
}

function setElement(list: Element[], e: Element): void {
  const i = list.findIndex((x) => x.tag === e.tag);
  if (i >= 0) list[i] = e;
  else list.push(e);
}

/**
 * De-identify one file's bytes.
 * @example
 * const r = deidentifyDicom(readFileSync('cr.dcm'), 'cr.dcm', {
 *   profile: makeProfile(['retain-longitudinal-dates']), pseudonyms: makePseudonymiser(key), cleanText: scrubText });
 * writeFileSync('out.dcm', r.bytes);
 */
export function deidentifyDicom(bytes: Uint8Array, file: string, opts: DeidentifyDicomOptions): DeidentifyDicomResult {
  const parsed = parsePart10(bytes, file, opts.maxInflatedBytes !== undefined ? { maxInflatedBytes: opts.maxInflatedBytes } : {});
  if (!findElement(parsed.dataset, 0x00080016))
    throw new UnsupportedError('DICOM_NOT_INSTANCE', `${file}: no SOP Class UID (0008,0016): not a composite instance`, { file });
  const sourcePatient = elementText(findElement(parsed.dataset, PATIENT_ID)) ?? '';
  const ctx: Context = {
    opts,
    shiftDays: opts.pseudonyms.dateShiftDays(sourcePatient),
    patientPseudonym: opts.pseudonyms.patient(sourcePatient),
    changes: [],
  };
  const burnedIn = elementText(findElement(parsed.dataset, 0x00280301))?.toUpperCase();
  const pixelCleaned = opts.cleanPixels ? opts.cleanPixels(parsed) : false;
  const dataset = processItem(ctx, parsed.dataset, '');

  const options = opts.profile.options;
  const codes = [BASIC_PROFILE_CODE, ...[...options].map((o) => ({ code: OPTION_INFO[o].code, meaning: OPTION_INFO[o].meaning }))];
  if (pixelCleaned) codes.push(CLEAN_PIXEL_CODE);
  setElement(dataset, { tag: 0x00120062, vr: 'CS', value: textValue('YES') });
  // LO holds 64 characters per value: one value per code meaning keeps each within bounds.
  setElement(dataset, { tag: 0x00120063, vr: 'LO', value: textValue(['radml deidentify (PS3.15 Annex E)', ...codes.map((c) => c.meaning)].map((s) => s.slice(0, 64)).join('\\')) });
  setElement(dataset, { tag: 0x00120064, vr: 'SQ', items: codes.map(codeItem) });
  const temporal = options.has('retain-longitudinal-full-dates') ? 'UNMODIFIED' : options.has('retain-longitudinal-dates') ? 'MODIFIED' : 'REMOVED';
  setElement(dataset, { tag: 0x00280303, vr: 'CS', value: textValue(temporal) });
  if (pixelCleaned) setElement(dataset, { tag: 0x00280301, vr: 'CS', value: textValue('NO') });

  const sop = findElement(dataset, 0x00080018);
  const meta: Element[] = [];
  for (const e of parsed.meta) {
    if (e.tag === 0x00020000 || e.tag === 0x00020012 || e.tag === 0x00020013 || e.tag === 0x00020016 || e.tag >= 0x00020100) {
      if (e.tag === 0x00020016 || e.tag >= 0x00020100) log(ctx, tagString(e.tag), e.tag, 'X');
      continue;
    }
    if (e.tag === 0x00020003) {
      const mapped = sop?.value ? { ...e, value: sop.value } : { ...e, value: mapUids(ctx, e.value ?? new Uint8Array(0)) };
      meta.push(mapped);
      log(ctx, tagString(e.tag), e.tag, 'U');
      continue;
    }
    meta.push(e);
  }
  meta.push({ tag: 0x00020012, vr: 'UI', value: textValue(IMPLEMENTATION_CLASS_UID) });
  meta.push({ tag: 0x00020013, vr: 'SH', value: textValue(IMPLEMENTATION_VERSION_NAME) });
  const out: Part10File = { ...parsed, meta, dataset };
  const study = elementText(findElement(dataset, 0x0020000d));
  const sopUid = elementText(sop);
  return {
    bytes: writePart10(out),
    changes: ctx.changes,
    patientPseudonym: ctx.patientPseudonym,
    ...(burnedIn !== undefined ? { burnedInAnnotation: burnedIn } : {}),
    pixelCleaned,
    ...(sopUid ? { sopInstanceUid: sopUid } : {}),
    ...(study ? { studyInstanceUid: study } : {}),
  };
}
