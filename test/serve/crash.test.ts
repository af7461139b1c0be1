import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCohort } from '../../src/data/synth/index.js';
import { readDicomHeader } from '../../src/data/dicom/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ModelRegistry } from '../../src/serve/registry.js';
import { addToken } from '../../src/serve/auth.js';
import { freePort, makeModelFolder, orthancSkip, startOrthanc } from './fixtures.js';

const N = 12;

function serve(config: string): { proc: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, stderr: () => err };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a worker SIGKILLed mid-batch loses nothing: after restart every study is processed exactly once; SIGTERM releases leases', { skip: orthancSkip, timeout: 110_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-crash-'));
  const orthanc = await startOrthanc(join(dir, 'orthanc'));
  const children: ChildProcess[] = [];
  let store: SqliteStore | undefined;
  try {
    await generateCohort({ out: join(dir, 'cohort'), n: N, sites: 2, seed: 11, size: 96 });
    const studies: string[] = [];
    for (const f of readdirSync(join(dir, 'cohort', 'dicom')).sort()) {
      const bytes = readFileSync(join(dir, 'cohort', 'dicom', f));
      studies.push(readDicomHeader(bytes, f).studyInstanceUid);
      await orthanc.upload(bytes);
    }
    assert.equal(new Set(studies).size, N);

    const port = await freePort();
    const config = join(dir, 'serve.json');
    writeFileSync(config, JSON.stringify({
      listen: { port }, store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json',
      orthanc: { url: orthanc.url, watch: 'off' },
      worker: { concurrency: 2, leaseMs: 1500, idleMs: 50, baseBackoffMs: 100 },
      maxQueued: 4, heatmapGrid: 8, logLevel: 'info',
    }));
    const token = addToken(join(dir, 'tokens.json'), 'pacs-bridge', 'service');

    // Set up the registry and the batch through the store, as an admin would through the API.
    store = SqliteStore.open(join(dir, 'radml.db'));
    const registry = new ModelRegistry(store, join(dir, 'models'));
    const { model } = await registry.registerFolder('cxr', makeModelFolder(join(dir, 'model'), 5), 'test');
    await registry.setStatus('cxr', model.version, 'champion');
    await registry.close();
    for (const s of studies) await store.enqueueJob({ kind: 'study', studyUid: s, modelName: 'cxr', modelVersion: model.version, maxAttempts: 5, maxQueued: N });
    const counts = () => store!.jobCounts();

    // 1. Start, wait until the batch is under way, then SIGKILL in the middle of it.
    const first = serve(config);
    children.push(first.proc);
    await until('3 jobs done and 1 running', async () => {
      const c = await counts();
      return c.done >= 3 && c.leased >= 1;
    });
    first.proc.kill('SIGKILL');
    await first.exited;
    const atKill = await counts();
    assert.ok(atKill.done < N, `killed before the end (${JSON.stringify(atKill)})`);
    assert.ok(atKill.leased >= 1, 'a lease was orphaned by the kill');

    // 2. Restart; back-pressure answers 503 while more than maxQueued jobs wait.
    const second = serve(config);
    children.push(second.proc);
    await until('the API is up', async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok === true, 30_000);
    const full = await fetch(`http://127.0.0.1:${port}/v1/jobs`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ studyInstanceUid: '1.2.3.4.5' }),
    });
    assert.equal(full.status, 503, 'queue above its limit of 4');
    assert.ok(Number(full.headers.get('retry-after')) > 0);
    // 3. Graceful stop mid-batch: running jobs finish or are released, the process exits 0.
    await until('2 more jobs done', async () => (await counts()).done >= atKill.done + 2);
    second.proc.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr());
    assert.equal((await counts()).leased, 0, 'no lease left behind by a graceful stop');
    assert.match(second.stderr(), /service stopped/);

    // 4. Third start finishes the batch.
    const third = serve(config);
    children.push(third.proc);
    await until('all studies done', async () => (await counts()).done === N);
    third.proc.kill('SIGTERM');
    assert.equal(await third.exited, 0);

    // Exactly once: one job, one recorded prediction, one audit entry, one SR and one SC per study.
    const jobs = await store.listJobs();
    assert.equal(jobs.length, N);
    assert.ok(jobs.every((j) => j.state === 'done'));
    assert.ok(jobs.some((j) => j.attempts >= 2), 'the killed job was retried');
    const audit = (await store.listAudit()).filter((e) => e.action === 'predict');
    assert.equal(audit.length, N, 'one audit entry per completed study');
    assert.equal(new Set(audit.map((e) => e.subject)).size, N);
    for (const s of studies) {
      assert.equal((await store.listPredictions({ studyUid: s })).length, 1, 'one prediction per study');
      const inst = await orthanc.studyInstances(s);
      assert.equal(inst.filter((i) => i.modality === 'SR').length, 1, 'one SR per study');
      assert.equal(inst.filter((i) => i.modality === 'OT').length, 1, 'one SC per study');
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store?.close();
    await orthanc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
