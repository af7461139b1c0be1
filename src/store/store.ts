/**
 * The persistence interface the service and its workers use. SqliteStore implements it for one
 * machine; PostgresStore (same contract, `FOR UPDATE SKIP LOCKED`) lets workers on several machines
 * share one queue. Everything is async so both fit.
 */
import { RadmlError } from '../util/errors.js';
import type { AuditEntry, Feedback, Job, JobState, ModelStatus, ModelVersion, NewAuditEntry, NewFeedback, NewPrediction, Prediction, SkippedInstance } from './schema.js';

export interface EnqueueRequest {
  kind: string;
  studyUid: string;
  modelName: string;
  modelVersion: number;
  maxAttempts?: number;
  /** Refuse (QueueFullError) when this many jobs are already queued or leased. */
  maxQueued?: number;
}

export interface FailOptions {
  /** False for permanent errors (bad input): the job fails at once. */
  retryable: boolean;
  /** Backoff before the n-th retry is baseBackoffMs · 2^(n−1), capped at maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs?: number;
}

export interface JobOutcome {
  result: unknown;
  predictions: NewPrediction[];
  skipped: Omit<SkippedInstance, 'createdAt'>[];
  /** Appended to the audit log in the same transaction, so the log has each completed job exactly once. */
  audit?: NewAuditEntry;
}

/** Thrown by enqueue when the queue is at its limit; the HTTP layer turns it into 503 + Retry-After. */
export class QueueFullError extends RadmlError {
  readonly retryAfterSeconds: number;
  constructor(depth: number, limit: number, retryAfterSeconds = 5) {
    super('QUEUE_FULL', `the job queue holds ${depth} jobs, its limit is ${limit}; try again later`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface Store {
  // ---- jobs
  /** Queue a job unless one with the same (kind, study, model version) exists; `created` says which. */
  enqueueJob(req: EnqueueRequest): Promise<{ job: Job; created: boolean }>;
  /** Hand the oldest runnable job (queued and due, or leased with an expired lease) to `owner`. */
  leaseJob(owner: string, leaseMs: number): Promise<Job | undefined>;
  /** Extend a lease the owner still holds; false when it was lost (expired and taken by another). */
  renewLease(id: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Record the outcome and mark the job done in one transaction; false when the lease was lost. */
  completeJob(id: number, owner: string, outcome: JobOutcome): Promise<boolean>;
  /** Retry later with exponential backoff, or fail permanently. */
  failJob(id: number, owner: string, error: string, opts: FailOptions): Promise<Job | undefined>;
  /** Give back every lease `owner` holds (graceful shutdown). Returns how many. */
  releaseLeases(owner: string): Promise<number>;
  getJob(id: number): Promise<Job | undefined>;
  listJobs(filter?: { state?: JobState; limit?: number }): Promise<Job[]>;
  /** Jobs queued or leased. */
  queueDepth(): Promise<number>;
  jobCounts(): Promise<Record<JobState, number>>;

  // ---- model registry
  nextModelVersion(name: string): Promise<number>;
  insertModelVersion(m: ModelVersion): Promise<void>;
  getModelVersion(name: string, version: number): Promise<ModelVersion | undefined>;
  findModelByHash(name: string, onnxSha256: string): Promise<ModelVersion | undefined>;
  listModelVersions(): Promise<ModelVersion[]>;
  /** Set a status; making a version champion (challenger) demotes the previous one of that name to registered. */
  setModelStatus(name: string, version: number, status: ModelStatus): Promise<void>;

  // ---- predictions, skips, feedback
  listPredictions(filter?: { studyUid?: string; modelName?: string; modelVersion?: number }): Promise<Prediction[]>;
  listSkipped(filter?: { studyUid?: string }): Promise<SkippedInstance[]>;
  addFeedback(f: NewFeedback): Promise<Feedback>;
  listFeedback(filter?: { studyUid?: string; since?: number }): Promise<Feedback[]>;

  // ---- audit (append-only, hash-chained)
  appendAudit(e: NewAuditEntry): Promise<AuditEntry>;
  listAudit(): Promise<AuditEntry[]>;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;

  // ---- small key/value state (e.g. the PACS change-feed cursor)
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}

export function idempotencyKey(kind: string, studyUid: string, modelName: string, modelVersion: number): string {
  return `${kind}:${modelName}@${modelVersion}:${studyUid}`;
}

export function backoffMs(attempts: number, opts: FailOptions): number {
  const ms = opts.baseBackoffMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(ms, opts.maxBackoffMs ?? 5 * 60_000);
}
