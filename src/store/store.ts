/**
 * The persistence interface the service and its workers use. SqliteStore implements it for one
 * machine; PostgresStore (same contract, `FOR UPDATE SKIP LOCKED`) lets workers on several machines
 * share one queue. Everything is async so both fit.
 */
import { RadmlError } from '../util/errors.js';
import type { AuditKey } from './audit-chain.js';
import type { AuditEntry, Feedback, Job, JobState, ModelStatus, ModelVersion, NewAuditEntry, NewFeedback, NewPrediction, Prediction, SkippedInstance } from './schema.js';

export interface EnqueueRequest {
  kind: string;
  studyUid: string;
  modelName: string;
  modelVersion: number;
  maxAttempts?: number;
  /** Refuse (QueueFullError) when this many jobs are already queued or leased. */
  maxQueued?: number;
  /**
   * The study changed (it arrived, or instances were added): a done job is queued again (it scores
   * only the instances it has not seen), a running one runs once more after it completes, a queued
   * one waiting for its study is made due now. Without it an existing job is left as it is.
   */
  reopen?: boolean;
}

/** What enqueue did: a new job, an existing one set going again, or nothing. */
export type EnqueueAction = 'created' | 'reopened' | 'rerun' | 'woken' | 'exists';

export interface RequeueFilter {
  /** These jobs (failed or done; queued and running ones are left alone). */
  ids?: number[];
  /** Every failed job, or every done job that refused at least one instance. */
  state?: 'failed' | 'refused';
  limit?: number;
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
  /** Queue a job unless one with the same (kind, study, model version) exists; `action` says what happened. */
  enqueueJob(req: EnqueueRequest): Promise<{ job: Job; created: boolean; action: EnqueueAction }>;
  /** Hand the oldest runnable job (queued and due, or leased with an expired lease) to `owner`. */
  leaseJob(owner: string, leaseMs: number): Promise<Job | undefined>;
  /** Extend a lease the owner still holds; false when it was lost (expired and taken by another). */
  renewLease(id: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Record the outcome and mark the job done in one transaction; false when the lease was lost. */
  completeJob(id: number, owner: string, outcome: JobOutcome): Promise<boolean>;
  /** Retry later with exponential backoff, or fail permanently. */
  failJob(id: number, owner: string, error: string, opts: FailOptions): Promise<Job | undefined>;
  /**
   * Hand a leased job back to the queue for later without failing it: the PACS is down, or the study
   * has not arrived yet. With `refundAttempt` the attempt it was leased with is given back.
   */
  postponeJob(id: number, owner: string, opts: { delayMs: number; reason: string; refundAttempt: boolean }): Promise<Job | undefined>;
  /**
   * Admin requeue: failed jobs and done ones go back to the queue with their attempts reset; the
   * instances a requeued job refused are forgotten so they are looked at again (scored ones never are).
   */
  requeueJobs(filter: RequeueFilter): Promise<{ requeued: Job[]; unchanged: Job[] }>;
  /** Give back every lease `owner` holds (graceful shutdown). Returns how many. */
  releaseLeases(owner: string): Promise<number>;
  getJob(id: number): Promise<Job | undefined>;
  listJobs(filter?: { state?: JobState; studyUid?: string; limit?: number }): Promise<Job[]>;
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
  listSkipped(filter?: { studyUid?: string; modelName?: string; modelVersion?: number }): Promise<SkippedInstance[]>;
  addFeedback(f: NewFeedback): Promise<Feedback>;
  listFeedback(filter?: { studyUid?: string; since?: number }): Promise<Feedback[]>;

  // ---- audit (append-only, hash-chained)
  appendAudit(e: NewAuditEntry): Promise<AuditEntry>;
  listAudit(): Promise<AuditEntry[]>;
  /** Up to `limit` entries with seq > `afterSeq`, in seq order (paging; never the whole table). */
  listAuditPage(afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** Key the chain from now on (audit-chain.ts): entries appended from key.keyedFromSeq are HMACs. */
  setAuditKey(key: AuditKey | undefined): void;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;

  // ---- small key/value state (e.g. the PACS change-feed cursor)
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}

export function idempotencyKey(kind: string, studyUid: string, modelName: string, modelVersion: number): string {
  return `${kind}:${modelName}@${modelVersion}:${studyUid}`;
}

/** What `reopen` does to an existing job (see EnqueueRequest.reopen); failed jobs wait for an admin requeue. */
export function reopenAction(state: JobState, runAfter: number, now: number): EnqueueAction {
  if (state === 'done') return 'reopened';
  if (state === 'leased') return 'rerun';
  if (state === 'queued' && runAfter > now) return 'woken';
  return 'exists';
}

export function backoffMs(attempts: number, opts: FailOptions): number {
  const ms = opts.baseBackoffMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(ms, opts.maxBackoffMs ?? 5 * 60_000);
}
