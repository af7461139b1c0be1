/**
 * Several service processes on one PostgreSQL share one queue: two `radml serve` processes work one
 * batch from a real Orthanc, one is SIGKILLed mid-batch, and every study is still processed exactly
 * once (one prediction, one audit entry, one SR and one SC per study).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from '../../src/store/postgres.js';
import { ModelRegistry } from '../../src/serve/registry.js';
import { freePort, makeModelFolder, orthancSkip, startOrthanc } from '../serve/fixtures.js';
import { tinyChestCr, waitFor } from '../serve/pacs-fixtures.js';
import { pgSkip, startPostgres } from './pg-fixture.js';

const N = 16;

function serve(config: string): { proc: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, stderr: () => err };
}

test('two service processes on one PostgreSQL share the queue; one SIGKILLed mid-batch; every study processed exactly once', { skip: pgSkip || orthancSkip, timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'radml-pg-workers-'));
  chmodSync(dir, 0o755); // the postgres system user (when we are root) must reach its data folder
  const server = await startPostgres(join(dir, 'pg'));
  const orthanc = await startOrthanc(join(dir, 'orthanc'));
  const children: ChildProcess[] = [];
  let store: PostgresStore | undefined;
  try {
    const studies = Array.from({ length: N }, (_, i) => tinyChestCr('pg-workers', i, 0, { size: 48 }));
    for (const s of studies) await orthanc.upload(s.bytes);

    // The registry and the batch are set up through the shared store, as an admin would through the API.
    store = await PostgresStore.connect(server.url);
    const registry = new ModelRegistry(store, join(dir, 'models'));
    const { model } = await registry.registerFolder('cxr', makeModelFolder(join(dir, 'model'), 5), 'test');
    await registry.setStatus('cxr', model.version, 'champion');
    await registry.close();
    for (const s of studies) await store.enqueueJob({ kind: 'study', studyUid: s.studyUid, modelName: 'cxr', modelVersion: model.version, maxAttempts: 5 });

    const configs = [];
    for (const name of ['a', 'b']) {
      const file = join(dir, `serve-${name}.json`);
      writeFileSync(file, JSON.stringify({
        listen: { port: await freePort() }, store: server.url, modelsDir: 'models', tokensFile: 'tokens.json',
        orthanc: { url: orthanc.url, watch: 'off' },
        worker: { concurrency: 1, leaseMs: 1500, idleMs: 50, baseBackoffMs: 100 },
        heatmapGrid: 2, logLevel: 'info',
      }));
      configs.push(file);
    }
    const a = serve(configs[0]!);
    const b = serve(configs[1]!);
    children.push(a.proc, b.proc);
    const ownerPid = (owner: string | null) => Number(owner?.split(':')[1]);
    // Wait until both have done work and A holds a lease, then kill A in the middle of that job.
    const atKill = await waitFor('both workers busy, A holding a lease', async () => {
      const jobs = await store!.listJobs();
      const done = jobs.filter((j) => j.state === 'done').length;
      const aLease = jobs.find((j) => j.state === 'leased' && ownerPid(j.leaseOwner) === a.proc.pid);
      const audit = await store!.listAudit();
      const doneBy = new Set(audit.filter((e) => e.action === 'predict').map((e) => Number(e.actor.split(':')[2])));
      return aLease && doneBy.has(a.proc.pid!) && doneBy.has(b.proc.pid!) && done < N - 2 ? { done, job: aLease.id } : undefined;
    }, 90_000, 20);
    a.proc.kill('SIGKILL');
    await a.exited;

    await waitFor('every study done by the survivor', async () => (await store!.jobCounts()).done === N, 60_000);
    b.proc.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.stderr());

    const jobs = await store.listJobs();
    assert.equal(jobs.length, N);
    assert.ok(jobs.every((j) => j.state === 'done'));
    const audit = (await store.listAudit()).filter((e) => e.action === 'predict');
    const killed = jobs.find((j) => j.id === atKill.job)!;
    const killedBy = Number(audit.find((e) => e.details.jobId === killed.id)?.actor.split(':')[2]);
    // Normally A dies holding the job and B takes it over when the lease expires; if A's commit won
    // the race with the signal, A completed it once.
    assert.ok((killed.attempts === 2 && killedBy === b.proc.pid) || (killed.attempts === 1 && killedBy === a.proc.pid), `job ${killed.id}: attempts ${killed.attempts}, by ${killedBy}`);
    assert.equal(audit.length, N, 'one audit entry per study');
    assert.equal(new Set(audit.map((e) => e.subject)).size, N);
    const byWorker = new Map<number, number>();
    for (const e of audit) byWorker.set(Number(e.actor.split(':')[2]), (byWorker.get(Number(e.actor.split(':')[2])) ?? 0) + 1);
    assert.equal(byWorker.size, 2, 'both processes completed jobs');
    for (const s of studies) {
      assert.equal((await store.listPredictions({ studyUid: s.studyUid })).length, 1, 'one prediction per study');
      const inst = await orthanc.studyInstances(s.studyUid);
      assert.equal(inst.filter((i) => i.modality === 'SR').length, 1, 'one SR per study');
      assert.equal(inst.filter((i) => i.modality === 'OT').length, 1, 'one SC per study');
    }
    t.diagnostic(`postgres two-worker kill: ${N} studies, killed A with ${atKill.done} done; jobs completed A=${byWorker.get(a.proc.pid!) ?? 0} B=${byWorker.get(b.proc.pid!) ?? 0}`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store?.close();
    await orthanc.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
