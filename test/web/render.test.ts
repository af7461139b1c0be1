import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { defaultWindow, greyLut, modalityValue, windowValue, type ImageInfo } from '../../web/src/render.js';
import { filterWorklist, inputRegion, viewerPixels, worklistRows, worklistQuerySchema } from '../../src/serve/dashboard-routes.js';
import type { Job, ModelVersion, Prediction, SkippedInstance } from '../../src/store/schema.js';

const info = (o: Partial<ImageInfo> = {}): ImageInfo => ({
  width: 2, height: 1, rows: 1, columns: 2, factor: 1, min: 0, max: 4095, photometric: 'MONOCHROME2',
  windowCenter: 2048, windowWidth: 4096, voiLutFunction: 'LINEAR', modality: 'CR', display: false, ...o,
});

test('VOI window follows PS3.3 C.11.2.1.2 (worked values)', () => {
  // LINEAR, c = 40, w = 400: below c − 0.5 − (w−1)/2 = −160 → 0; above c − 0.5 + (w−1)/2 = 239 → 1.
  assert.equal(windowValue(-160, { center: 40, width: 400 }, 'LINEAR'), 0);
  assert.equal(windowValue(239.5, { center: 40, width: 400 }, 'LINEAR'), 1);
  assert.ok(Math.abs(windowValue(39.5, { center: 40, width: 400 }, 'LINEAR') - 0.5) < 1e-12);
  assert.ok(Math.abs(windowValue(100, { center: 40, width: 400 }, 'LINEAR') - ((100 - 39.5) / 399 + 0.5)) < 1e-12);
  // LINEAR_EXACT: (v − (c − w/2)) / w.
  assert.equal(windowValue(0, { center: 50, width: 100 }, 'LINEAR_EXACT'), 0);
  assert.equal(windowValue(75, { center: 50, width: 100 }, 'LINEAR_EXACT'), 0.75);
  // SIGMOID: 1 / (1 + exp(−4 (v − c) / w)).
  assert.ok(Math.abs(windowValue(60, { center: 50, width: 100 }, 'SIGMOID') - 1 / (1 + Math.exp(-0.4))) < 1e-12);
});

test('grey LUT: MONOCHROME1 is inverted (high values dark), the invert toggle flips again, samples map back to modality values', () => {
  assert.equal(modalityValue({ min: -1000, max: 1000 }, 65535), 1000);
  assert.equal(modalityValue({ min: -1000, max: 1000 }, 0), -1000);
  const m2 = greyLut(info(), defaultWindow(info()), false);
  const m1 = greyLut(info({ photometric: 'MONOCHROME1' }), defaultWindow(info()), false);
  assert.equal(m2[0], 0);
  assert.equal(m2[65535], 255);
  assert.equal(m1[0], 255);
  assert.equal(m1[65535], 0);
  const m1inv = greyLut(info({ photometric: 'MONOCHROME1' }), defaultWindow(info()), true);
  assert.deepEqual(m1inv, m2);
  // No stored window: the full range.
  assert.deepEqual(defaultWindow(info({ windowCenter: null, windowWidth: null, min: 10, max: 30 })), { center: 20, width: 20 });
});

test('viewer pixels: box-averaged by an integer factor past the size cap and quantised to 16 bits (numpy reference)', (t) => {
  const w = 10, h = 6;
  const values = Float32Array.from({ length: w * h }, (_, i) => ((i * 37) % 101) - 20.5);
  const header = { rows: h, columns: w, photometricInterpretation: 'MONOCHROME1', windowCenter: [5], windowWidth: [50], voiLutFunction: 'LINEAR', modality: 'CR' };
  const { info: inf, samples } = viewerPixels(values, w, h, header, 4);
  assert.equal(inf.factor, 3);
  assert.equal(inf.width, 3);
  assert.equal(inf.height, 2);
  assert.equal(inf.photometric, 'MONOCHROME1');
  assert.equal(inf.windowCenter, 5);
  const py = spawnSync('python3', ['-c', `
import numpy as np, json, sys
v = np.array(json.load(sys.stdin), dtype=np.float32).reshape(6, 10)[:6, :9]
print(json.dumps(v.reshape(2, 3, 3, 3).mean(axis=(1, 3)).ravel().tolist()))`], { input: JSON.stringify(Array.from(values)), encoding: 'utf8' });
  if (py.status !== 0) return t.skip('needs python3 with numpy');
  const expected = JSON.parse(py.stdout) as number[];
  const back = Array.from(samples, (s) => modalityValue(inf, s));
  const step = (inf.max - inf.min) / 65535;
  expected.forEach((e, i) => assert.ok(Math.abs(back[i]! - e) <= step, `pixel ${i}: ${back[i]} vs ${e}`));
  assert.equal(inf.min, Math.min(...expected.map((e) => Math.fround(e))));
});

test('the model input region per resize mode', () => {
  assert.deepEqual(inputRegion(200, 100, 'pad'), { x: 0, y: -50, width: 200, height: 200 });
  assert.deepEqual(inputRegion(200, 100, 'crop'), { x: 50, y: 0, width: 100, height: 100 });
  assert.deepEqual(inputRegion(200, 100, 'stretch'), { x: 0, y: 0, width: 200, height: 100 });
});

test('worklist rows: one per study × version, newest job state wins, highest score per finding against its threshold, refusals kept; filters', () => {
  const job = (id: number, studyUid: string, state: Job['state'], updatedAt: number): Job => ({
    id, kind: 'study', studyUid, modelName: 'cxr', modelVersion: 1, idempotencyKey: `k${id}`, state, attempts: 1, maxAttempts: 3, runAfter: 0,
    leaseOwner: null, leaseExpires: null, lastError: state === 'failed' ? 'boom' : null, result: null, createdAt: 0, updatedAt, queuedAt: 0,
  });
  const pred = (studyUid: string, sopUid: string, p: number): Prediction => ({
    id: 0, studyUid, seriesUid: '1.9', sopUid, modelName: 'cxr', modelVersion: 1, scores: { normal: 1 - p, pneumonia: p }, decisions: { pneumonia: p >= 0.5 }, silent: false, columns: {}, createdAt: 5,
  });
  const skipped: SkippedInstance[] = [{ studyUid: '1.3', sopUid: '1.3.1', modelName: 'cxr', modelVersion: 1, reason: 'modality MR is not CR/DX', createdAt: 7 }];
  const models: ModelVersion[] = [{ name: 'cxr', version: 1, onnxSha256: 'x', dir: 'd', status: 'champion', classes: ['normal', 'pneumonia'], createdAt: 0, createdBy: 't' }];
  const rows = worklistRows(
    [job(1, '1.1', 'failed', 10), job(4, '1.1', 'done', 20), job(2, '1.2', 'done', 30), job(3, '1.3', 'done', 40)],
    [pred('1.1', '1.1.1', 0.2), pred('1.1', '1.1.2', 0.7), pred('1.2', '1.2.1', 0.1)],
    skipped, new Map([['1.2', 2]]), models, { 'cxr@1': { pneumonia: 0.5 } },
  );
  assert.deepEqual(rows.map((r) => r.studyUid), ['1.3', '1.2', '1.1']);
  const r1 = rows.find((r) => r.studyUid === '1.1')!;
  assert.equal(r1.state, 'done');
  assert.equal(r1.jobId, 4);
  assert.equal(r1.instancesScored, 2);
  assert.deepEqual(r1.findings.find((f) => f.finding === 'pneumonia'), { finding: 'pneumonia', score: 0.7, threshold: 0.5, positive: true });
  assert.deepEqual(r1.findings.find((f) => f.finding === 'normal'), { finding: 'normal', score: 0.8, threshold: null, positive: null });
  assert.equal(rows.find((r) => r.studyUid === '1.2')!.feedback, 2);
  assert.equal(rows[0]!.refusals[0]!.reason, 'modality MR is not CR/DX');
  const q = (o: Record<string, unknown>) => filterWorklist(rows, worklistQuerySchema.parse(o)).map((r) => r.studyUid);
  assert.deepEqual(q({ outcome: 'positive' }), ['1.1']);
  assert.deepEqual(q({ outcome: 'negative' }), ['1.2']);
  assert.deepEqual(q({ outcome: 'refused' }), ['1.3']);
  assert.deepEqual(q({ q: '1.2' }), ['1.2']);
  assert.deepEqual(q({ model: 'cxr@2' }), []);
});
