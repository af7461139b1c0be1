import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueFullError, SqliteStore, verifyAuditChain } from '../../src/store/index.js';

function tempStore(now?: () => number): { store: SqliteStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'radml-store-'));
  return { store: SqliteStore.open(join(dir, 'radml.db'), now ? { now } : {}), dir };
}

test('enqueue is idempotent per study and model version, and refuses past the queue limit', async () => {
  const { store, dir } = tempStore();
  try {
    const a = await store.enqueueJob({ kind: 'study', studyUid: '1.2.3', modelName: 'm', modelVersion: 1, maxQueued: 2 });
    const b = await store.enqueueJob({ kind: 'study', studyUid: '1.2.3', modelName: 'm', modelVersion: 1, maxQueued: 2 });
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.job.id, a.job.id);
    const c = await store.enqueueJob({ kind: 'study', studyUid: '1.2.3', modelName: 'm', modelVersion: 2, maxQueued: 2 });
    assert.equal(c.created, true);
    await assert.rejects(store.enqueueJob({ kind: 'study', studyUid: '1.2.4', modelName: 'm', modelVersion: 1, maxQueued: 2 }), QueueFullError);
    // A duplicate of an existing job is still answered when the queue is full.
    assert.equal((await store.enqueueJob({ kind: 'study', studyUid: '1.2.3', modelName: 'm', modelVersion: 1, maxQueued: 2 })).created, false);
    assert.equal(await store.queueDepth(), 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leases expire and are taken over; failures back off exponentially; completion needs the lease', async () => {
  let t = 1_000_000;
  const { store, dir } = tempStore(() => t);
  try {
    const { job } = await store.enqueueJob({ kind: 'study', studyUid: 'S1', modelName: 'm', modelVersion: 1, maxAttempts: 3 });
    const l1 = await store.leaseJob('w1', 1000);
    assert.equal(l1?.id, job.id);
    assert.equal(await store.leaseJob('w2', 1000), undefined, 'a held lease is not handed out twice');
    t += 1500; // w1 died
    const l2 = await store.leaseJob('w2', 1000);
    assert.equal(l2?.id, job.id);
    assert.equal(l2?.attempts, 2);
    assert.equal(await store.completeJob(job.id, 'w1', { result: null, predictions: [], skipped: [] }), false, 'a lost lease cannot complete');
    const failed = await store.failJob(job.id, 'w2', 'PACS 503', { retryable: true, baseBackoffMs: 100 });
    assert.equal(failed?.state, 'queued');
    assert.equal(failed?.runAfter, t + 200, 'second attempt failed: backoff 100·2^1');
    assert.equal(await store.leaseJob('w3', 1000), undefined, 'not due yet');
    t += 200;
    const l3 = await store.leaseJob('w3', 1000);
    assert.equal(l3?.attempts, 3);
    const last = await store.failJob(job.id, 'w3', 'PACS 503', { retryable: true, baseBackoffMs: 100 });
    assert.equal(last?.state, 'failed', 'attempts exhausted');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('completion writes predictions and skips atomically; release gives leases back', async () => {
  const { store, dir } = tempStore();
  try {
    await store.enqueueJob({ kind: 'study', studyUid: 'S1', modelName: 'm', modelVersion: 1 });
    await store.enqueueJob({ kind: 'study', studyUid: 'S2', modelName: 'm', modelVersion: 1 });
    const j1 = (await store.leaseJob('w', 10_000))!;
    const j2 = (await store.leaseJob('w', 10_000))!;
    const p = { studyUid: 'S1', seriesUid: 'SE', sopUid: 'I1', modelName: 'm', modelVersion: 1, scores: { a: 0.3 }, decisions: { a: false }, silent: false, columns: { view: 'PA' } };
    assert.equal(await store.completeJob(j1.id, 'w', { result: { n: 1 }, predictions: [p], skipped: [{ studyUid: 'S1', sopUid: 'I2', modelName: 'm', modelVersion: 1, reason: 'modality MR' }] }), true);
    assert.equal((await store.listPredictions({ studyUid: 'S1' })).length, 1);
    assert.equal((await store.listSkipped({ studyUid: 'S1' }))[0]?.reason, 'modality MR');
    assert.equal(await store.releaseLeases('w'), 1);
    const again = await store.getJob(j2.id);
    assert.equal(again?.state, 'queued');
    assert.equal(again?.attempts, 0, 'a released lease does not use up an attempt');
    assert.deepEqual(await store.jobCounts(), { queued: 1, leased: 0, done: 1, failed: 0 });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit log is append-only and its hash chain detects edited, deleted and truncated rows', async () => {
  const { store, dir } = tempStore();
  try {
    for (let i = 0; i < 5; i++) await store.appendAudit({ actor: 'alice', action: 'predict', subject: `s${i}`, details: { i, b: 'x' } });
    assert.equal(verifyAuditChain(await store.listAudit(), await store.auditHead()).ok, true);
    assert.throws(() => store.db.prepare(`UPDATE audit SET actor = 'mallory' WHERE seq = 2`).run(), /append-only/);
    assert.throws(() => store.db.prepare(`DELETE FROM audit WHERE seq = 2`).run(), /append-only/);

    // Someone with write access drops the guard and edits a row.
    store.db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
    store.db.prepare(`UPDATE audit SET details = '{"i":2,"b":"y"}' WHERE seq = 3`).run();
    let v = verifyAuditChain(await store.listAudit(), await store.auditHead());
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems.map((p) => p.seq), [3]);
    assert.match(v.problems[0]!.reason, /edited/);
    store.db.prepare(`UPDATE audit SET details = '{"i":2,"b":"x"}' WHERE seq = 3`).run();
    assert.equal(verifyAuditChain(await store.listAudit(), await store.auditHead()).ok, true, 'key order does not matter');

    store.db.prepare('DELETE FROM audit WHERE seq = 2').run();
    v = verifyAuditChain(await store.listAudit(), await store.auditHead());
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.reason, /missing/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deleting the newest audit rows is caught by the recorded head', async () => {
  const { store, dir } = tempStore();
  try {
    for (let i = 0; i < 3; i++) await store.appendAudit({ actor: 'a', action: 'x', subject: 's', details: {} });
    store.db.exec('DROP TRIGGER audit_no_delete;');
    store.db.prepare('DELETE FROM audit WHERE seq = 3').run();
    const v = verifyAuditChain(await store.listAudit(), await store.auditHead());
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.reason, /recorded head/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reopen: a done job is queued again, a running one re-runs after it completes, a waiting one is woken; failed ones wait for an admin', async () => {
  let t = 5_000_000;
  const { store, dir } = tempStore(() => t);
  try {
    const req = { kind: 'study', studyUid: 'S1', modelName: 'm', modelVersion: 1 };
    const { job } = await store.enqueueJob(req);
    assert.equal((await store.enqueueJob(req)).action, 'exists');
    assert.equal((await store.enqueueJob({ ...req, reopen: true })).action, 'exists', 'queued and due: nothing to do');
    // Running: a reopen marks it for one more run, which completion turns into a fresh queued job.
    await store.leaseJob('w', 1000);
    assert.equal((await store.enqueueJob({ ...req, reopen: true })).action, 'rerun');
    t += 10;
    assert.equal(await store.completeJob(job.id, 'w', { result: { instancesSeen: 1 }, predictions: [], skipped: [] }), true);
    let j = (await store.getJob(job.id))!;
    assert.equal(j.state, 'queued');
    assert.equal(j.attempts, 0);
    assert.equal(j.queuedAt, t);
    await store.leaseJob('w', 1000);
    await store.completeJob(job.id, 'w', { result: { instancesSeen: 2 }, predictions: [], skipped: [] });
    assert.equal((await store.getJob(job.id))!.state, 'done');
    t += 10;
    const r = await store.enqueueJob({ ...req, reopen: true });
    assert.equal(r.action, 'reopened');
    assert.equal(r.job.state, 'queued');
    assert.equal(r.job.queuedAt, t);
    // Waiting for its study: postponed with the attempt refunded, then woken by the study's arrival.
    const l = (await store.leaseJob('w', 1000))!;
    assert.equal(l.attempts, 1);
    const p = (await store.postponeJob(job.id, 'w', { delayMs: 60_000, reason: 'not in the PACS yet', refundAttempt: true }))!;
    assert.equal(p.state, 'queued');
    assert.equal(p.attempts, 0);
    assert.equal(p.runAfter, t + 60_000);
    assert.equal(await store.leaseJob('w', 1000), undefined, 'postponed');
    assert.equal((await store.enqueueJob({ ...req, reopen: true })).action, 'woken');
    assert.equal((await store.leaseJob('w', 1000))?.id, job.id);
    await store.failJob(job.id, 'w', 'bad', { retryable: false, baseBackoffMs: 1 });
    assert.equal((await store.enqueueJob({ ...req, reopen: true })).action, 'exists', 'failed jobs are not reopened by the watcher');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('admin requeue: failed and refusing jobs go back with attempts reset and their refusals forgotten; scored instances stay', async () => {
  const { store, dir } = tempStore();
  try {
    const ids: number[] = [];
    for (const s of ['A', 'B', 'C']) ids.push((await store.enqueueJob({ kind: 'study', studyUid: s, modelName: 'm', modelVersion: 1, maxAttempts: 2 })).job.id);
    const a = (await store.leaseJob('w', 10_000))!;
    await store.failJob(a.id, 'w', 'STOW refused', { retryable: false, baseBackoffMs: 1 });
    const b = (await store.leaseJob('w', 10_000))!;
    await store.completeJob(b.id, 'w', {
      result: null,
      predictions: [{ studyUid: 'B', seriesUid: 'SE', sopUid: 'B1', modelName: 'm', modelVersion: 1, scores: { a: 0.5 }, decisions: {}, silent: false, columns: {} }],
      skipped: [{ studyUid: 'B', sopUid: 'B2', modelName: 'm', modelVersion: 1, reason: 'out of distribution' }, { studyUid: 'B', sopUid: 'B2', modelName: 'm', modelVersion: 2, reason: 'other version' }],
    });
    assert.deepEqual((await store.requeueJobs({ state: 'failed' })).requeued.map((j) => j.id), [a.id]);
    const refused = await store.requeueJobs({ state: 'refused' });
    assert.deepEqual(refused.requeued.map((j) => j.id), [b.id]);
    assert.deepEqual((await store.listSkipped({ studyUid: 'B' })).map((s) => s.modelVersion), [2], 'only this version\'s refusals are forgotten');
    assert.equal((await store.listPredictions({ studyUid: 'B' })).length, 1, 'scores are kept');
    const again = await store.requeueJobs({ ids: [a.id, ids[2]!, 999] });
    assert.deepEqual(again.requeued, []);
    assert.deepEqual(again.unchanged.map((j) => j.id).sort(), [a.id, ids[2]!].sort(), 'queued jobs are left alone');
    const ja = (await store.getJob(a.id))!;
    assert.equal(ja.state, 'queued');
    assert.equal(ja.attempts, 0);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store written by the previous schema (skips per study, no queued_at) is migrated in place', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-store-'));
  try {
    const file = join(dir, 'old.db');
    const Database = (await import('better-sqlite3')).default;
    const old = new Database(file);
    old.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, study_uid TEXT NOT NULL, model_name TEXT NOT NULL, model_version INTEGER NOT NULL,
      idempotency_key TEXT NOT NULL UNIQUE, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, run_after INTEGER NOT NULL,
      lease_owner TEXT, lease_expires INTEGER, last_error TEXT, result TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      INSERT INTO jobs (kind, study_uid, model_name, model_version, idempotency_key, state, max_attempts, run_after, created_at, updated_at)
        VALUES ('study', 'S', 'm', 1, 'study:m@1:S', 'done', 5, 0, 1234, 1234);
      CREATE TABLE skipped (study_uid TEXT NOT NULL, sop_uid TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (study_uid, sop_uid));
      INSERT INTO skipped VALUES ('S', 'I', 'modality MR', 1);`);
    old.close();
    const store = SqliteStore.open(file);
    const j = (await store.listJobs())[0]!;
    assert.equal(j.queuedAt, 1234);
    assert.deepEqual((await store.listSkipped()).map((s) => [s.sopUid, s.modelName, s.modelVersion, s.reason]), [['I', '', 0, 'modality MR']]);
    assert.equal((await store.enqueueJob({ kind: 'study', studyUid: 'S', modelName: 'm', modelVersion: 1, reopen: true })).action, 'reopened');
    await store.close();
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the store (it holds the pseudonym key) is owner-only');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
