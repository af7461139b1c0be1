/**
 * DICOM header → typed record (zod schema) and manifest columns. The patient's name is never read;
 * the Patient ID is hashed with a salt unless the caller asks to keep it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DataSet } from 'dicom-parser';
import type { ParsedDicom } from './parse.js';
import { sopClassName } from './sop-class.js';
import { transferSyntaxName } from './transfer-syntax.js';

/** Used when the caller gives no salt; sites that share hashed IDs across exports should pass their own. */
export const DEFAULT_PATIENT_ID_SALT = 'radml-patient-id-v1';

export const DicomHeaderSchema = z.object({
  transferSyntaxUid: z.string(),
  transferSyntaxName: z.string(),
  sopClassUid: z.string(),
  sopClassName: z.string(),
  sopInstanceUid: z.string(),
  studyInstanceUid: z.string(),
  seriesInstanceUid: z.string(),
  modality: z.string(),
  manufacturer: z.string(),
  manufacturerModelName: z.string(),
  institutionName: z.string(),
  bodyPartExamined: z.string(),
  viewPosition: z.string(),
  /** Salted SHA-256 (first 16 hex digits) of PatientID, or the raw ID only with `keepPatientIds`; '' when absent. */
  patientId: z.string(),
  patientSex: z.enum(['M', 'F', 'O', '']),
  /** From PatientAge, else from PatientBirthDate and the study date; null when neither is known. */
  patientAgeYears: z.number().min(0).nullable(),
  studyDate: z.string(),
  /** Pixel Data (7FE0,0010), Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009) is present. */
  hasPixelData: z.boolean(),
  /** Which of the three pixel data elements holds the image: stored integers, 32-bit or 64-bit floats. */
  pixelDataKind: z.enum(['integer', 'float', 'double']),
  rows: z.number().int().min(0),
  columns: z.number().int().min(0),
  numberOfFrames: z.number().int().min(1),
  /**
   * Number of Frames (0028,0008) exactly as written when it is not a plain decimal integer (e.g. '1A');
   * '' when absent or valid. The reader refuses such files rather than guess how many frames there are.
   */
  invalidNumberOfFrames: z.string(),
  samplesPerPixel: z.number().int().min(1),
  photometricInterpretation: z.string(),
  bitsAllocated: z.number().int().min(0),
  bitsStored: z.number().int().min(0),
  highBit: z.number().int().min(0),
  /** 0 = unsigned, 1 = two's complement. */
  pixelRepresentation: z.union([z.literal(0), z.literal(1)]),
  /** 0 = colour-by-pixel (RGBRGB…), 1 = colour-by-plane (RR…GG…BB…). */
  planarConfiguration: z.union([z.literal(0), z.literal(1)]),
  rescaleSlope: z.number(),
  rescaleIntercept: z.number(),
  windowCenter: z.array(z.number()),
  windowWidth: z.array(z.number()),
  /** VOI LUT Function (0028,1056): LINEAR (default), LINEAR_EXACT or SIGMOID. */
  voiLutFunction: z.string(),
  hasVoiLutSequence: z.boolean(),
  /** A Modality LUT Sequence (0028,3000) maps stored values to modality values instead of the rescale. */
  hasModalityLutSequence: z.boolean(),
  /** Row spacing, column spacing in mm (PixelSpacing, else ImagerPixelSpacing); null when absent. */
  pixelSpacing: z.tuple([z.number(), z.number()]).nullable(),
});

export type DicomHeader = z.infer<typeof DicomHeaderSchema>;

export interface PatientIdOptions {
  /** Put the raw Patient ID in the header and columns instead of its salted hash. */
  keepPatientIds?: boolean;
  /** Salt for the Patient ID hash (default DEFAULT_PATIENT_ID_SALT). */
  salt?: string;
}

/**
 * Salted SHA-256 of a Patient ID, first 16 hex digits; '' for a blank ID.
 *
 * @example hashPatientId('12345', 'site-a') // '3f2c…' (16 hex digits, the same for the same salt)
 */
export function hashPatientId(id: string, salt: string = DEFAULT_PATIENT_ID_SALT): string {
  if (id === '') return '';
  return createHash('sha256').update(salt).update('\0').update(id).digest('hex').slice(0, 16);
}

function clean(s: string | undefined): string {
  // Strip NUL padding (seen in UIs) and surrounding blanks.
  return (s ?? '').replace(/\0/g, '').trim();
}

function str(ds: DataSet, tag: string): string {
  const el = ds.elements[tag];
  if (!el || el.length === 0) return '';
  return clean(ds.string(tag));
}

function num(ds: DataSet, tag: string, fallback: number): number {
  const el = ds.elements[tag];
  if (!el || el.length < 2) return fallback;
  const v = ds.uint16(tag);
  return v === undefined || !Number.isFinite(v) ? fallback : v;
}

/** A DICOM DS value (PS3.5 6.2): optional sign, digits with an optional point, optional exponent. */
const DS_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** A DICOM IS value: optional sign and decimal digits only. */
const IS_PATTERN = /^[+-]?\d+$/;

/**
 * Strict decimal parsing for DS/IS text. `Number()` alone also accepts '0x1F', '0b1', '0o7',
 * 'Infinity' and '' (as 0), none of which is a DICOM number.
 *
 * @example parseDicomNumber('-1.5e2') // -150; parseDicomNumber('0x1F') // undefined
 */
export function parseDicomNumber(text: string, integer = false): number | undefined {
  const t = text.trim();
  if (!(integer ? IS_PATTERN : DS_PATTERN).test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

function decimals(ds: DataSet, tag: string): number[] {
  const raw = str(ds, tag);
  if (raw === '') return [];
  return raw.split('\\').map((v) => parseDicomNumber(v)).filter((v): v is number => v !== undefined);
}

function firstDecimal(ds: DataSet, tag: string): number | undefined {
  return decimals(ds, tag)[0];
}

/** Years from a DICOM age string: 045Y, 006M, 010W, 003D; bare digits are read as years. */
export function parseDicomAge(as: string): number | null {
  const m = /^(\d{1,3})\s*([DWMY]?)$/i.exec(as.trim());
  if (!m) return null;
  const n = Number(m[1]);
  switch ((m[2] ?? '').toUpperCase()) {
    case 'D': return n / 365.25;
    case 'W': return (n * 7) / 365.25;
    case 'M': return n / 12;
    default: return n;
  }
}

function parseDate(da: string): { y: number; m: number; d: number } | null {
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})/.exec(da);
  if (!m) return null;
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  return { y, m: mo, d };
}

/** Whole years between a birth date and a study date (both DICOM DA), or null. */
export function ageFromDates(birth: string, study: string): number | null {
  const b = parseDate(birth), s = parseDate(study);
  if (!b || !s) return null;
  let years = s.y - b.y;
  if (s.m < b.m || (s.m === b.m && s.d < b.d)) years -= 1;
  return years >= 0 ? years : null;
}

/** An attribute from the top level, else from the Shared Functional Groups (enhanced multi-frame objects). */
function sharedGroupItem(ds: DataSet, macroTag: string): DataSet | undefined {
  const shared = ds.elements['x52009229']?.items?.[0]?.dataSet;
  return shared?.elements[macroTag]?.items?.[0]?.dataSet;
}

/**
 * The header as it applies to frame `index` of an enhanced multi-frame object: Rescale and Window
 * from the Per-frame Functional Groups (5200,9230) item of that frame override the shared values.
 */
export function frameHeader(ds: DataSet, h: DicomHeader, index: number): DicomHeader {
  const perFrame = ds.elements['x52009230']?.items?.[index]?.dataSet;
  if (!perFrame) return h;
  const transform = perFrame.elements['x00289145']?.items?.[0]?.dataSet;
  const voi = perFrame.elements['x00289132']?.items?.[0]?.dataSet;
  if (!transform && !voi) return h;
  const out = { ...h };
  if (transform) {
    out.rescaleSlope = firstDecimal(transform, 'x00281053') || h.rescaleSlope;
    out.rescaleIntercept = firstDecimal(transform, 'x00281052') ?? h.rescaleIntercept;
  }
  if (voi) {
    const c = decimals(voi, 'x00281050'), w = decimals(voi, 'x00281051');
    if (c.length && w.length) {
      out.windowCenter = c;
      out.windowWidth = w;
    }
    out.voiLutFunction = str(voi, 'x00281056').toUpperCase() || h.voiLutFunction;
  }
  return out;
}

/** The element holding the image: Pixel Data, else Float Pixel Data, else Double Float Pixel Data. */
export function pixelDataTag(ds: DataSet): 'x7fe00010' | 'x7fe00008' | 'x7fe00009' | undefined {
  for (const tag of ['x7fe00010', 'x7fe00008', 'x7fe00009'] as const) if (ds.elements[tag]) return tag;
  return undefined;
}

/**
 * Read the header fields radml uses from a parsed file.
 */
export function extractHeader(parsed: ParsedDicom, opts: PatientIdOptions = {}): DicomHeader {
  const ds = parsed.dataSet;
  const rawId = str(ds, 'x00100020');
  const sex = str(ds, 'x00100040').toUpperCase();
  const studyDate = str(ds, 'x00080020') || str(ds, 'x00080021') || str(ds, 'x00080022') || str(ds, 'x00080023');
  const ageText = str(ds, 'x00101010');
  const age = (ageText ? parseDicomAge(ageText) : null) ?? ageFromDates(str(ds, 'x00100030'), studyDate);

  const transform = ds.elements['x00281053'] ? ds : sharedGroupItem(ds, 'x00289145') ?? ds;
  const voi = ds.elements['x00281050'] ? ds : sharedGroupItem(ds, 'x00289132') ?? ds;
  const spacing = decimals(ds, 'x00280030').length >= 2 ? decimals(ds, 'x00280030') : decimals(ds, 'x00181164');
  const framesText = str(ds, 'x00280008');
  const framesValue = framesText === '' ? 1 : parseDicomNumber(framesText, true);
  const frames = framesValue ?? 1;
  const sopClassUid = str(ds, 'x00080016') || str(ds, 'x00020002');

  const header: DicomHeader = {
    transferSyntaxUid: parsed.transferSyntaxUid,
    transferSyntaxName: transferSyntaxName(parsed.transferSyntaxUid),
    sopClassUid,
    sopClassName: sopClassName(sopClassUid),
    sopInstanceUid: str(ds, 'x00080018') || str(ds, 'x00020003'),
    studyInstanceUid: str(ds, 'x0020000d'),
    seriesInstanceUid: str(ds, 'x0020000e'),
    modality: str(ds, 'x00080060').toUpperCase(),
    manufacturer: str(ds, 'x00080070'),
    manufacturerModelName: str(ds, 'x00081090'),
    institutionName: str(ds, 'x00080080'),
    bodyPartExamined: str(ds, 'x00180015').toUpperCase(),
    viewPosition: str(ds, 'x00185101').toUpperCase(),
    patientId: opts.keepPatientIds ? rawId : hashPatientId(rawId, opts.salt),
    patientSex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : '',
    patientAgeYears: age,
    studyDate,
    hasPixelData: pixelDataTag(ds) !== undefined,
    pixelDataKind: pixelDataTag(ds) === 'x7fe00008' ? 'float' : pixelDataTag(ds) === 'x7fe00009' ? 'double' : 'integer',
    rows: num(ds, 'x00280010', 0),
    columns: num(ds, 'x00280011', 0),
    numberOfFrames: frames >= 1 ? frames : 1,
    invalidNumberOfFrames: framesValue === undefined ? framesText : '',
    samplesPerPixel: Math.max(1, num(ds, 'x00280002', 1)),
    photometricInterpretation: str(ds, 'x00280004').toUpperCase() || 'MONOCHROME2',
    bitsAllocated: num(ds, 'x00280100', 0),
    bitsStored: num(ds, 'x00280101', num(ds, 'x00280100', 0)),
    highBit: num(ds, 'x00280102', num(ds, 'x00280101', num(ds, 'x00280100', 1)) - 1),
    pixelRepresentation: num(ds, 'x00280103', 0) === 1 ? 1 : 0,
    planarConfiguration: num(ds, 'x00280006', 0) === 1 ? 1 : 0,
    rescaleSlope: firstDecimal(transform, 'x00281053') || 1,
    rescaleIntercept: firstDecimal(transform, 'x00281052') ?? 0,
    windowCenter: decimals(voi, 'x00281050'),
    windowWidth: decimals(voi, 'x00281051'),
    voiLutFunction: str(voi, 'x00281056').toUpperCase() || 'LINEAR',
    hasVoiLutSequence: (ds.elements['x00283010']?.items?.length ?? 0) > 0,
    hasModalityLutSequence: (ds.elements['x00283000']?.items?.length ?? 0) > 0,
    pixelSpacing: spacing.length >= 2 ? [spacing[0]!, spacing[1]!] : null,
  };
  return DicomHeaderSchema.parse(header);
}

function formatAge(years: number | null): string {
  if (years === null) return '';
  return Number.isInteger(years) ? String(years) : String(Math.round(years * 100) / 100);
}

/**
 * Manifest columns from a header: sex, age, manufacturer, modality, body_part, view, site (InstitutionName),
 * study_uid, series_uid, sop_uid, photometric, rows, columns, patient_id. Blank when absent.
 *
 * @example headerColumns(h).view // 'PA'
 */
export function headerColumns(h: DicomHeader): Record<string, string> {
  return {
    patient_id: h.patientId,
    sex: h.patientSex,
    age: formatAge(h.patientAgeYears),
    manufacturer: h.manufacturer,
    modality: h.modality,
    body_part: h.bodyPartExamined,
    view: h.viewPosition,
    site: h.institutionName,
    study_uid: h.studyInstanceUid,
    series_uid: h.seriesInstanceUid,
    sop_uid: h.sopInstanceUid,
    photometric: h.photometricInterpretation,
    rows: String(h.rows),
    columns: String(h.columns),
  };
}
