import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { writeTar } from '../../src/serve/tar.js';
import { readDicomHeader } from '../../src/data/dicom/index.js';
import { parseCsv } from '../../src/util/csv.js';
import { dcmtkSkip, makeModelFolder, orthancSkip, roleTokens, SHARED_DICOM, startOrthanc } from './fixtures.js';

const skip = orthancSkip || dcmtkSkip || (existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom');

function folderTar(dir: string): Uint8Array {
  return writeTar(readdirSync(dir).map((f) => ({ path: `model/${f}`, data: new Uint8Array(readFileSync(join(dir, f))) })));
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

test('Orthanc bridge: new studies are scored by champion and challenger; SR + SC stored back in the study; MR refused with a reason', { skip, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-bridge-'));
  const orthanc = await startOrthanc(join(dir, 'orthanc'));
  let svc: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    const files = ['chest_cr_siim.dcm', 'chest_cr_philips_j2k.dcm', 'mr_small.dcm', 'extremity_cr_fuji_j2k_lossless.dcm'];
    const headers = Object.fromEntries(files.map((f) => {
      const bytes = readFileSync(join(SHARED_DICOM, f));
      return [f, readDicomHeader(bytes, f)];
    }));
    for (const f of files) await orthanc.upload(readFileSync(join(SHARED_DICOM, f)));

    const { tokens, records } = roleTokens();
    const cfg = parseServeConfig({
      listen: { port: 0 }, store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json',
      orthanc: { url: orthanc.url, watch: 'changes', startFrom: 'beginning', pollIntervalMs: 200 },
      worker: { leaseMs: 10_000, idleMs: 100, baseBackoffMs: 100 },
      heatmapGrid: 4,
    }, dir);
    const logs: Record<string, unknown>[] = [];
    svc = await startService(cfg, { extraTokens: records, log: (l) => logs.push(l) });
    const api = async (method: string, path: string, role: keyof typeof tokens, body?: unknown, type = 'application/json') => {
      const r = await fetch(svc!.url + path, {
        method, headers: { authorization: `Bearer ${tokens[role]}`, ...(body !== undefined ? { 'content-type': type } : {}) },
        ...(body !== undefined ? { body: type === 'application/json' ? JSON.stringify(body) : (body as Uint8Array) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
    };

    // Registry: upload two versions, re-upload is idempotent, card shows model.json.
    const m1 = makeModelFolder(join(dir, 'm1'), 1);
    const m2 = makeModelFolder(join(dir, 'm2'), 2);
    let r = await api('POST', '/v1/models?name=cxr', 'admin', folderTar(m1), 'application/x-tar');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.model.version, 1);
    r = await api('POST', '/v1/models?name=cxr', 'admin', folderTar(m1), 'application/x-tar');
    assert.equal(r.status, 200);
    assert.equal(r.body.created, false);
    r = await api('POST', '/v1/models?name=cxr', 'admin', folderTar(m2), 'application/x-tar');
    assert.equal(r.body.model.version, 2);
    r = await api('GET', '/v1/models/cxr/1', 'radiologist');
    assert.deepEqual(r.body.meta.classes, ['normal', 'pneumonia']);
    assert.equal(r.body.operatingPoint.thresholds.pneumonia, 0.5);
    assert.equal((await api('POST', '/v1/models/cxr/1/status', 'admin', { status: 'champion' })).status, 200);
    assert.equal((await api('POST', '/v1/models/cxr/2/status', 'admin', { status: 'challenger' })).status, 200);

    // The watcher finds the 4 studies on the change feed; 2 active versions → 8 jobs.
    const counts = await waitFor('8 finished jobs', async () => {
      const c = await svc!.store.jobCounts();
      return c.done + c.failed >= 8 ? c : undefined;
    });
    assert.equal(counts.failed, 0, JSON.stringify(await svc.store.listJobs({ state: 'failed' })));

    const siim = headers['chest_cr_siim.dcm']!;
    const inOrthanc = await waitFor('SR and SC in the chest study', async () => {
      const list = await orthanc.studyInstances(siim.studyInstanceUid);
      return list.some((i) => i.modality === 'SR') && list.some((i) => i.modality === 'OT') ? list : undefined;
    });
    // Champion only: exactly one SR and one SC (the challenger is silent).
    assert.equal(inOrthanc.filter((i) => i.modality === 'SR').length, 1);
    assert.equal(inOrthanc.filter((i) => i.modality === 'OT').length, 1);
    const srFile = join(dir, 'sr.dcm');
    writeFileSync(srFile, await orthanc.instanceFile(inOrthanc.find((i) => i.modality === 'SR')!.id));
    const sr = execFileSync('dsrdump', ['+Pn', srFile], { encoding: 'utf8' });
    assert.match(sr, /Comprehensive SR Document/);
    assert.match(sr, /Algorithm Name.*cxr/);
    assert.match(sr, /Algorithm Version.*"1"/);
    assert.match(sr, /pneumonia/);
    const srDump = execFileSync('dcmdump', ['+P', '0020,000d', '+P', '0008,1155', srFile], { encoding: 'utf8' });
    assert.ok(srDump.includes(siim.studyInstanceUid), 'SR is in the source study');
    assert.ok(srDump.includes(siim.sopInstanceUid), 'SR references the scored image');
    const scFile = join(dir, 'sc.dcm');
    writeFileSync(scFile, await orthanc.instanceFile(inOrthanc.find((i) => i.modality === 'OT')!.id));
    const sc = execFileSync('dcmdump', [scFile], { encoding: 'utf8' });
    assert.match(sc, /SecondaryCaptureImageStorage/);
    assert.match(sc, /\(0028,0004\) CS \[RGB\]/);
    assert.match(sc, /BurnedInAnnotation/);
    assert.ok(sc.includes(siim.sopInstanceUid), 'SC references its source image');
    execFileSync('dcmj2pnm', [scFile, join(dir, 'sc.ppm')]);

    // The JPEG 2000 MONOCHROME1 chest CR is scored too.
    const philips = await orthanc.studyInstances(headers['chest_cr_philips_j2k.dcm']!.studyInstanceUid);
    assert.deepEqual(philips.map((i) => i.modality).sort(), ['CR', 'OT', 'SR']);

    // Predictions: both versions recorded for the chest image, the challenger's silently.
    const preds = await svc.store.listPredictions({ studyUid: siim.studyInstanceUid });
    assert.deepEqual(preds.map((p) => [p.modelVersion, p.silent]).sort(), [[1, false], [2, true]]);
    const p1 = preds.find((p) => p.modelVersion === 1)!;
    assert.ok(Math.abs(p1.scores.normal! + p1.scores.pneumonia! - 1) < 1e-5);
    assert.equal(p1.decisions.pneumonia, p1.scores.pneumonia! >= 0.5);
    assert.equal(p1.columns.view, 'PA');

    // MR and extremity: not scored, reason recorded per model version; the champion sends back a
    // short "not analysed" SR so a reader can tell refused from pending (no SC).
    const mr = headers['mr_small.dcm']!;
    const mrSkips = await svc.store.listSkipped({ studyUid: mr.studyInstanceUid });
    assert.deepEqual(mrSkips.map((s) => s.modelVersion).sort(), [1, 2]);
    assert.match(mrSkips[0]!.reason, /modality MR is not one of CR, DX/);
    assert.equal((await svc.store.listPredictions({ studyUid: mr.studyInstanceUid })).length, 0);
    const mrInst = await waitFor('the not-analysed SR', async () => {
      const l = await orthanc.studyInstances(mr.studyInstanceUid);
      return l.some((i) => i.modality === 'SR') ? l : undefined;
    });
    assert.deepEqual(mrInst.map((i) => i.modality).sort(), ['MR', 'SR'], 'one SR, no Secondary Capture');
    const naFile = join(dir, 'na.dcm');
    writeFileSync(naFile, await orthanc.instanceFile(mrInst.find((i) => i.modality === 'SR')!.id));
    const na = execFileSync('dsrdump', ['+Pn', '+Pl', naFile], { encoding: 'utf8' });
    assert.match(na, /not analysed: modality MR is not one of CR, DX/);
    assert.match(na, /Algorithm Version.*"1"/);
    assert.ok(execFileSync('dcmdump', ['+P', '0020,000d', naFile], { encoding: 'utf8' }).includes(mr.studyInstanceUid), 'in the MR study');
    const ext = headers['extremity_cr_fuji_j2k_lossless.dcm']!;
    assert.match((await svc.store.listSkipped({ studyUid: ext.studyInstanceUid }))[0]!.reason, /body part EXTREMITY/);
    r = await api('GET', `/v1/studies/${mr.studyInstanceUid}/predictions`, 'radiologist');
    assert.match(r.body.skipped[0].reason, /modality MR/);

    // The same study queued again is not processed again (idempotent per model version): the answer
    // says so (200 with the existing jobs), not a 202 that does nothing.
    await waitFor('the queue to settle', async () => ((await svc!.store.jobCounts()).queued + (await svc!.store.jobCounts()).leased === 0 ? true : undefined));
    r = await api('POST', '/v1/jobs', 'service', { studyInstanceUid: siim.studyInstanceUid });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.jobs.map((j: { outcome: string }) => j.outcome), ['done', 'done']);
    assert.match(r.body.message, /already done/);
    assert.equal((await svc.store.jobCounts()).queued, 0);
    assert.equal((await orthanc.studyInstances(siim.studyInstanceUid)).filter((i) => i.modality === 'SR').length, 1, 'still one SR after the study was seen again');

    // Only champion and challenger versions serve: a retired or never-activated version is refused.
    const png = readFileSync(join(SHARED_DICOM, 'chest_cr_siim.dcm'));
    r = await api('POST', '/v1/predict?model=cxr&version=2', 'radiologist', png, 'application/dicom');
    assert.equal(r.status, 200, 'the challenger may be asked for by version');
    assert.equal((await api('POST', '/v1/models/cxr/2/status', 'admin', { status: 'retired' })).status, 200);
    r = await api('POST', '/v1/predict?model=cxr&version=2', 'radiologist', png, 'application/dicom');
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'MODEL_NOT_ACTIVE');
    assert.match(r.body.error, /retired/);
    const m3 = makeModelFolder(join(dir, 'm3'), 3);
    assert.equal((await api('POST', '/v1/models?name=cxr', 'admin', folderTar(m3), 'application/x-tar')).status, 201);
    r = await api('POST', '/v1/predict?model=cxr&version=3', 'radiologist', png, 'application/dicom');
    assert.equal(r.status, 409);
    assert.match(r.body.error, /not activated/);
    assert.equal((await api('POST', '/v1/predict?version=1', 'radiologist', png, 'application/dicom')).status, 400, 'a version without its model name is refused, not ignored');
    assert.equal((await api('POST', '/v1/predict?model=cxr&version=1', 'radiologist', png, 'application/dicom')).status, 200);

    // Feedback and the predictions export for evaluate.
    r = await api('POST', `/v1/studies/${siim.studyInstanceUid}/feedback`, 'radiologist', { finding: 'pneumonia', verdict: 'confirm' });
    assert.equal(r.status, 201);
    assert.equal(r.body.user, 'test-radiologist');
    r = await api('GET', '/v1/predictions.csv?model=cxr&version=1&compareVersion=2', 'service');
    const table = parseCsv(r.body as string);
    assert.ok(table.header.includes('score_pneumonia') && table.header.includes('score_pneumonia_v2'));
    const row = table.rows.find((x) => x.label === 'pneumonia')!;
    assert.ok(row, 'feedback became the label');
    assert.equal(Number(row.score_pneumonia), p1.scores.pneumonia);
    assert.ok(!(r.body as string).includes(siim.studyInstanceUid), 'no study UID in the export');

    r = await api('GET', '/v1/audit/verify', 'admin');
    assert.equal(r.body.ok, true);
    const actions = (await svc.store.listAudit()).map((e) => e.action);
    for (const a of ['model.upload', 'model.activate', 'predict', 'feedback']) assert.ok(actions.includes(a), a);
    // No UIDs in the logs.
    const logText = JSON.stringify(logs);
    for (const h of Object.values(headers)) assert.ok(!logText.includes(h.studyInstanceUid), 'study UID in logs');
  } finally {
    await svc?.stop();
    await orthanc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
