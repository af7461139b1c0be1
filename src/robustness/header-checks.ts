/**
 * DICOM header checks at prediction time: is this the kind of image the model was trained on?
 * A profile lists what the training images had (modality, body part, view, photometric
 * interpretation, bits stored); an incoming header is compared field by field and every mismatch
 * is a named reason. Blank training values are ignored (the field was never recorded); a blank
 * incoming modality is a reason in itself (it is a mandatory DICOM attribute).
 */
import { z } from 'zod';
import type { DicomHeader } from '../data/dicom/index.js';

export const headerProfileSchema = z.object({
  modality: z.array(z.string()),
  bodyPart: z.array(z.string()),
  view: z.array(z.string()),
  photometric: z.array(z.string()),
  /** [min, max] bits stored seen in training; null when unknown. */
  bitsStored: z.tuple([z.number().int(), z.number().int()]).nullable(),
  /** Number of training images the profile was built from. */
  images: z.number().int().min(0),
});
export type HeaderProfile = z.infer<typeof headerProfileSchema>;

const norm = (s: string | undefined) => (s ?? '').trim().toUpperCase();

/** The header fields the checks read, as found in a DicomHeader or in manifest/dataset columns. */
export interface HeaderFields {
  modality: string;
  bodyPart: string;
  view: string;
  photometric: string;
  bitsStored: number | null;
  samplesPerPixel?: number;
  frames?: number;
}

export function fieldsFromHeader(h: DicomHeader): HeaderFields {
  return {
    modality: h.modality, bodyPart: h.bodyPartExamined, view: h.viewPosition, photometric: h.photometricInterpretation,
    bitsStored: h.bitsStored || null, samplesPerPixel: h.samplesPerPixel, frames: h.numberOfFrames,
  };
}

/** From manifest / dataset-index columns (modality, body_part, view, photometric, bits_stored). */
export function fieldsFromColumns(row: Record<string, string | undefined>): HeaderFields {
  const bits = Number(row['bits_stored']);
  return {
    modality: row['modality'] ?? '', bodyPart: row['body_part'] ?? '', view: row['view'] ?? '', photometric: row['photometric'] ?? '',
    bitsStored: Number.isInteger(bits) && bits > 0 ? bits : null,
  };
}

/**
 * What the training images had.
 * @example const profile = buildHeaderProfile(dataset.manifest.records.map((r) => fieldsFromColumns(r.columns)));
 */
export function buildHeaderProfile(rows: HeaderFields[]): HeaderProfile {
  const set = (f: (r: HeaderFields) => string) => [...new Set(rows.map((r) => norm(f(r))).filter((v) => v !== ''))].sort();
  const bits = rows.map((r) => r.bitsStored).filter((b): b is number => b !== null);
  return {
    modality: set((r) => r.modality),
    bodyPart: set((r) => r.bodyPart),
    view: set((r) => r.view),
    photometric: set((r) => r.photometric),
    bitsStored: bits.length ? [Math.min(...bits), Math.max(...bits)] : null,
    images: rows.length,
  };
}

/**
 * Reasons (empty = fine) why a header does not match the training profile.
 * @example checkHeader(fieldsFromHeader(h), profile) // ['modality CT: the model was trained on CR, DX']
 */
export function checkHeader(f: HeaderFields, profile: HeaderProfile): string[] {
  const reasons: string[] = [];
  const one = (label: string, value: string, allowed: string[], requirePresent = false) => {
    const v = norm(value);
    if (v === '') {
      if (requirePresent && allowed.length) reasons.push(`${label} is missing; the model was trained on ${allowed.join(', ')}`);
      return;
    }
    if (allowed.length && !allowed.includes(v)) reasons.push(`${label} ${v}: the model was trained on ${allowed.join(', ')}`);
  };
  one('modality', f.modality, profile.modality, true);
  one('body part', f.bodyPart, profile.bodyPart);
  one('view', f.view, profile.view);
  one('photometric interpretation', f.photometric, profile.photometric);
  if (f.samplesPerPixel !== undefined && f.samplesPerPixel !== 1) reasons.push(`${f.samplesPerPixel} samples per pixel: the model takes grey-scale radiographs`);
  if (f.frames !== undefined && f.frames > 1) reasons.push(`${f.frames} frames: the model takes single-frame projection images`);
  if (f.bitsStored !== null && profile.bitsStored && (f.bitsStored < profile.bitsStored[0] || f.bitsStored > profile.bitsStored[1])) {
    reasons.push(`bits stored ${f.bitsStored}: training images had ${profile.bitsStored[0]}–${profile.bitsStored[1]}`);
  }
  return reasons;
}
