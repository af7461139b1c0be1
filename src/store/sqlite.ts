/**
 * SQLite implementation of Store (better-sqlite3 v12, WAL). Several processes on one machine may
 * share the file: leases are taken inside `BEGIN IMMEDIATE` transactions, so two workers never get
 * the same job, and a job's predictions are written in the same transaction that marks it done, so
 * a crash either records all of a job or none of it.
 */
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { auditHash, GENESIS_HASH, type AuditKey } from './audit-chain.js';
import type { AuditEntry, Feedback, Job, JobState, ModelStatus, ModelVersion, NewAuditEntry, NewFeedback, Prediction, SkippedInstance } from './schema.js';
import { JOB_STATES } from './schema.js';
import { type EnqueueAction, type EnqueueRequest, type FailOptions, type JobOutcome, QueueFullError, type RequeueFilter, type Store, backoffMs, idempotencyKey, reopenAction } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  model_name TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('queued','leased','done','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires INTEGER,
  last_error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  queued_at INTEGER NOT NULL DEFAULT 0,
  rerun INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (state, run_after, id);
CREATE TABLE IF NOT EXISTS models (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  onnx_sha256 TEXT NOT NULL,
  dir TEXT NOT NULL,
  status TEXT NOT NULL,
  classes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS predictions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_uid TEXT NOT NULL,
  series_uid TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  model_name TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  scores TEXT NOT NULL,
  decisions TEXT NOT NULL,
  silent INTEGER NOT NULL,
  columns TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (sop_uid, model_name, model_version)
);
CREATE INDEX IF NOT EXISTS predictions_study ON predictions (study_uid);
CREATE TABLE IF NOT EXISTS skipped (
  study_uid TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  model_name TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (study_uid, sop_uid, model_name, model_version)
);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_uid TEXT NOT NULL,
  finding TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('confirm','reject')),
  user TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * Bring a store written by an earlier radml up to date: jobs gained `queued_at` and `rerun`; skips
 * are per model version (the same instance can be refused by one version's OOD gate and scored by
 * another's), so the old per-study table is rebuilt with the model columns ('' and 0 for old rows).
 */
function migrate(db: Database.Database): void {
  const cols = (t: string) => new Set((db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name));
  db.transaction(() => {
    const jobs = cols('jobs');
    if (!jobs.has('queued_at')) {
      db.exec('ALTER TABLE jobs ADD COLUMN queued_at INTEGER NOT NULL DEFAULT 0; UPDATE jobs SET queued_at = created_at;');
    }
    if (!jobs.has('rerun')) db.exec('ALTER TABLE jobs ADD COLUMN rerun INTEGER NOT NULL DEFAULT 0');
    if (!cols('skipped').has('model_name')) {
      db.exec(`ALTER TABLE skipped RENAME TO skipped_old;
        CREATE TABLE skipped (study_uid TEXT NOT NULL, sop_uid TEXT NOT NULL, model_name TEXT NOT NULL, model_version INTEGER NOT NULL,
          reason TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (study_uid, sop_uid, model_name, model_version));
        INSERT INTO skipped SELECT study_uid, sop_uid, '', 0, reason, created_at FROM skipped_old;
        DROP TABLE skipped_old;`);
    }
  }).immediate();
}

interface JobRow {
  id: number; kind: string; study_uid: string; model_name: string; model_version: number; idempotency_key: string;
  state: JobState; attempts: number; max_attempts: number; run_after: number; lease_owner: string | null;
  lease_expires: number | null; last_error: string | null; result: string | null; created_at: number; updated_at: number;
  queued_at: number; rerun: number;
}
interface ModelRow { name: string; version: number; onnx_sha256: string; dir: string; status: ModelStatus; classes: string; created_at: number; created_by: string }
interface PredictionRow {
  id: number; study_uid: string; series_uid: string; sop_uid: string; model_name: string; model_version: number;
  scores: string; decisions: string; silent: number; columns: string; created_at: number;
}
interface AuditRow { seq: number; ts: number; actor: string; action: string; subject: string; details: string; prev_hash: string; hash: string }

function toJob(r: JobRow): Job {
  return {
    id: r.id, kind: r.kind, studyUid: r.study_uid, modelName: r.model_name, modelVersion: r.model_version,
    idempotencyKey: r.idempotency_key, state: r.state, attempts: r.attempts, maxAttempts: r.max_attempts,
    runAfter: r.run_after, leaseOwner: r.lease_owner, leaseExpires: r.lease_expires, lastError: r.last_error,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown), createdAt: r.created_at, updatedAt: r.updated_at,
    queuedAt: r.queued_at,
  };
}
function toModel(r: ModelRow): ModelVersion {
  return {
    name: r.name, version: r.version, onnxSha256: r.onnx_sha256, dir: r.dir, status: r.status,
    classes: JSON.parse(r.classes) as string[], createdAt: r.created_at, createdBy: r.created_by,
  };
}
function toPrediction(r: PredictionRow): Prediction {
  return {
    id: r.id, studyUid: r.study_uid, seriesUid: r.series_uid, sopUid: r.sop_uid, modelName: r.model_name,
    modelVersion: r.model_version, scores: JSON.parse(r.scores) as Record<string, number>,
    decisions: JSON.parse(r.decisions) as Record<string, boolean>, silent: r.silent === 1,
    columns: JSON.parse(r.columns) as Record<string, string>, createdAt: r.created_at,
  };
}
export function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq, ts: r.ts, actor: r.actor, action: r.action, subject: r.subject,
    details: JSON.parse(r.details) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash,
  };
}

export interface SqliteStoreOptions {
  /** Clock in epoch ms (tests pass a fake one). */
  now?: () => number;
  readonly?: boolean;
  /** SQLite `synchronous` in WAL mode. NORMAL (default) survives a process crash (SIGKILL) without
   *  losing a commit; FULL also survives power loss at the cost of an fsync per commit (~5 ms here). */
  synchronous?: 'NORMAL' | 'FULL';
}

/**
 * @example
 * const store = SqliteStore.open('var/radml.db');
 * const { job } = await store.enqueueJob({ kind: 'study', studyUid, modelName: 'cxr', modelVersion: 1 });
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly now: () => number;

  private constructor(db: Database.Database, opts: SqliteStoreOptions) {
    this.db = db;
    this.now = opts.now ?? Date.now;
  }

  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!opts.readonly) {
      // The store holds the log pseudonym key: owner-only (SQLite gives -wal/-shm the same mode).
      if (path !== ':memory:') chmodSync(path, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
      db.pragma('busy_timeout = 10000');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      migrate(db);
      db.exec('CREATE INDEX IF NOT EXISTS jobs_study ON jobs (study_uid)');
    } else {
      db.pragma('busy_timeout = 10000');
    }
    return new SqliteStore(db, opts);
  }

  // ---- jobs

  async enqueueJob(req: EnqueueRequest): Promise<{ job: Job; created: boolean; action: EnqueueAction }> {
    const key = idempotencyKey(req.kind, req.studyUid, req.modelName, req.modelVersion);
    const tx = this.db.transaction((): { job: Job; created: boolean; action: EnqueueAction } => {
      const existing = this.db.prepare('SELECT * FROM jobs WHERE idempotency_key = ?').get(key) as JobRow | undefined;
      const t = this.now();
      if (existing) {
        const action = req.reopen ? reopenAction(existing.state, existing.run_after, t) : 'exists';
        if (action === 'reopened') {
          this.db.prepare(`UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, queued_at = ?, updated_at = ? WHERE id = ?`).run(t, t, t, existing.id);
        } else if (action === 'rerun') {
          this.db.prepare('UPDATE jobs SET rerun = 1, updated_at = ? WHERE id = ?').run(t, existing.id);
        } else if (action === 'woken') {
          this.db.prepare('UPDATE jobs SET run_after = ?, updated_at = ? WHERE id = ?').run(t, t, existing.id);
        }
        const job = action === 'exists' ? existing : (this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(existing.id) as JobRow);
        return { job: toJob(job), created: false, action };
      }
      if (req.maxQueued !== undefined) {
        const depth = this.depthSync();
        if (depth >= req.maxQueued) throw new QueueFullError(depth, req.maxQueued);
      }
      const info = this.db
        .prepare(`INSERT INTO jobs (kind, study_uid, model_name, model_version, idempotency_key, state, attempts, max_attempts, run_after, created_at, updated_at, queued_at)
                  VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?)`)
        .run(req.kind, req.studyUid, req.modelName, req.modelVersion, key, req.maxAttempts ?? 5, t, t, t, t);
      return { job: toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(info.lastInsertRowid) as JobRow), created: true, action: 'created' };
    });
    return tx.immediate();
  }

  async leaseJob(owner: string, leaseMs: number): Promise<Job | undefined> {
    const tx = this.db.transaction((): Job | undefined => {
      const t = this.now();
      const row = this.db
        .prepare(`SELECT * FROM jobs WHERE (state = 'queued' AND run_after <= ?) OR (state = 'leased' AND lease_expires < ?)
                  ORDER BY run_after, id LIMIT 1`)
        .get(t, t) as JobRow | undefined;
      if (!row) return undefined;
      // An expired lease counts as an attempt that died; it goes through the same attempt limit.
      if (row.state === 'leased' && row.attempts >= row.max_attempts) {
        this.db.prepare(`UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires = NULL, last_error = ?, updated_at = ? WHERE id = ?`)
          .run(`lease expired ${row.attempts} times (worker died each time)`, t, row.id);
        return undefined;
      }
      this.db.prepare(`UPDATE jobs SET state = 'leased', attempts = attempts + 1, lease_owner = ?, lease_expires = ?, updated_at = ? WHERE id = ?`)
        .run(owner, t + leaseMs, t, row.id);
      return toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(row.id) as JobRow);
    });
    return tx.immediate();
  }

  async renewLease(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const t = this.now();
    const r = this.db.prepare(`UPDATE jobs SET lease_expires = ?, updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?`).run(t + leaseMs, t, id, owner);
    return r.changes === 1;
  }

  async completeJob(id: number, owner: string, outcome: JobOutcome): Promise<boolean> {
    const tx = this.db.transaction((): boolean => {
      const t = this.now();
      // A job asked to run again while it ran (new instances arrived) goes straight back to the queue.
      const r = this.db
        .prepare(`UPDATE jobs SET state = CASE WHEN rerun = 1 THEN 'queued' ELSE 'done' END, attempts = CASE WHEN rerun = 1 THEN 0 ELSE attempts END,
                    run_after = ?, queued_at = CASE WHEN rerun = 1 THEN ? ELSE queued_at END, rerun = 0,
                    result = ?, lease_owner = NULL, lease_expires = NULL, last_error = NULL, updated_at = ?
                  WHERE id = ? AND state = 'leased' AND lease_owner = ?`)
        .run(t, t, JSON.stringify(outcome.result ?? null), t, id, owner);
      if (r.changes !== 1) return false;
      const ins = this.db.prepare(`INSERT OR IGNORE INTO predictions (study_uid, series_uid, sop_uid, model_name, model_version, scores, decisions, silent, columns, created_at)
                                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const p of outcome.predictions) {
        ins.run(p.studyUid, p.seriesUid, p.sopUid, p.modelName, p.modelVersion, JSON.stringify(p.scores), JSON.stringify(p.decisions), p.silent ? 1 : 0, JSON.stringify(p.columns), t);
      }
      const skip = this.db.prepare('INSERT OR REPLACE INTO skipped (study_uid, sop_uid, model_name, model_version, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)');
      for (const s of outcome.skipped) skip.run(s.studyUid, s.sopUid, s.modelName, s.modelVersion, s.reason, t);
      if (outcome.audit) this.appendAuditSync(outcome.audit);
      return true;
    });
    return tx.immediate();
  }

  async failJob(id: number, owner: string, error: string, opts: FailOptions): Promise<Job | undefined> {
    const tx = this.db.transaction((): Job | undefined => {
      const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ? AND state = 'leased' AND lease_owner = ?`).get(id, owner) as JobRow | undefined;
      if (!row) return undefined;
      const t = this.now();
      const retry = opts.retryable && row.attempts < row.max_attempts;
      this.db.prepare(`UPDATE jobs SET state = ?, run_after = ?, lease_owner = NULL, lease_expires = NULL, last_error = ?, rerun = 0, updated_at = ? WHERE id = ?`)
        .run(retry ? 'queued' : 'failed', retry ? t + backoffMs(row.attempts, opts) : row.run_after, error.slice(0, 2000), t, id);
      return toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow);
    });
    return tx.immediate();
  }

  async postponeJob(id: number, owner: string, opts: { delayMs: number; reason: string; refundAttempt: boolean }): Promise<Job | undefined> {
    const tx = this.db.transaction((): Job | undefined => {
      const t = this.now();
      const r = this.db.prepare(`UPDATE jobs SET state = 'queued', attempts = MAX(0, attempts - ?), run_after = ?, lease_owner = NULL, lease_expires = NULL,
                                   last_error = ?, updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?`)
        .run(opts.refundAttempt ? 1 : 0, t + opts.delayMs, opts.reason.slice(0, 2000), t, id, owner);
      return r.changes === 1 ? toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow) : undefined;
    });
    return tx.immediate();
  }

  async requeueJobs(filter: RequeueFilter): Promise<{ requeued: Job[]; unchanged: Job[] }> {
    const tx = this.db.transaction((): { requeued: Job[]; unchanged: Job[] } => {
      const limit = filter.limit ?? 10_000;
      let rows: JobRow[];
      if (filter.ids) {
        rows = filter.ids.map((id) => this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined).filter((r): r is JobRow => r !== undefined);
      } else if (filter.state === 'failed') {
        rows = this.db.prepare(`SELECT * FROM jobs WHERE state = 'failed' ORDER BY id LIMIT ?`).all(limit) as JobRow[];
      } else if (filter.state === 'refused') {
        rows = this.db.prepare(`SELECT * FROM jobs j WHERE state = 'done' AND EXISTS (SELECT 1 FROM skipped s WHERE s.study_uid = j.study_uid
                                  AND s.model_name = j.model_name AND s.model_version = j.model_version) ORDER BY id LIMIT ?`).all(limit) as JobRow[];
      } else rows = [];
      const t = this.now();
      const requeued: Job[] = [];
      const unchanged: Job[] = [];
      for (const r of rows) {
        if (r.state !== 'failed' && r.state !== 'done') {
          unchanged.push(toJob(r));
          continue;
        }
        this.db.prepare('DELETE FROM skipped WHERE study_uid = ? AND model_name = ? AND model_version = ?').run(r.study_uid, r.model_name, r.model_version);
        this.db.prepare(`UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, queued_at = ?, rerun = 0, updated_at = ? WHERE id = ?`).run(t, t, t, r.id);
        requeued.push(toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(r.id) as JobRow));
      }
      return { requeued, unchanged };
    });
    return tx.immediate();
  }

  async releaseLeases(owner: string): Promise<number> {
    // A released job did not fail: give its attempt back so a shutdown does not use up retries.
    const r = this.db
      .prepare(`UPDATE jobs SET state = 'queued', attempts = MAX(0, attempts - 1), lease_owner = NULL, lease_expires = NULL, updated_at = ? WHERE state = 'leased' AND lease_owner = ?`)
      .run(this.now(), owner);
    return r.changes;
  }

  async getJob(id: number): Promise<Job | undefined> {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r ? toJob(r) : undefined;
  }

  async listJobs(filter: { state?: JobState; studyUid?: string; limit?: number } = {}): Promise<Job[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state !== undefined) { where.push('state = ?'); args.push(filter.state); }
    if (filter.studyUid !== undefined) { where.push('study_uid = ?'); args.push(filter.studyUid); }
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as JobRow[]).map(toJob);
  }

  private depthSync(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued','leased')`).get() as { n: number }).n;
  }

  async queueDepth(): Promise<number> {
    return this.depthSync();
  }

  async jobCounts(): Promise<Record<JobState, number>> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  // ---- models

  async nextModelVersion(name: string): Promise<number> {
    const r = this.db.prepare('SELECT MAX(version) AS v FROM models WHERE name = ?').get(name) as { v: number | null };
    return (r.v ?? 0) + 1;
  }

  async insertModelVersion(m: ModelVersion): Promise<void> {
    this.db.prepare('INSERT INTO models (name, version, onnx_sha256, dir, status, classes, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.name, m.version, m.onnxSha256, m.dir, m.status, JSON.stringify(m.classes), m.createdAt, m.createdBy);
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion | undefined> {
    const r = this.db.prepare('SELECT * FROM models WHERE name = ? AND version = ?').get(name, version) as ModelRow | undefined;
    return r ? toModel(r) : undefined;
  }

  async findModelByHash(name: string, onnxSha256: string): Promise<ModelVersion | undefined> {
    const r = this.db.prepare('SELECT * FROM models WHERE name = ? AND onnx_sha256 = ? ORDER BY version LIMIT 1').get(name, onnxSha256) as ModelRow | undefined;
    return r ? toModel(r) : undefined;
  }

  async listModelVersions(): Promise<ModelVersion[]> {
    return (this.db.prepare('SELECT * FROM models ORDER BY name, version').all() as ModelRow[]).map(toModel);
  }

  async setModelStatus(name: string, version: number, status: ModelStatus): Promise<void> {
    this.db.transaction(() => {
      if (status === 'champion' || status === 'challenger') {
        this.db.prepare(`UPDATE models SET status = 'registered' WHERE name = ? AND status = ? AND version != ?`).run(name, status, version);
      }
      this.db.prepare('UPDATE models SET status = ? WHERE name = ? AND version = ?').run(status, name, version);
    }).immediate();
  }

  // ---- predictions, skips, feedback

  async listPredictions(filter: { studyUid?: string; modelName?: string; modelVersion?: number } = {}): Promise<Prediction[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.studyUid !== undefined) { where.push('study_uid = ?'); args.push(filter.studyUid); }
    if (filter.modelName !== undefined) { where.push('model_name = ?'); args.push(filter.modelName); }
    if (filter.modelVersion !== undefined) { where.push('model_version = ?'); args.push(filter.modelVersion); }
    const sql = `SELECT * FROM predictions ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(...args) as PredictionRow[]).map(toPrediction);
  }

  async listSkipped(filter: { studyUid?: string; modelName?: string; modelVersion?: number } = {}): Promise<SkippedInstance[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.studyUid !== undefined) { where.push('study_uid = ?'); args.push(filter.studyUid); }
    if (filter.modelName !== undefined) { where.push('model_name = ?'); args.push(filter.modelName); }
    if (filter.modelVersion !== undefined) { where.push('model_version = ?'); args.push(filter.modelVersion); }
    const rows = this.db.prepare(`SELECT * FROM skipped ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at`).all(...args) as
      { study_uid: string; sop_uid: string; model_name: string; model_version: number; reason: string; created_at: number }[];
    return rows.map((r) => ({ studyUid: r.study_uid, sopUid: r.sop_uid, modelName: r.model_name, modelVersion: r.model_version, reason: r.reason, createdAt: r.created_at }));
  }

  async addFeedback(f: NewFeedback): Promise<Feedback> {
    const t = this.now();
    const info = this.db.prepare('INSERT INTO feedback (study_uid, finding, verdict, user, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(f.studyUid, f.finding, f.verdict, f.user, f.comment, t);
    return { ...f, id: Number(info.lastInsertRowid), createdAt: t };
  }

  async listFeedback(filter: { studyUid?: string; since?: number } = {}): Promise<Feedback[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.studyUid !== undefined) { where.push('study_uid = ?'); args.push(filter.studyUid); }
    if (filter.since !== undefined) { where.push('created_at >= ?'); args.push(filter.since); }
    const sql = `SELECT * FROM feedback ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`;
    const rows = this.db.prepare(sql).all(...args) as { id: number; study_uid: string; finding: string; verdict: 'confirm' | 'reject'; user: string; comment: string; created_at: number }[];
    return rows.map((r) => ({ id: r.id, studyUid: r.study_uid, finding: r.finding, verdict: r.verdict, user: r.user, comment: r.comment, createdAt: r.created_at }));
  }

  // ---- audit

  async appendAudit(e: NewAuditEntry): Promise<AuditEntry> {
    return this.db.transaction(() => this.appendAuditSync(e)).immediate();
  }

  /** Inside a transaction: the head row is read and moved on atomically with the insert. */
  private appendAuditSync(e: NewAuditEntry): AuditEntry {
    const head = this.db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: string } | undefined;
    const seq = (head?.seq ?? 0) + 1;
    const prevHash = head?.hash ?? GENESIS_HASH;
    const ts = this.now();
    const entry = { seq, ts, actor: e.actor, action: e.action, subject: e.subject, details: e.details };
    const hash = auditHash(prevHash, entry, this.auditKey);
    this.db.prepare('INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(seq, ts, e.actor, e.action, e.subject, JSON.stringify(e.details), prevHash, hash);
    this.db.prepare('INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash').run(seq, hash);
    return { ...entry, prevHash, hash };
  }

  async listAudit(): Promise<AuditEntry[]> {
    return (this.db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[]).map(toAuditEntry);
  }

  async listAuditPage(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    return (this.db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as AuditRow[]).map(toAuditEntry);
  }

  private auditKey: AuditKey | undefined;
  setAuditKey(key: AuditKey | undefined): void {
    this.auditKey = key;
  }

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    return this.db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: string } | undefined;
  }

  // ---- state

  async getState(key: string): Promise<string | undefined> {
    const r = this.db.prepare('SELECT value FROM state WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value;
  }

  async setState(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
