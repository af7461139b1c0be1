import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { Worker, type WorkerEvent } from '../../src/serve/worker.js';
import { OrthancClient, PacsError, PacsUnavailableError } from '../../src/serve/orthanc.js';
import { PermanentJobError, StudyNotArrivedError } from '../../src/serve/processor.js';
import { PacsCircuit } from '../../src/serve/circuit.js';
import type { Job } from '../../src/store/schema.js';
import { freePort } from './fixtures.js';

const opts = { leaseMs: 2000, concurrency: 2, idleMs: 10, baseBackoffMs: 50, maxBackoffMs: 1000 };

async function until(fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('worker retries PACS errors with exponential backoff and fails bad input at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-worker-'));
  const store = SqliteStore.open(join(dir, 'w.db'));
  try {
    const attempts = new Map<string, number[]>();
    const events: WorkerEvent[] = [];
    const w = new Worker(store, async (job: Job) => {
      const list = attempts.get(job.studyUid) ?? [];
      list.push(Date.now());
      attempts.set(job.studyUid, list);
      if (job.studyUid === 'flaky' && list.length < 3) throw new PacsError('PACS answered 503', true, 503);
      if (job.studyUid === 'gone') throw new PermanentJobError('STUDY_NOT_FOUND', 'study is not in the PACS');
      return { result: { ok: true }, predictions: [], skipped: [] };
    }, opts, (e) => events.push(e));
    for (const s of ['flaky', 'gone', 'fine']) await store.enqueueJob({ kind: 'study', studyUid: s, modelName: 'm', modelVersion: 1, maxAttempts: 5 });
    w.start();
    await until(async () => {
      const c = await store.jobCounts();
      return c.done === 2 && c.failed === 1;
    });
    await w.stop();
    const flaky = attempts.get('flaky')!;
    assert.equal(flaky.length, 3);
    assert.ok(flaky[1]! - flaky[0]! >= 45, 'first retry waits ~50 ms');
    assert.ok(flaky[2]! - flaky[1]! >= 95, 'second retry waits ~100 ms');
    assert.equal(attempts.get('gone')!.length, 1, 'permanent errors are not retried');
    assert.deepEqual(events.filter((e) => e.type === 'retry').length, 2);
    const failed = (await store.listJobs({ state: 'failed' }))[0]!;
    assert.match(failed.lastError!, /not in the PACS/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graceful stop releases a lease whose job does not finish within the grace period', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-worker-'));
  const store = SqliteStore.open(join(dir, 'w.db'));
  try {
    let started = false;
    const w = new Worker(store, async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 1500));
      return { result: null, predictions: [], skipped: [] };
    }, { ...opts, concurrency: 1 });
    await store.enqueueJob({ kind: 'study', studyUid: 'slow', modelName: 'm', modelVersion: 1 });
    w.start();
    await until(async () => started);
    const r = await w.stop(100);
    assert.equal(r.released, 1);
    const job = (await store.listJobs())[0]!;
    assert.equal(job.state, 'queued');
    assert.equal(job.attempts, 0);
    await new Promise((r2) => setTimeout(r2, 1600)); // the abandoned run ends and cannot complete
    assert.equal((await store.listJobs())[0]!.state, 'queued');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreachable PACS is a retryable error that never echoes study UIDs', async () => {
  const port = await freePort();
  const c = new OrthancClient({ url: `http://127.0.0.1:${port}`, dicomWebRoot: '/dicom-web', timeoutMs: 2000 });
  await assert.rejects(c.studyInstances('1.2.840.99999.1.2.3'), (e: unknown) => e instanceof PacsUnavailableError && e.retryable && !e.message.includes('1.2.840.99999'));
});

test('PACS outage: the circuit opens, nothing is leased and no attempt is spent while it is down; a PACS error while the PACS is healthy is charged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-worker-'));
  const store = SqliteStore.open(join(dir, 'w.db'));
  try {
    let down = false;
    const probes: number[] = [];
    const circuit = new PacsCircuit(async () => {
      probes.push(Date.now());
      if (down) throw new PacsUnavailableError('PACS unreachable (connect ECONNREFUSED)');
    }, { probeMinMs: 20, probeMaxMs: 80 });
    const calls: string[] = [];
    const w = new Worker(store, async (job: Job) => {
      calls.push(job.studyUid);
      if (down) throw new PacsUnavailableError('PACS unreachable (fetch failed)');
      if (job.studyUid === 'broken') throw new PacsUnavailableError('PACS answered 500 to GET studies…', 500);
      return { result: null, predictions: [], skipped: [] };
    }, { ...opts, concurrency: 2, maxBackoffMs: 20, baseBackoffMs: 10 }, () => {}, circuit);
    const N = 10;
    for (let i = 0; i < N; i++) await store.enqueueJob({ kind: 'study', studyUid: `s${i}`, modelName: 'm', modelVersion: 1, maxAttempts: 2 });
    await store.enqueueJob({ kind: 'study', studyUid: 'broken', modelName: 'm', modelVersion: 1, maxAttempts: 2 });
    down = true;
    w.start();
    await until(async () => circuit.isOpen);
    const callsAtOpen = calls.length;
    assert.ok(callsAtOpen <= 2, `at most one job per loop hit the dead PACS (${callsAtOpen})`);
    await new Promise((r) => setTimeout(r, 600)); // far longer than the retry budget (2 attempts × 10 ms)
    assert.equal(calls.length, callsAtOpen, 'no job leased while the circuit is open');
    assert.ok(probes.length >= 4, `probed while down (${probes.length})`);
    const gaps = probes.slice(2).map((p, i) => p - probes[i + 1]!);
    assert.ok(gaps.every((g) => g >= 15) && gaps.at(-1)! >= 70, `probes back off up to probeMaxMs: ${gaps.join(', ')}`);
    const held = await store.listJobs();
    assert.ok(held.every((j) => j.attempts === 0 && j.state === 'queued'), 'held jobs keep all their attempts');
    down = false;
    await until(async () => {
      const c = await store.jobCounts();
      return c.done === N && c.failed === 1;
    });
    await w.stop();
    assert.equal(circuit.isOpen, false);
    const jobs = await store.listJobs();
    assert.ok(jobs.filter((j) => j.state === 'done').every((j) => j.attempts === 1), 'each study ran once to completion');
    const broken = jobs.find((j) => j.studyUid === 'broken')!;
    assert.equal(broken.state, 'failed', 'a 500 for one study while the PACS answers probes spends attempts');
    assert.equal(broken.attempts, 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job queued before its study arrives waits without spending attempts, then gives up after studyWaitMaxMs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-worker-'));
  const store = SqliteStore.open(join(dir, 'w.db'));
  try {
    let arrived = false;
    const seen: number[] = [];
    const w = new Worker(store, async (job: Job) => {
      seen.push(Date.now());
      if (job.studyUid === 'never' || !arrived) throw new StudyNotArrivedError('STUDY_NOT_FOUND', 'study st-x is not in the PACS (yet)');
      return { result: null, predictions: [], skipped: [] };
    }, { ...opts, concurrency: 1, studyRetryMs: 30, studyWaitMaxMs: 400 });
    await store.enqueueJob({ kind: 'study', studyUid: 'late', modelName: 'm', modelVersion: 1, maxAttempts: 1 });
    w.start();
    await until(async () => seen.length >= 3);
    const late = (await store.listJobs())[0]!;
    assert.equal(late.state, 'queued');
    assert.equal(late.attempts, 0, 'waiting does not use the single attempt');
    arrived = true;
    await until(async () => (await store.jobCounts()).done === 1);
    await store.enqueueJob({ kind: 'study', studyUid: 'never', modelName: 'm', modelVersion: 1, maxAttempts: 5 });
    await until(async () => (await store.jobCounts()).failed === 1, 5000);
    await w.stop();
    const never = (await store.listJobs({ state: 'failed' }))[0]!;
    assert.match(never.lastError!, /not in the PACS.*gave up waiting/);
    assert.ok(never.updatedAt - never.queuedAt >= 400);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
