/**
 * The Orthanc bridge when the PACS misbehaves, with a real Orthanc: a long outage with studies
 * queued, images that arrive late, jobs queued before their study, admin requeue (API and CLI),
 * QIDO polling over more studies than one page, and the DIMSE path (storescu → Orthanc → radml).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readServeConfig, type ServeConfigInput } from '../../src/serve/config.js';
import { startService, type RunningService } from '../../src/serve/service.js';
import { command as jobsCommand } from '../../src/cli/jobs.js';
import { parseCommandArgs } from '../../src/cli/lib/command.js';
import { dcmtkSkip, makeModelFolder, orthancSkip, roleTokens, startOrthanc, type OrthancHandle, type OrthancOptions } from './fixtures.js';
import { tinyChestCr, waitFor } from './pacs-fixtures.js';

const skip = orthancSkip || dcmtkSkip;
/** The outage; the acceptance test is 60 s. RADML_OUTAGE_MS shortens it for a quick local run. */
const OUTAGE_MS = Number(process.env.RADML_OUTAGE_MS ?? 60_000);

interface Rig {
  dir: string;
  orthanc: OrthancHandle;
  svc: RunningService;
  config: string;
  logs: Record<string, unknown>[];
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  close: () => Promise<void>;
}

async function rig(name: string, cfg: (orthancUrl: string) => ServeConfigInput, orthancOpts: OrthancOptions = {}): Promise<Rig> {
  // Orthanc fsyncs every instance it stores; on tmpfs that costs nothing (1,200 uploads: 6 s, not 16).
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `radml-${name}-`));
  const orthanc = await startOrthanc(join(dir, 'orthanc'), orthancOpts);
  const config = join(dir, 'serve.json');
  writeFileSync(config, JSON.stringify({ listen: { port: 0 }, store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', heatmapGrid: 2, logLevel: 'debug', ...cfg(orthanc.url) }));
  const { tokens, records } = roleTokens();
  const logs: Record<string, unknown>[] = [];
  const svc = await startService(readServeConfig(config), { extraTokens: records, log: (l) => logs.push(l) });
  const { model } = await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'model'), 3), 'test');
  await svc.registry.setStatus('cxr', model.version, 'champion');
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(svc.url + path, {
      method, headers: { authorization: `Bearer ${tokens.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
  };
  return {
    dir, orthanc, svc, config, logs, api,
    close: async () => {
      await svc.stop({ graceMs: 2000 });
      await orthanc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const resultsOf = async (o: OrthancHandle, studyUid: string) => {
  const inst = await o.studyInstances(studyUid);
  return { sr: inst.filter((i) => i.modality === 'SR'), sc: inst.filter((i) => i.modality === 'OT'), all: inst };
};

test(`PACS outage of ${OUTAGE_MS / 1000} s with 30 studies queued: jobs are held without spending attempts, and every study ends with exactly one SR`, { skip, timeout: OUTAGE_MS + 120_000 }, async (t) => {
  const N = 30;
  const r = await rig('outage', (url) => ({
    orthanc: { url, watch: 'changes', startFrom: 'beginning', pollIntervalMs: 200, timeoutMs: 3000, probeMinMs: 250, probeMaxMs: 4000 },
    // The old retry budget is 0.1 + 0.2 s: the outage is hundreds of times longer.
    worker: { concurrency: 1, leaseMs: 10_000, idleMs: 50, maxAttempts: 3, baseBackoffMs: 100, maxBackoffMs: 400 },
    // Slower jobs (a finer occlusion grid) so that on a fast, idle machine most studies are still
    // queued when the PACS goes down.
    heatmapGrid: 16,
  }));
  try {
    const t0 = Date.now();
    const studies = Array.from({ length: N }, (_, i) => tinyChestCr('outage', i, 0, { size: 48 }));
    for (const s of studies) await r.orthanc.upload(s.bytes);
    const counts = () => r.svc.store.jobCounts();
    await waitFor('30 jobs queued and a few done', async () => {
      const c = await counts();
      return c.queued + c.leased + c.done === N && c.done >= 2;
    });

    // The PACS goes away mid-batch, at once (a crash: no graceful shutdown that lets work finish).
    await r.orthanc.kill();
    const down = Date.now();
    await waitFor('the circuit to open', async () => r.svc.circuit!.isOpen, 20_000);
    await new Promise((res) => setTimeout(res, 2000)); // a job between its last PACS call and its commit may still finish
    const atOpen = await counts();
    assert.ok(atOpen.done < N, `studies were still queued when the PACS went down (${JSON.stringify(atOpen)})`);
    const ready = await fetch(r.svc.url + '/ready');
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /unavailable.*held/);
    await new Promise((res) => setTimeout(res, OUTAGE_MS - (Date.now() - down)));
    const during = await counts();
    assert.equal(during.failed, 0, 'no job failed during the outage');
    assert.equal(during.leased, 0, 'nothing leased while the PACS is down');
    assert.equal(during.done, atOpen.done, 'no progress and no churn while down');
    const held = await r.svc.store.listJobs({ state: 'queued' });
    assert.ok(held.every((j) => j.attempts === 0), 'held jobs have all their attempts');
    const probes = r.logs.filter((l) => l.msg === 'PACS still unavailable, next probe').map((l) => Number(l.inMs));
    // Probes at 0.25, 0.75, 1.75, 3.75 s, then every 4 s: a handful, not one per job or per poll.
    assert.ok(probes.length >= 4 && probes.length <= OUTAGE_MS / 4000 + 6, `probed with backoff (${probes.length} probes)`);
    assert.deepEqual(probes.slice(0, 4), [500, 1000, 2000, 4000], 'probe interval doubles');
    assert.equal(Math.max(...probes), 4000, 'and is capped');

    // The PACS comes back: the queue drains by itself.
    await r.orthanc.restart();
    const up = Date.now();
    await waitFor('every study done', async () => {
      const c = await counts();
      return c.done === N && c.queued === 0 && c.leased === 0;
    }, 90_000);
    assert.equal(r.svc.circuit!.isOpen, false);
    assert.ok(r.logs.some((l) => l.msg === 'PACS back: circuit closed, jobs resume' && Number(l.downMs) >= OUTAGE_MS - 1000));
    const jobs = await r.svc.store.listJobs();
    assert.equal(jobs.length, N);
    assert.ok(jobs.every((j) => j.state === 'done'), JSON.stringify(jobs.filter((j) => j.state !== 'done')));
    assert.ok(jobs.every((j) => j.attempts === 1), `no attempt spent on the outage: ${jobs.map((j) => j.attempts).join(',')}`);
    let srs = 0;
    for (const s of studies) {
      const res = await resultsOf(r.orthanc, s.studyUid);
      assert.equal(res.sr.length, 1, 'exactly one SR per study');
      assert.equal(res.sc.length, 1, 'exactly one SC per study');
      assert.equal((await r.svc.store.listPredictions({ studyUid: s.studyUid })).length, 1);
      srs += res.sr.length;
    }
    assert.equal(srs, N);
    assert.equal((await r.svc.store.listAudit()).filter((e) => e.action === 'predict').length, N, 'one audit entry per study');
    assert.match(await r.svc.metrics.render(), /radml_pacs_outages_total 1\b/);
    t.diagnostic(`outage: ${N} studies, ${atOpen.done} done when the PACS went down (${Math.round((down - t0) / 1000)} s in), down ${Math.round((up - down) / 1000)} s, ` +
      `${probes.length + 1} probes, drained ${Math.round((Date.now() - up) / 1000)} s after it came back; SRs per study: ${srs / N}, attempts per job: 1`);
  } finally {
    await r.close();
  }
});

test('late images are scored; a job queued before its study waits for it; a failed job is requeued (API and CLI) and succeeds', { skip, timeout: 120_000 }, async () => {
  const r = await rig('late', (url) => ({
    orthanc: { url, watch: 'changes', startFrom: 'beginning', pollIntervalMs: 150 },
    worker: { concurrency: 1, leaseMs: 10_000, idleMs: 50, baseBackoffMs: 100, studyRetryMs: 200, studyWaitMaxMs: 2500 },
  }));
  try {
    // 1. A study is processed; an image added to it afterwards is scored, the first one is not re-scored.
    const a1 = tinyChestCr('late', 1, 0);
    const a2 = tinyChestCr('late', 1, 1);
    await r.orthanc.upload(a1.bytes);
    await waitFor('the first SR', async () => (await resultsOf(r.orthanc, a1.studyUid)).sr.length === 1);
    const first = await r.svc.store.listPredictions({ studyUid: a1.studyUid });
    assert.equal(first.length, 1);
    await r.orthanc.upload(a2.bytes);
    const preds = await waitFor('the late image scored', async () => {
      const p = await r.svc.store.listPredictions({ studyUid: a1.studyUid });
      return p.length === 2 ? p : undefined;
    });
    assert.deepEqual(preds.map((p) => p.sopUid).sort(), [a1.sopUid, a2.sopUid].sort());
    assert.equal(preds.find((p) => p.sopUid === a1.sopUid)!.createdAt, first[0]!.createdAt, 'the first image was not scored again');
    const res = await waitFor('the revised SR', async () => {
      const x = await resultsOf(r.orthanc, a1.studyUid);
      return x.sr.length === 2 && x.sc.length === 2 ? x : undefined;
    });
    // The new SR covers both images; the first one is left as it was.
    const srDumps = await Promise.all(res.sr.map(async (i) => {
      const f = join(r.dir, `${i.id}.dcm`);
      writeFileSync(f, await r.orthanc.instanceFile(i.id));
      return execFileSync('dcmdump', ['+P', '0008,1155', f], { encoding: 'utf8' });
    }));
    const refs = srDumps.map((d) => [a1.sopUid, a2.sopUid].filter((u) => d.includes(u)).length).sort();
    assert.deepEqual(refs, [1, 2], 'one SR for the first image, one for both');
    const predicts = (await r.svc.store.listAudit()).filter((e) => e.action === 'predict');
    assert.equal(predicts.length, 2, 'two runs that scored something (the no-op runs are not audited)');

    // 2. Queued before the study arrives: the job waits (no attempt spent) and runs when it is there.
    const b = tinyChestCr('late', 2, 0);
    let q = await r.api('POST', '/v1/jobs', { studyInstanceUid: b.studyUid });
    assert.equal(q.status, 202, JSON.stringify(q.body));
    assert.equal(q.body.jobs[0].outcome, 'created');
    const bJob = q.body.jobs[0].id as number;
    // The waiting job is leased now and then to look again, so read it while it is back in the queue.
    let j = await waitFor('the job to look and wait', async () => {
      const job = await r.svc.store.getJob(bJob);
      return job && job.state === 'queued' && /not in the PACS/.test(job.lastError ?? '') ? job : undefined;
    });
    assert.equal(j.attempts, 0);
    q = await r.api('POST', '/v1/jobs', { studyInstanceUid: b.studyUid });
    assert.equal(q.status, 200, 'queued again: says it is already queued');
    assert.equal(q.body.jobs[0].id, bJob, 'the same job, not a new one');
    assert.ok(['queued', 'running'].includes(q.body.jobs[0].outcome), `outcome ${q.body.jobs[0].outcome}`);
    await r.orthanc.upload(b.bytes);
    await waitFor('the late study processed', async () => (await r.svc.store.getJob(bJob))?.state === 'done');
    assert.equal((await resultsOf(r.orthanc, b.studyUid)).sr.length, 1);

    // 3. A study that does not arrive in time fails; once it is there an admin requeues it.
    const c = tinyChestCr('late', 3, 0);
    const d = tinyChestCr('late', 4, 0);
    const cJob = (await r.api('POST', '/v1/jobs', { studyInstanceUid: c.studyUid })).body.jobs[0].id as number;
    const dJob = (await r.api('POST', '/v1/jobs', { studyInstanceUid: d.studyUid })).body.jobs[0].id as number;
    await waitFor('both jobs failed', async () => (await r.svc.store.jobCounts()).failed === 2, 20_000);
    j = (await r.svc.store.getJob(cJob))!;
    assert.match(j.lastError!, /gave up waiting/);
    q = await r.api('POST', '/v1/jobs', { studyInstanceUid: c.studyUid });
    assert.equal(q.status, 200);
    assert.equal(q.body.jobs[0].outcome, 'failed');
    assert.match(q.body.message, /requeue/);
    await r.orthanc.upload(c.bytes);
    await r.orthanc.upload(d.bytes);
    await new Promise((res) => setTimeout(res, 2500)); // StableStudy (1 s) comes and goes: a failed job stays failed
    assert.equal((await r.svc.store.getJob(cJob))!.state, 'failed', 'the watcher does not resurrect failed jobs');
    assert.equal((await r.api('POST', '/v1/jobs/999/requeue')).status, 404);
    q = await r.api('POST', `/v1/jobs/${cJob}/requeue`);
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.equal(q.body.job.state, 'queued');
    assert.equal(q.body.job.attempts, 0);
    await waitFor('the requeued job done', async () => (await r.svc.store.getJob(cJob))?.state === 'done');
    assert.equal((await r.api('POST', `/v1/jobs/${bJob}/requeue`)).status, 200, 'a done job can be looked at again');
    await waitFor('the done job done again', async () => (await r.svc.store.getJob(bJob))?.state === 'done');
    assert.equal((await resultsOf(r.orthanc, b.studyUid)).sr.length, 1, 'nothing new: no new SR');

    // The CLI does the same against the store file, with the service running.
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false };
    assert.equal(await jobsCommand.run(parseCommandArgs(jobsCommand, ['list', '--config', r.config, '--state', 'failed']), io), 0);
    assert.equal(out.length, 2, out.join('\n'));
    assert.match(out[1]!, new RegExp(`^\\s*${dJob}\\s+failed .*gave up waiting`));
    assert.ok(!out.join('\n').includes(d.studyUid), 'study UIDs are pseudonymised');
    out.length = 0;
    assert.equal(await jobsCommand.run(parseCommandArgs(jobsCommand, ['requeue', '--config', r.config, '--state', 'failed']), io), 0);
    assert.deepEqual(out, [`requeued job ${dJob} (cxr@1, study ${out[0]!.match(/study (st-[0-9a-f]+)/)![1]})`]);
    await waitFor('the CLI-requeued job done', async () => (await r.svc.store.getJob(dJob))?.state === 'done');
    assert.equal((await resultsOf(r.orthanc, d.studyUid)).sr.length, 1);
    const requeues = (await r.svc.store.listAudit()).filter((e) => e.action === 'job.requeue');
    assert.deepEqual(requeues.map((e) => e.actor.split(':')[0]), ['test-admin', 'test-admin', 'cli']);

    // 4. A refused study gets a "not analysed" SR; a bulk requeue of refused jobs looks at it again
    // (still refused: the same SR, not a second one).
    const mr = tinyChestCr('late', 5, 0, { modality: 'MR' });
    await r.orthanc.upload(mr.bytes);
    await waitFor('the not-analysed SR', async () => (await resultsOf(r.orthanc, mr.studyUid)).sr.length === 1);
    const mrJob = (await r.svc.store.listJobs({ studyUid: mr.studyUid }))[0]!;
    assert.equal((mrJob.result as { notAnalysed?: boolean }).notAnalysed, true);
    q = await r.api('POST', '/v1/jobs/requeue', { state: 'refused' });
    assert.equal(q.status, 200);
    assert.deepEqual(q.body.jobs.map((x: { id: number }) => x.id), [mrJob.id], 'only the job that refused an instance');
    await waitFor('the refused study looked at again', async () => {
      const x = await r.svc.store.getJob(mrJob.id);
      return x?.state === 'done' && x.updatedAt > mrJob.updatedAt;
    });
    assert.match((await r.svc.store.listSkipped({ studyUid: mr.studyUid }))[0]!.reason, /modality MR/);
    const mrRes = await resultsOf(r.orthanc, mr.studyUid);
    assert.deepEqual(mrRes.all.map((i) => i.modality).sort(), ['MR', 'SR']);

    const verify = await r.api('GET', '/v1/audit/verify');
    assert.equal(verify.body.ok, true, `the CLI's entry is chained under the service's audit key: ${JSON.stringify(verify.body)}`);
    assert.equal((await r.svc.store.jobCounts()).failed, 0);
  } finally {
    await r.close();
  }
});

test('QIDO polling pages through all of 1,200 studies', { skip, timeout: 120_000 }, async () => {
  const N = 1200;
  const r = await rig('qido', (url) => ({
    orthanc: { url, watch: 'qido', pollIntervalMs: 500, stableMs: 0, pageSize: 500 },
    worker: { enabled: false },
  }));
  try {
    const studies = Array.from({ length: N }, (_, i) => tinyChestCr('qido', i, 0, { size: 8 }));
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < studies.length) await r.orthanc.upload(studies[next++]!.bytes);
    }));
    await waitFor('a job for every study', async () => (await r.svc.store.jobCounts()).queued === N, 60_000, 250);
    const jobs = await r.svc.store.listJobs({ limit: 10_000 });
    assert.deepEqual(new Set(jobs.map((j) => j.studyUid)), new Set(studies.map((s) => s.studyUid)));
    await new Promise((res) => setTimeout(res, 1200)); // more polls: nothing queued twice
    assert.equal((await r.svc.store.listJobs({ limit: 10_000 })).length, N);
  } finally {
    await r.close();
  }
});

test('DIMSE: a modality C-STOREs into Orthanc (storescu), radml notices the study and stores its SR; other AE titles are refused', { skip, timeout: 60_000 }, async () => {
  const r = await rig('dimse', (url) => ({
    orthanc: { url, watch: 'changes', startFrom: 'now', pollIntervalMs: 150 },
    worker: { idleMs: 50 },
  }), { dicom: { modalityAet: 'CR_ROOM_1' } });
  try {
    const s = tinyChestCr('dimse', 1, 0);
    const file = join(r.dir, 'cr.dcm');
    writeFileSync(file, s.bytes);
    const intruder = spawnSync('storescu', ['-aet', 'INTRUDER', '-aec', r.orthanc.aet, '127.0.0.1', String(r.orthanc.dicomPort), file], { encoding: 'utf8' });
    assert.notEqual(intruder.status, 0, 'an unknown calling AE title is refused');
    assert.equal((await r.orthanc.studyInstances(s.studyUid)).length, 0);
    const ok = spawnSync('storescu', ['-aet', 'CR_ROOM_1', '-aec', r.orthanc.aet, '127.0.0.1', String(r.orthanc.dicomPort), file], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const res = await waitFor('the SR for the C-STOREd image', async () => {
      const x = await resultsOf(r.orthanc, s.studyUid);
      return x.sr.length === 1 && x.sc.length === 1 ? x : undefined;
    }, 30_000);
    assert.deepEqual(res.all.map((i) => i.modality).sort(), ['CR', 'OT', 'SR']);
    assert.equal((await r.svc.store.listPredictions({ studyUid: s.studyUid })).length, 1);
  } finally {
    await r.close();
  }
});
