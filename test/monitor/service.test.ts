/**
 * Monitoring inside the service: predictions recorded by PACS jobs feed the model version's drift
 * monitor incrementally; GET /v1/monitor, Prometheus gauges, alarms and their acknowledgement in
 * the audit log; the state survives a restart of the service (same store).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitReference, REFERENCE_FILE } from '../../src/monitor/profile.js';
import type { Observation } from '../../src/monitor/observation.js';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService, type RunningService } from '../../src/serve/service.js';
import type { Store } from '../../src/store/store.js';
import { addModelArtefacts, sha256File } from '../../src/train/model-folder.js';
import { Rng } from '../../src/util/rng.js';
import { makeModelFolder, roleTokens } from '../serve/fixtures.js';

function sample(rng: Rng, view: () => string): { scores: number[]; label: 0 | 1; view: string } {
  const label = rng.random() < 0.3 ? 1 : 0;
  const p = 1 / (1 + Math.exp(-(rng.normal(label ? 1.2 : -1.2, 1))));
  return { scores: [1 - p, p], label, view: view() };
}

let jobSeq = 0;
async function recordPredictions(store: Store, rows: { scores: number[]; view: string }[]): Promise<void> {
  for (const r of rows) {
    const uid = `1.2.${++jobSeq}`;
    await store.enqueueJob({ kind: 'study', studyUid: uid, modelName: 'cxr', modelVersion: 1 });
    const job = (await store.leaseJob('w', 10_000))!;
    await store.completeJob(job.id, 'w', { result: null, skipped: [], predictions: [{ studyUid: uid, seriesUid: `${uid}.1`, sopUid: `${uid}.1.1`, modelName: 'cxr', modelVersion: 1, scores: { normal: r.scores[0]!, pneumonia: r.scores[1]! }, decisions: {}, silent: true, columns: { view: r.view, modality: 'CR' } }] });
  }
}

test('service monitor: fed from recorded predictions, alarms audited and acknowledged, state survives a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-monitor-svc-'));
  const { tokens, records } = roleTokens();
  const cfg = parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json' }, dir);
  const start = () => startService(cfg, { extraTokens: records, noListen: true });
  const auth = (role: 'admin' | 'radiologist' | 'service') => ({ authorization: `Bearer ${tokens[role]}` });
  let svc: RunningService | undefined = await start();
  try {
    const folder = makeModelFolder(join(dir, 'm'), 3);
    const rng = new Rng(1);
    const view = () => (rng.random() < 0.8 ? 'PA' : 'AP');
    const ref: Observation[] = Array.from({ length: 600 }, () => {
      const s = sample(rng, view);
      return { categorical: { view: s.view, modality: 'CR' }, numeric: {}, scores: s.scores, embedding: null, oodRejected: null, labels: s.label ? [0, 1] : [1, 0] };
    });
    const profile = fitReference(ref, { classes: ['normal', 'pneumonia'], labelKind: 'categorical', modelSha256: sha256File(join(folder, 'model.onnx')) });
    addModelArtefacts(folder, { [REFERENCE_FILE]: JSON.stringify(profile) });
    const { model } = await svc.registry.registerFolder('cxr', folder, 'test');
    await svc.registry.setStatus('cxr', model.version, 'champion');
    // 200 in-distribution studies, then lateral views the reference never had.
    await recordPredictions(svc.store, Array.from({ length: 200 }, () => sample(rng, view)));
    await recordPredictions(svc.store, Array.from({ length: 100 }, () => sample(rng, () => (rng.random() < 0.5 ? 'LL' : 'PA'))));
    let res = await svc.app.inject({ method: 'GET', url: '/v1/monitor', headers: auth('radiologist') });
    assert.equal(res.statusCode, 200, res.body);
    let body = res.json() as { models: { model: string; studies: number; drift_detected: boolean; alarms: { detector: string; feature: string; index: number; message: string; acknowledged: unknown }[] }[] };
    assert.equal(body.models.length, 1);
    assert.equal(body.models[0]!.studies, 300);
    const alarm = body.models[0]!.alarms.findIndex((a) => a.feature === 'view');
    assert.ok(alarm >= 0, JSON.stringify(body.models[0]!.alarms));
    assert.ok(body.models[0]!.alarms[alarm]!.index >= 200, 'no alarm before the lateral views arrive');
    assert.match(body.models[0]!.alarms[alarm]!.message, /view 'LL' never seen in the reference/);
    assert.ok(body.models[0]!.alarms.every((a) => a.index >= 200), 'no false alarm in the first 200 studies');
    assert.equal((await svc.app.inject({ method: 'GET', url: '/v1/monitor' })).statusCode, 401);
    res = await svc.app.inject({ method: 'POST', url: `/v1/monitor/cxr/1/alarms/${alarm}/ack`, headers: { ...auth('radiologist'), 'content-type': 'application/json' }, payload: { note: 'new lateral protocol at site B' } });
    assert.equal(res.statusCode, 200, res.body);
    const audit = await svc.store.listAudit();
    assert.ok(audit.some((e) => e.action === 'monitor.alarm' && (e.details as { feature?: string }).feature === 'view'));
    assert.ok(audit.some((e) => e.action === 'monitor.acknowledge' && (e.details as { note?: string }).note === 'new lateral protocol at site B'));
    const metrics = (await svc.app.inject({ method: 'GET', url: '/metrics', headers: auth('service') })).body;
    assert.match(metrics, /radml_monitor_studies\{model="cxr@1"\} 300/);
    assert.match(metrics, /radml_monitor_open_alarms\{model="cxr@1"\} [1-9]/);
    await svc.stop();
    svc = await start();
    await recordPredictions(svc.store, Array.from({ length: 10 }, () => sample(rng, view)));
    body = (await svc.app.inject({ method: 'GET', url: '/v1/monitor', headers: auth('admin') })).json() as typeof body;
    assert.equal(body.models[0]!.studies, 310, 'carried on after the restart without re-feeding');
    assert.ok(body.models[0]!.alarms[alarm]!.acknowledged, 'the acknowledgement survived the restart');
  } finally {
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
