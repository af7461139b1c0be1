import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore, QueueFullError, verifyAuditChain, type PgQueryable } from '../../src/store/index.js';
import { pgSkip as skip, startPostgres } from './pg-fixture.js';

test('PostgresStore: SKIP LOCKED hands each job to one of several concurrent workers; idempotency, back-pressure, audit chain', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-pg-'));
  const server = await startPostgres(dir);
  const pools: pg.Pool[] = [];
  try {
    const mk = () => {
      const p = new pg.Pool({ connectionString: server.url, max: 4 });
      p.on('error', () => {}); // idle clients see the server stop at the end
      pools.push(p);
      return new PostgresStore(p as unknown as PgQueryable);
    };
    const store = mk();
    await store.migrate();
    const N = 30;
    for (let i = 0; i < N; i++) await store.enqueueJob({ kind: 'study', studyUid: `1.2.${i}`, modelName: 'm', modelVersion: 1, maxQueued: N });
    assert.equal((await store.enqueueJob({ kind: 'study', studyUid: '1.2.0', modelName: 'm', modelVersion: 1 })).created, false);
    await assert.rejects(store.enqueueJob({ kind: 'study', studyUid: '9.9', modelName: 'm', modelVersion: 1, maxQueued: N }), QueueFullError);

    // Four "machines" (separate connection pools) drain the queue at once.
    const workers = Array.from({ length: 4 }, (_, w) => ({ owner: `host${w}`, store: mk(), got: [] as number[] }));
    await Promise.all(workers.map(async (w) => {
      for (;;) {
        const job = await w.store.leaseJob(w.owner, 30_000);
        if (!job) break;
        w.got.push(job.id);
        const ok = await w.store.completeJob(job.id, w.owner, {
          result: { by: w.owner },
          predictions: [{ studyUid: job.studyUid, seriesUid: '1.3', sopUid: `${job.studyUid}.1`, modelName: 'm', modelVersion: 1, scores: { a: 0.25 }, decisions: { a: false }, silent: true, columns: {} }],
          skipped: [],
          audit: { actor: w.owner, action: 'predict', subject: job.studyUid, details: { jobId: job.id, score: 0.25 } },
        });
        assert.equal(ok, true);
      }
    }));
    const all = workers.flatMap((w) => w.got);
    assert.equal(all.length, N, 'every job handed out');
    assert.equal(new Set(all).size, N, 'no job handed out twice');
    assert.ok(workers.filter((w) => w.got.length > 0).length >= 2, 'work was shared');
    assert.deepEqual(await store.jobCounts(), { queued: 0, leased: 0, done: N, failed: 0 });
    assert.equal((await store.listPredictions({ modelName: 'm' })).length, N);
    const v = verifyAuditChain(await store.listAudit(), await store.auditHead());
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    assert.equal(v.entries, N);
    await assert.rejects(pools[0]!.query(`UPDATE audit SET actor = 'x' WHERE seq = 1`), /append-only/);

    // Retry with backoff, release on shutdown, model registry statuses.
    await store.enqueueJob({ kind: 'study', studyUid: '7.7', modelName: 'm', modelVersion: 2, maxAttempts: 2 });
    const j = (await store.leaseJob('a', 10_000))!;
    const after = await store.failJob(j.id, 'a', 'PACS 503', { retryable: true, baseBackoffMs: 60_000 });
    assert.equal(after!.state, 'queued');
    assert.ok(after!.runAfter > Date.now() + 50_000);
    await store.insertModelVersion({ name: 'm', version: 1, onnxSha256: 'a'.repeat(64), dir: 'm/v1', status: 'registered', classes: ['x'], createdAt: 1, createdBy: 't' });
    await store.insertModelVersion({ name: 'm', version: 2, onnxSha256: 'b'.repeat(64), dir: 'm/v2', status: 'registered', classes: ['x'], createdAt: 1, createdBy: 't' });
    await store.setModelStatus('m', 1, 'champion');
    await store.setModelStatus('m', 2, 'champion');
    assert.deepEqual((await store.listModelVersions()).map((m) => m.status), ['registered', 'champion']);
    assert.equal(await store.nextModelVersion('m'), 3);

    // Same reopen / postpone / requeue contract as SQLite.
    const k = { kind: 'study', studyUid: '8.8', modelName: 'm', modelVersion: 1 };
    const { job: j8 } = await store.enqueueJob(k);
    const l8 = (await store.leaseJob('a', 10_000))!;
    assert.equal(l8.id, j8.id);
    assert.equal((await store.enqueueJob({ ...k, reopen: true })).action, 'rerun');
    await store.completeJob(j8.id, 'a', { result: { instancesSeen: 1 }, predictions: [], skipped: [{ studyUid: '8.8', sopUid: '8.8.1', modelName: 'm', modelVersion: 1, reason: 'modality MR' }] });
    assert.equal((await store.getJob(j8.id))!.state, 'queued', 'asked to re-run while running');
    await store.leaseJob('a', 10_000);
    const p8 = (await store.postponeJob(j8.id, 'a', { delayMs: 60_000, reason: 'not in the PACS yet', refundAttempt: true }))!;
    assert.equal(p8.attempts, 0);
    assert.equal((await store.enqueueJob({ ...k, reopen: true })).action, 'woken');
    await store.leaseJob('a', 10_000);
    await store.failJob(j8.id, 'a', 'STOW refused', { retryable: false, baseBackoffMs: 1 });
    assert.equal((await store.enqueueJob({ ...k, reopen: true })).action, 'exists');
    assert.deepEqual((await store.requeueJobs({ state: 'failed' })).requeued.map((x) => x.id), [j8.id]);
    assert.deepEqual((await store.listSkipped({ studyUid: '8.8', modelName: 'm', modelVersion: 1 })).length, 0, 'refusals forgotten on requeue');
    assert.deepEqual((await store.requeueJobs({ ids: [j8.id] })).unchanged.map((x) => x.id), [j8.id], 'queued: left alone');
    assert.equal((await store.listJobs({ studyUid: '8.8' })).length, 1);

    // connect(): several processes starting at once migrate in turn.
    const both = await Promise.all([PostgresStore.connect(server.url, { max: 2 }), PostgresStore.connect(server.url, { max: 2 })]);
    assert.equal((await both[0].listJobs({ studyUid: '8.8' }))[0]!.id, j8.id);
    for (const b of both) await b.close();
    await assert.rejects(PostgresStore.connect(`postgres://radml:secret@127.0.0.1:1/postgres`), (e: Error) => /STORE|PostgreSQL store/.test(e.message) && !e.message.includes('secret'));
  } finally {
    for (const p of pools) await p.end();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
