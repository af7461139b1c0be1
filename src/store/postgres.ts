/**
 * PostgreSQL implementation of Store, so workers on several machines share one queue: a lease is
 * taken with `SELECT … FOR UPDATE SKIP LOCKED`, which hands each waiting worker a different row
 * without blocking on rows others are taking.
 *
 * `PostgresStore.connect('postgres://…')` opens a `pg` pool and migrates the schema (several
 * processes starting at once take turns on an advisory lock). The constructor takes anything shaped
 * like a `pg.Pool` (structural type below).
 */
import pg from 'pg';
import { auditHash, GENESIS_HASH, type AuditKey } from './audit-chain.js';
import type { AuditEntry, Feedback, Job, JobState, ModelStatus, ModelVersion, NewAuditEntry, NewFeedback, Prediction, SkippedInstance } from './schema.js';
import { JOB_STATES } from './schema.js';
import { InputError } from '../util/errors.js';
import { type EnqueueAction, type EnqueueRequest, type FailOptions, type JobOutcome, QueueFullError, type RequeueFilter, type Store, backoffMs, idempotencyKey, reopenAction } from './store.js';

export interface PgResult { rows: Record<string, unknown>[]; rowCount: number | null }
export interface PgClient { query(text: string, values?: unknown[]): Promise<PgResult>; release(): void }
/** The part of `pg.Pool` this store uses. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

export const POSTGRES_SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  model_name TEXT NOT NULL,
  model_version INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('queued','leased','done','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_after BIGINT NOT NULL,
  lease_owner TEXT,
  lease_expires BIGINT,
  last_error TEXT,
  result JSONB,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  queued_at BIGINT NOT NULL DEFAULT 0,
  rerun BOOLEAN NOT NULL DEFAULT FALSE
);
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS queued_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS rerun BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX IF NOT EXISTS jobs_study ON jobs (study_uid);
CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (state, run_after, id);
CREATE TABLE IF NOT EXISTS models (
  name TEXT NOT NULL, version INTEGER NOT NULL, onnx_sha256 TEXT NOT NULL, dir TEXT NOT NULL, status TEXT NOT NULL,
  classes JSONB NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS predictions (
  id BIGSERIAL PRIMARY KEY, study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, sop_uid TEXT NOT NULL,
  model_name TEXT NOT NULL, model_version INTEGER NOT NULL, scores JSONB NOT NULL, decisions JSONB NOT NULL,
  silent BOOLEAN NOT NULL, columns JSONB NOT NULL, created_at BIGINT NOT NULL, UNIQUE (sop_uid, model_name, model_version)
);
CREATE INDEX IF NOT EXISTS predictions_study ON predictions (study_uid);
CREATE TABLE IF NOT EXISTS skipped (
  study_uid TEXT NOT NULL, sop_uid TEXT NOT NULL, model_name TEXT NOT NULL, model_version INTEGER NOT NULL, reason TEXT NOT NULL,
  created_at BIGINT NOT NULL, PRIMARY KEY (study_uid, sop_uid, model_name, model_version)
);
DO $$ BEGIN
  -- Skips became per model version: bring a table from an earlier radml up to date.
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'skipped' AND column_name = 'model_name') THEN
    ALTER TABLE skipped ADD COLUMN model_name TEXT NOT NULL DEFAULT '', ADD COLUMN model_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE skipped DROP CONSTRAINT skipped_pkey;
    ALTER TABLE skipped ADD PRIMARY KEY (study_uid, sop_uid, model_name, model_version);
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS feedback (
  id BIGSERIAL PRIMARY KEY, study_uid TEXT NOT NULL, finding TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('confirm','reject')), "user" TEXT NOT NULL, comment TEXT NOT NULL, created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT PRIMARY KEY, ts BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
  details JSONB NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_no_change ON audit;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

const n = (v: unknown): number => Number(v);
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toJob(r: Record<string, unknown>): Job {
  return {
    id: n(r.id), kind: String(r.kind), studyUid: String(r.study_uid), modelName: String(r.model_name), modelVersion: n(r.model_version),
    idempotencyKey: String(r.idempotency_key), state: r.state as JobState, attempts: n(r.attempts), maxAttempts: n(r.max_attempts),
    runAfter: n(r.run_after), leaseOwner: r.lease_owner === null ? null : String(r.lease_owner),
    leaseExpires: r.lease_expires === null ? null : n(r.lease_expires), lastError: r.last_error === null ? null : String(r.last_error),
    result: r.result ?? null, createdAt: n(r.created_at), updatedAt: n(r.updated_at), queuedAt: n(r.queued_at),
  };
}
function toModel(r: Record<string, unknown>): ModelVersion {
  return {
    name: String(r.name), version: n(r.version), onnxSha256: String(r.onnx_sha256), dir: String(r.dir), status: r.status as ModelStatus,
    classes: json<string[]>(r.classes), createdAt: n(r.created_at), createdBy: String(r.created_by),
  };
}

/** A `postgres://` or `postgresql://` connection string (the serve config's "store"). */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/** Connection string with the password hidden, for logs and errors. */
export function redactPostgresUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}

// Bigint columns (ids, epoch ms) as JS numbers: all radml values fit in 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

export class PostgresStore implements Store {
  constructor(private readonly pool: PgQueryable, private readonly now: () => number = Date.now) {}

  /**
   * Open a pool on a connection string and bring the schema up to date.
   * @example const store = await PostgresStore.connect('postgres://radml@db.hospital.local/radml');
   */
  static async connect(url: string, opts: { max?: number; now?: () => number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
    // An idle client losing its connection (database restart) must not crash the process.
    pool.on('error', () => {});
    const store = new PostgresStore(pool as unknown as PgQueryable, opts.now);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => {});
      throw new InputError('STORE_UNREACHABLE', `PostgreSQL store ${redactPostgresUrl(url)}: ${(e as Error).message}`, { cause: e });
    }
    return store;
  }

  async migrate(): Promise<void> {
    // Several services starting together would race on CREATE TABLE: they take turns.
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(7305781)');
      await c.query(POSTGRES_SCHEMA);
    });
  }

  private async tx<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    } finally {
      c.release();
    }
  }

  async enqueueJob(req: EnqueueRequest): Promise<{ job: Job; created: boolean; action: EnqueueAction }> {
    const key = idempotencyKey(req.kind, req.studyUid, req.modelName, req.modelVersion);
    const existing = async (c: PgClient, row: Record<string, unknown>): Promise<{ job: Job; created: boolean; action: EnqueueAction }> => {
      const t = this.now();
      const action = req.reopen ? reopenAction(row.state as JobState, n(row.run_after), t) : 'exists';
      let r: PgResult | undefined;
      if (action === 'reopened') r = await c.query(`UPDATE jobs SET state = 'queued', attempts = 0, run_after = $2, queued_at = $2, updated_at = $2 WHERE id = $1 RETURNING *`, [row.id, t]);
      else if (action === 'rerun') r = await c.query('UPDATE jobs SET rerun = TRUE, updated_at = $2 WHERE id = $1 RETURNING *', [row.id, t]);
      else if (action === 'woken') r = await c.query('UPDATE jobs SET run_after = $2, updated_at = $2 WHERE id = $1 RETURNING *', [row.id, t]);
      return { job: toJob(r?.rows[0] ?? row), created: false, action };
    };
    return this.tx(async (c) => {
      const ex = await c.query('SELECT * FROM jobs WHERE idempotency_key = $1 FOR UPDATE', [key]);
      if (ex.rows[0]) return existing(c, ex.rows[0]);
      if (req.maxQueued !== undefined) {
        const d = n((await c.query(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued','leased')`)).rows[0]!.n);
        if (d >= req.maxQueued) throw new QueueFullError(d, req.maxQueued);
      }
      const t = this.now();
      const r = await c.query(
        `INSERT INTO jobs (kind, study_uid, model_name, model_version, idempotency_key, state, attempts, max_attempts, run_after, created_at, updated_at, queued_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $7, $7, $7)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
        [req.kind, req.studyUid, req.modelName, req.modelVersion, key, req.maxAttempts ?? 5, t],
      );
      if (r.rows[0]) return { job: toJob(r.rows[0]), created: true, action: 'created' as const };
      // Another machine inserted it between our check and insert.
      return existing(c, (await c.query('SELECT * FROM jobs WHERE idempotency_key = $1 FOR UPDATE', [key])).rows[0]!);
    });
  }

  async leaseJob(owner: string, leaseMs: number): Promise<Job | undefined> {
    return this.tx(async (c) => {
      const t = this.now();
      const r = await c.query(
        `SELECT id, state, attempts, max_attempts FROM jobs
         WHERE (state = 'queued' AND run_after <= $1) OR (state = 'leased' AND lease_expires < $1)
         ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [t],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      if (row.state === 'leased' && n(row.attempts) >= n(row.max_attempts)) {
        await c.query(`UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires = NULL, last_error = $2, updated_at = $3 WHERE id = $1`,
          [row.id, `lease expired ${n(row.attempts)} times (worker died each time)`, t]);
        return undefined;
      }
      const u = await c.query(`UPDATE jobs SET state = 'leased', attempts = attempts + 1, lease_owner = $2, lease_expires = $3, updated_at = $4 WHERE id = $1 RETURNING *`,
        [row.id, owner, t + leaseMs, t]);
      return toJob(u.rows[0]!);
    });
  }

  async renewLease(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const t = this.now();
    const r = await this.pool.query(`UPDATE jobs SET lease_expires = $1, updated_at = $2 WHERE id = $3 AND state = 'leased' AND lease_owner = $4`, [t + leaseMs, t, id, owner]);
    return r.rowCount === 1;
  }

  async completeJob(id: number, owner: string, outcome: JobOutcome): Promise<boolean> {
    return this.tx(async (c) => {
      const t = this.now();
      // A job asked to run again while it ran (new instances arrived) goes straight back to the queue.
      const r = await c.query(`UPDATE jobs SET state = CASE WHEN rerun THEN 'queued' ELSE 'done' END, attempts = CASE WHEN rerun THEN 0 ELSE attempts END,
                                 run_after = $2, queued_at = CASE WHEN rerun THEN $2 ELSE queued_at END, rerun = FALSE,
                                 result = $1, lease_owner = NULL, lease_expires = NULL, last_error = NULL, updated_at = $2
                               WHERE id = $3 AND state = 'leased' AND lease_owner = $4`, [JSON.stringify(outcome.result ?? null), t, id, owner]);
      if (r.rowCount !== 1) return false;
      for (const p of outcome.predictions) {
        await c.query(`INSERT INTO predictions (study_uid, series_uid, sop_uid, model_name, model_version, scores, decisions, silent, columns, created_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
          [p.studyUid, p.seriesUid, p.sopUid, p.modelName, p.modelVersion, JSON.stringify(p.scores), JSON.stringify(p.decisions), p.silent, JSON.stringify(p.columns), t]);
      }
      for (const s of outcome.skipped) {
        await c.query(`INSERT INTO skipped (study_uid, sop_uid, model_name, model_version, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (study_uid, sop_uid, model_name, model_version) DO UPDATE SET reason = excluded.reason`, [s.studyUid, s.sopUid, s.modelName, s.modelVersion, s.reason, t]);
      }
      if (outcome.audit) await this.appendAuditIn(c, outcome.audit);
      return true;
    });
  }

  async failJob(id: number, owner: string, error: string, opts: FailOptions): Promise<Job | undefined> {
    return this.tx(async (c) => {
      const r = await c.query(`SELECT * FROM jobs WHERE id = $1 AND state = 'leased' AND lease_owner = $2 FOR UPDATE`, [id, owner]);
      const row = r.rows[0];
      if (!row) return undefined;
      const t = this.now();
      const attempts = n(row.attempts);
      const retry = opts.retryable && attempts < n(row.max_attempts);
      const u = await c.query(`UPDATE jobs SET state = $1, run_after = $2, lease_owner = NULL, lease_expires = NULL, last_error = $3, rerun = FALSE, updated_at = $4 WHERE id = $5 RETURNING *`,
        [retry ? 'queued' : 'failed', retry ? t + backoffMs(attempts, opts) : n(row.run_after), error.slice(0, 2000), t, id]);
      return toJob(u.rows[0]!);
    });
  }

  async postponeJob(id: number, owner: string, opts: { delayMs: number; reason: string; refundAttempt: boolean }): Promise<Job | undefined> {
    const t = this.now();
    const r = await this.pool.query(`UPDATE jobs SET state = 'queued', attempts = GREATEST(0, attempts - $1), run_after = $2, lease_owner = NULL, lease_expires = NULL,
                                       last_error = $3, updated_at = $4 WHERE id = $5 AND state = 'leased' AND lease_owner = $6 RETURNING *`,
      [opts.refundAttempt ? 1 : 0, t + opts.delayMs, opts.reason.slice(0, 2000), t, id, owner]);
    return r.rows[0] ? toJob(r.rows[0]) : undefined;
  }

  async requeueJobs(filter: RequeueFilter): Promise<{ requeued: Job[]; unchanged: Job[] }> {
    return this.tx(async (c) => {
      const limit = filter.limit ?? 10_000;
      let rows: Record<string, unknown>[];
      if (filter.ids) rows = (await c.query('SELECT * FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [filter.ids])).rows;
      else if (filter.state === 'failed') rows = (await c.query(`SELECT * FROM jobs WHERE state = 'failed' ORDER BY id LIMIT $1 FOR UPDATE`, [limit])).rows;
      else if (filter.state === 'refused') {
        rows = (await c.query(`SELECT * FROM jobs j WHERE state = 'done' AND EXISTS (SELECT 1 FROM skipped s WHERE s.study_uid = j.study_uid
                                 AND s.model_name = j.model_name AND s.model_version = j.model_version) ORDER BY id LIMIT $1 FOR UPDATE`, [limit])).rows;
      } else rows = [];
      const t = this.now();
      const requeued: Job[] = [];
      const unchanged: Job[] = [];
      for (const r of rows) {
        if (r.state !== 'failed' && r.state !== 'done') {
          unchanged.push(toJob(r));
          continue;
        }
        await c.query('DELETE FROM skipped WHERE study_uid = $1 AND model_name = $2 AND model_version = $3', [r.study_uid, r.model_name, r.model_version]);
        const u = await c.query(`UPDATE jobs SET state = 'queued', attempts = 0, run_after = $2, queued_at = $2, rerun = FALSE, updated_at = $2 WHERE id = $1 RETURNING *`, [r.id, t]);
        requeued.push(toJob(u.rows[0]!));
      }
      return { requeued, unchanged };
    });
  }

  async releaseLeases(owner: string): Promise<number> {
    const r = await this.pool.query(`UPDATE jobs SET state = 'queued', attempts = GREATEST(0, attempts - 1), lease_owner = NULL, lease_expires = NULL, updated_at = $1
                                     WHERE state = 'leased' AND lease_owner = $2`, [this.now(), owner]);
    return r.rowCount ?? 0;
  }

  async getJob(id: number): Promise<Job | undefined> {
    const r = await this.pool.query('SELECT * FROM jobs WHERE id = $1', [id]);
    return r.rows[0] ? toJob(r.rows[0]) : undefined;
  }

  async listJobs(filter: { state?: JobState; studyUid?: string; limit?: number } = {}): Promise<Job[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.state !== undefined) { args.push(filter.state); where.push(`state = $${args.length}`); }
    if (filter.studyUid !== undefined) { args.push(filter.studyUid); where.push(`study_uid = $${args.length}`); }
    args.push(filter.limit ?? 1000);
    const r = await this.pool.query(`SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT $${args.length}`, args);
    return r.rows.map(toJob);
  }

  async queueDepth(): Promise<number> {
    return n((await this.pool.query(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued','leased')`)).rows[0]!.n);
  }

  async jobCounts(): Promise<Record<JobState, number>> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of (await this.pool.query('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state')).rows) out[r.state as JobState] = n(r.n);
    return out;
  }

  async nextModelVersion(name: string): Promise<number> {
    return n((await this.pool.query('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM models WHERE name = $1', [name])).rows[0]!.v);
  }

  async insertModelVersion(m: ModelVersion): Promise<void> {
    await this.pool.query('INSERT INTO models (name, version, onnx_sha256, dir, status, classes, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [m.name, m.version, m.onnxSha256, m.dir, m.status, JSON.stringify(m.classes), m.createdAt, m.createdBy]);
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion | undefined> {
    const r = await this.pool.query('SELECT * FROM models WHERE name = $1 AND version = $2', [name, version]);
    return r.rows[0] ? toModel(r.rows[0]) : undefined;
  }

  async findModelByHash(name: string, onnxSha256: string): Promise<ModelVersion | undefined> {
    const r = await this.pool.query('SELECT * FROM models WHERE name = $1 AND onnx_sha256 = $2 ORDER BY version LIMIT 1', [name, onnxSha256]);
    return r.rows[0] ? toModel(r.rows[0]) : undefined;
  }

  async listModelVersions(): Promise<ModelVersion[]> {
    return (await this.pool.query('SELECT * FROM models ORDER BY name, version')).rows.map(toModel);
  }

  async setModelStatus(name: string, version: number, status: ModelStatus): Promise<void> {
    await this.tx(async (c) => {
      if (status === 'champion' || status === 'challenger') {
        await c.query(`UPDATE models SET status = 'registered' WHERE name = $1 AND status = $2 AND version <> $3`, [name, status, version]);
      }
      await c.query('UPDATE models SET status = $1 WHERE name = $2 AND version = $3', [status, name, version]);
    });
  }

  async listPredictions(filter: { studyUid?: string; modelName?: string; modelVersion?: number } = {}): Promise<Prediction[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.studyUid !== undefined) { args.push(filter.studyUid); where.push(`study_uid = $${args.length}`); }
    if (filter.modelName !== undefined) { args.push(filter.modelName); where.push(`model_name = $${args.length}`); }
    if (filter.modelVersion !== undefined) { args.push(filter.modelVersion); where.push(`model_version = $${args.length}`); }
    const r = await this.pool.query(`SELECT * FROM predictions ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`, args);
    return r.rows.map((x) => ({
      id: n(x.id), studyUid: String(x.study_uid), seriesUid: String(x.series_uid), sopUid: String(x.sop_uid), modelName: String(x.model_name),
      modelVersion: n(x.model_version), scores: json<Record<string, number>>(x.scores), decisions: json<Record<string, boolean>>(x.decisions),
      silent: Boolean(x.silent), columns: json<Record<string, string>>(x.columns), createdAt: n(x.created_at),
    }));
  }

  async listSkipped(filter: { studyUid?: string; modelName?: string; modelVersion?: number } = {}): Promise<SkippedInstance[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.studyUid !== undefined) { args.push(filter.studyUid); where.push(`study_uid = $${args.length}`); }
    if (filter.modelName !== undefined) { args.push(filter.modelName); where.push(`model_name = $${args.length}`); }
    if (filter.modelVersion !== undefined) { args.push(filter.modelVersion); where.push(`model_version = $${args.length}`); }
    const r = await this.pool.query(`SELECT * FROM skipped ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at`, args);
    return r.rows.map((x) => ({
      studyUid: String(x.study_uid), sopUid: String(x.sop_uid), modelName: String(x.model_name), modelVersion: n(x.model_version), reason: String(x.reason), createdAt: n(x.created_at),
    }));
  }

  async addFeedback(f: NewFeedback): Promise<Feedback> {
    const t = this.now();
    const r = await this.pool.query('INSERT INTO feedback (study_uid, finding, verdict, "user", comment, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
      [f.studyUid, f.finding, f.verdict, f.user, f.comment, t]);
    return { ...f, id: n(r.rows[0]!.id), createdAt: t };
  }

  async listFeedback(filter: { studyUid?: string; since?: number } = {}): Promise<Feedback[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.studyUid !== undefined) { args.push(filter.studyUid); where.push(`study_uid = $${args.length}`); }
    if (filter.since !== undefined) { args.push(filter.since); where.push(`created_at >= $${args.length}`); }
    const r = await this.pool.query(`SELECT * FROM feedback ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`, args);
    return r.rows.map((x) => ({ id: n(x.id), studyUid: String(x.study_uid), finding: String(x.finding), verdict: x.verdict as 'confirm' | 'reject', user: String(x.user), comment: String(x.comment), createdAt: n(x.created_at) }));
  }

  async appendAudit(e: NewAuditEntry): Promise<AuditEntry> {
    return this.tx((c) => this.appendAuditIn(c, e));
  }

  private async appendAuditIn(c: PgClient, e: NewAuditEntry): Promise<AuditEntry> {
    // The head row is the chain's lock: appenders on several machines take turns on it.
    await c.query(`INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING`, [GENESIS_HASH]);
    const head = (await c.query('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE')).rows[0]!;
    const seq = n(head.seq) + 1;
    const prevHash = String(head.hash);
    const entry = { seq, ts: this.now(), actor: e.actor, action: e.action, subject: e.subject, details: e.details };
    const hash = auditHash(prevHash, entry, this.auditKey);
    await c.query('INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [seq, entry.ts, e.actor, e.action, e.subject, JSON.stringify(e.details), prevHash, hash]);
    await c.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [seq, hash]);
    return { ...entry, prevHash, hash };
  }

  async listAudit(): Promise<AuditEntry[]> {
    return (await this.pool.query('SELECT * FROM audit ORDER BY seq')).rows.map((r) => ({
      seq: n(r.seq), ts: n(r.ts), actor: String(r.actor), action: String(r.action), subject: String(r.subject),
      details: json<Record<string, unknown>>(r.details), prevHash: String(r.prev_hash), hash: String(r.hash),
    }));
  }

  async listAuditPage(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    return (await this.pool.query('SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit])).rows.map((r) => ({
      seq: n(r.seq), ts: n(r.ts), actor: String(r.actor), action: String(r.action), subject: String(r.subject),
      details: json<Record<string, unknown>>(r.details), prevHash: String(r.prev_hash), hash: String(r.hash),
    }));
  }

  private auditKey: AuditKey | undefined;
  setAuditKey(key: AuditKey | undefined): void {
    this.auditKey = key;
  }

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    const r = (await this.pool.query('SELECT seq, hash FROM audit_head WHERE id = 1')).rows[0];
    return r && n(r.seq) > 0 ? { seq: n(r.seq), hash: String(r.hash) } : undefined;
  }

  async getState(key: string): Promise<string | undefined> {
    const r = (await this.pool.query('SELECT value FROM state WHERE key = $1', [key])).rows[0];
    return r ? String(r.value) : undefined;
  }

  async setState(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
