import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore, QueueFullError, verifyAuditChain } from '../../src/store/index.js';
import { WirePool } from './pg-wire.js';
import { freePort } from '../serve/fixtures.js';

function pgBin(name: string): string | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse() : [];
  return [...versions.map((v) => `/usr/lib/postgresql/${v}/bin/${name}`), `/usr/local/bin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p));
}
const INITDB = pgBin('initdb');
const POSTGRES = pgBin('postgres');
const root = process.getuid?.() === 0;
const pgUser = root ? spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }) : undefined;
const skip = !INITDB || !POSTGRES ? 'needs PostgreSQL server binaries (Debian postgresql)' : root && pgUser?.status !== 0 ? 'running as root needs the postgres system user' : false;

/** Run as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asPg(cmd: string, args: string[]): [string, string[]] {
  return root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function startPostgres(dir: string): Promise<{ port: number; proc: ChildProcess; stop: () => Promise<void> }> {
  mkdirSync(join(dir, 'sock'), { recursive: true });
  if (root) {
    const uid = Number(pgUser!.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'sock'), uid, gid);
  }
  const [c1, a1] = asPg(INITDB!, ['-D', join(dir, 'data'), '-U', 'radml', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(c1, a1, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const [c2, a2] = asPg(POSTGRES!, ['-D', join(dir, 'data'), '-p', String(port), '-k', join(dir, 'sock'), '-h', '127.0.0.1', '-F', '-c', 'max_connections=20']);
  const proc = spawn(c2, a2, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-3000); });
  const t0 = Date.now();
  for (;;) {
    try {
      const p = new WirePool({ host: '127.0.0.1', port, user: 'radml', database: 'postgres' });
      await p.query('SELECT 1');
      await p.end();
      break;
    } catch {
      if (proc.exitCode !== null || Date.now() - t0 > 20_000) throw new Error(`postgres did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port, proc,
    stop: async () => {
      // Signal the postmaster itself (runuser does not pass signals on): SIGINT = fast shutdown.
      const pidFile = join(dir, 'data', 'postmaster.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
      const exited = new Promise((r) => proc.once('exit', r));
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT');
      else proc.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (proc.exitCode === null && Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
    },
  };
}

test('PostgresStore: SKIP LOCKED hands each job to one of several concurrent workers; idempotency, back-pressure, audit chain', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-pg-'));
  const pg = await startPostgres(dir);
  const pools: WirePool[] = [];
  try {
    const mk = () => {
      const p = new WirePool({ host: '127.0.0.1', port: pg.port, user: 'radml', database: 'postgres' });
      pools.push(p);
      return new PostgresStore(p);
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
  } finally {
    for (const p of pools) await p.end();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
