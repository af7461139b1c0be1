/**
 * Turning an uploaded or retrieved file into a GreyImage for the model. DICOM headers are parsed and
 * checked (eligibility, pixel data, sizes) before any pixel is decoded, so hostile or off-target
 * files are refused cheaply with a reason.
 */
import { decodeRaster, sniffFormat } from '../data/image.js';
import { readDicom, readDicomHeader, type DicomHeader } from '../data/dicom/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { InputError, UnsupportedError } from '../util/errors.js';
import type { Selection } from './config.js';
import { eligibility } from './eligibility.js';

export interface DecodedInput {
  image: GreyImage;
  format: 'png' | 'jpeg' | 'dicom';
  header?: DicomHeader;
  /** Columns kept with a prediction for subgroup analysis (no identifiers). */
  columns: Record<string, string>;
}

/** Header columns safe to keep with predictions: no patient ID, no UIDs. */
export function subgroupColumns(h: DicomHeader): Record<string, string> {
  const age = h.patientAgeYears;
  return {
    sex: h.patientSex,
    age: age === null ? '' : String(Math.floor(age)),
    view: h.viewPosition,
    modality: h.modality,
    body_part: h.bodyPartExamined,
    manufacturer: h.manufacturer,
    site: h.institutionName,
  };
}

export interface DecodeLimits {
  /** Deflated DICOM: refuse a data set inflating past this (DicomInflateLimitError, a 400); default data/dicom's. */
  maxInflatedBytes?: number;
}

/**
 * Decode PNG/JPEG or DICOM bytes. For DICOM, `selection` (when given) and then `headerCheck` (the
 * model's training header profile) are checked on the header before any pixel is decoded; a refused
 * instance throws UnsupportedError ('NOT_ELIGIBLE' / 'OUT_OF_DISTRIBUTION') with the reasons.
 */
export async function decodeInput(bytes: Uint8Array, name: string, selection?: Selection, headerCheck?: (h: DicomHeader) => string[], opts: DecodeLimits = {}): Promise<DecodedInput> {
  const format = sniffFormat(bytes);
  if (format === 'png' || format === 'jpeg') return { image: await decodeRaster(bytes, name), format, columns: {} };
  if (format !== 'dicom') throw new InputError('INPUT_FORMAT', `${name}: not a PNG, JPEG or DICOM file`, { file: name });
  const limits = opts.maxInflatedBytes !== undefined ? { maxInflatedBytes: opts.maxInflatedBytes } : {};
  const header = readDicomHeader(bytes, name, limits);
  if (selection) {
    const reason = eligibility({ ...header }, selection);
    if (reason) throw new UnsupportedError('NOT_ELIGIBLE', `${name}: not scored: ${reason}`, { file: name });
  }
  const reasons = headerCheck?.(header) ?? [];
  if (reasons.length) throw new UnsupportedError('OUT_OF_DISTRIBUTION', `${name}: not scored: unlike the training images: ${reasons.join('; ')}`, { file: name });
  const d = await readDicom(bytes, name, limits);
  return { image: d.image, format: 'dicom', header, columns: subgroupColumns(header) };
}
