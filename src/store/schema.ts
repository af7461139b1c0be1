/**
 * Records the deployment service persists, as zod schemas so the SQLite and PostgreSQL stores, the
 * HTTP routes and the exports all agree on one shape.
 */
import { z } from 'zod';

export const ROLES = ['admin', 'radiologist', 'service'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

export const JOB_STATES = ['queued', 'leased', 'done', 'failed'] as const;
export const jobStateSchema = z.enum(JOB_STATES);
export type JobState = z.infer<typeof jobStateSchema>;

/** A unit of asynchronous work: one study scored by one model version. */
export const jobSchema = z.object({
  id: z.number().int(),
  kind: z.string(),
  /** Study Instance UID the job is about. */
  studyUid: z.string(),
  modelName: z.string(),
  modelVersion: z.number().int(),
  /** Unique per (study, model version): seeing a study twice does not queue it twice. */
  idempotencyKey: z.string(),
  state: jobStateSchema,
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  /** Epoch ms before which the job is not handed out (backoff after an error). */
  runAfter: z.number(),
  leaseOwner: z.string().nullable(),
  leaseExpires: z.number().nullable(),
  lastError: z.string().nullable(),
  result: z.unknown().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** When the job was last queued (created, reopened or requeued): how long it may wait for its study counts from here. */
  queuedAt: z.number(),
});
export type Job = z.infer<typeof jobSchema>;

export const MODEL_STATUSES = ['registered', 'champion', 'challenger', 'retired'] as const;
export const modelStatusSchema = z.enum(MODEL_STATUSES);
export type ModelStatus = z.infer<typeof modelStatusSchema>;

/** One uploaded, verified model version in the registry. */
export const modelVersionSchema = z.object({
  name: z.string(),
  version: z.number().int().min(1),
  /** SHA-256 of model.onnx, hex. */
  onnxSha256: z.string(),
  /** Folder (inside the models directory) holding the verified artefacts. */
  dir: z.string(),
  status: modelStatusSchema,
  classes: z.array(z.string()),
  createdAt: z.number(),
  createdBy: z.string(),
});
export type ModelVersion = z.infer<typeof modelVersionSchema>;

/** Scores of one image by one model version. */
export const predictionSchema = z.object({
  id: z.number().int(),
  studyUid: z.string(),
  seriesUid: z.string(),
  sopUid: z.string(),
  modelName: z.string(),
  modelVersion: z.number().int(),
  /** Class name → probability. */
  scores: z.record(z.string(), z.number()),
  /** Class name → decision at the operating point (absent when the model has none). */
  decisions: z.record(z.string(), z.boolean()),
  /** Silent (shadow) predictions are recorded but never sent back to the PACS. */
  silent: z.boolean(),
  /** Header columns kept for subgroup evaluation (sex, age band, view, manufacturer, site); no identifiers. */
  columns: z.record(z.string(), z.string()),
  createdAt: z.number(),
});
export type Prediction = z.infer<typeof predictionSchema>;
export type NewPrediction = Omit<Prediction, 'id' | 'createdAt'>;

/** An instance a model version saw but did not score, with the reason (e.g. "modality MR is not CR/DX"). */
export const skippedInstanceSchema = z.object({
  studyUid: z.string(),
  sopUid: z.string(),
  modelName: z.string(),
  modelVersion: z.number().int(),
  reason: z.string(),
  createdAt: z.number(),
});
export type SkippedInstance = z.infer<typeof skippedInstanceSchema>;

export const VERDICTS = ['confirm', 'reject'] as const;
export const feedbackSchema = z.object({
  id: z.number().int(),
  studyUid: z.string(),
  finding: z.string(),
  verdict: z.enum(VERDICTS),
  user: z.string(),
  comment: z.string(),
  createdAt: z.number(),
});
export type Feedback = z.infer<typeof feedbackSchema>;
export type NewFeedback = Omit<Feedback, 'id' | 'createdAt'>;

export const auditEntrySchema = z.object({
  seq: z.number().int().min(1),
  ts: z.number(),
  actor: z.string(),
  action: z.string(),
  subject: z.string(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export type NewAuditEntry = Pick<AuditEntry, 'actor' | 'action' | 'subject' | 'details'>;
