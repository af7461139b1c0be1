/** Records shared by the synthetic-cohort modules: findings, sites, patients, studies. */
import { z } from 'zod';

/** The five findings of the synthetic cohort, in manifest column order. */
export const FINDINGS = ['Cardiomegaly', 'Effusion', 'Consolidation', 'Nodule', 'Pneumothorax'] as const;
export type Finding = (typeof FINDINGS)[number];
export type Labels = Record<Finding, 0 | 1>;

export type Sex = 'M' | 'F';
export type View = 'PA' | 'AP';
export type Side = 'right' | 'left';

export const findingRecord = <T extends z.ZodType>(t: T) =>
  z.object({ Cardiomegaly: t, Effusion: t, Consolidation: t, Nodule: t, Pneumothorax: t });

/** How one site acquires and stores its images, and how its population differs. */
export const siteProfileSchema = z.object({
  name: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  modality: z.enum(['CR', 'DX']),
  photometric: z.enum(['MONOCHROME1', 'MONOCHROME2']),
  bitsStored: z.number().int().min(8).max(16),
  /** Display curve: intensity^gamma, then contrast around mid grey. */
  gamma: z.number().positive(),
  contrast: z.number().positive(),
  /** Standard deviation of additive detector noise, in display units [0, 1]. */
  noise: z.number().nonnegative(),
  /** Gaussian blur sigma in pixels at 256 px (scaled with the image size): effective resolution. */
  blurSigma: z.number().nonnegative(),
  rescaleSlope: z.number().positive(),
  rescaleIntercept: z.number(),
  kvp: z.number().positive(),
  /** Share of AP (portable) views before findings push it up. */
  apFraction: z.number().min(0).max(1),
  /** Share of patients at this site (weights, normalised over sites). */
  weight: z.number().positive(),
  ageMean: z.number(),
  ageSd: z.number().positive(),
  /** Added to each finding's logit at this site: the population shift. */
  logitShift: findingRecord(z.number()),
  /** True for the site whose case mix differs on purpose (external validation, drift). */
  distinctPrevalence: z.boolean(),
});
export type SiteProfile = z.infer<typeof siteProfileSchema>;

/** Where a localised finding sits: side, vertical position in the lung (0 apex .. 1 base), medial→lateral 0..1. */
export interface LesionPlace {
  side: Side;
  fy: number;
  fx: number;
}

export interface LesionParams {
  consolidation?: LesionPlace & { radius: number; blobs: { dx: number; dy: number; r: number; w: number }[]; density: number };
  nodule?: LesionPlace & { radius: number; density: number };
  effusion?: { side: Side; height: number; meniscus: number; density: number };
  pneumothorax?: { side: Side; gap: number; extent: number };
}

/** Body geometry in image-normalised coordinates (0..1 across the image). */
export interface Anatomy {
  cx: number;
  /** Half-width of the inner rib cage at the lung bases. */
  thoraxHalfWidth: number;
  bodyHalfWidth: number;
  lungTop: number;
  /** Top of the right and left diaphragm domes. */
  domeRight: number;
  domeLeft: number;
  domeHeight: number;
  mediastinumHalfWidth: number;
  /** True cardiothoracic ratio (the label's basis); the AP view magnifies the drawn heart. */
  ctr: number;
  heartHeightRatio: number;
  ribSpacing: number;
  ribThickness: number;
  softTissue: number;
  breast: number;
  /** Seed for texture and vessel trees, stable per patient. */
  textureSeed: number;
}

export interface StudySpec {
  /** 0-based position in the cohort. */
  index: number;
  studyId: string;
  patientId: string;
  /** 1-based patient number, used in the synthetic PatientName SYNTH^<n>. */
  patientNumber: number;
  /** 1-based order of this study among the patient's studies. */
  visit: number;
  site: string;
  siteIndex: number;
  sex: Sex;
  age: number;
  view: View;
  /** DICOM DA and TM. */
  date: string;
  time: string;
  labels: Labels;
  anatomy: Anatomy;
  lesions: LesionParams;
  /** Seed of the acquisition noise of this image. */
  noiseSeed: number;
}

export interface ReaderProfile {
  reader: string;
  sensitivity: Record<Finding, number>;
  specificity: Record<Finding, number>;
}
