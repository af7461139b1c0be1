import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { startDemoService } from '../../src/serve/demo.js';
import { readTar, writeTar } from '../../src/serve/tar.js';
import { exportPredictionsCsv } from '../../src/serve/export.js';
import { eligibility } from '../../src/serve/eligibility.js';
import { selectionSchema } from '../../src/serve/config.js';
import { makePseudonymiser } from '../../src/serve/pseudonym.js';
import { parseCsv } from '../../src/util/csv.js';
import { makeModelFolder, roleTokens, SHARED_DICOM } from './fixtures.js';
import { generateCohort } from '../../src/data/synth/index.js';
import { sha256File } from '../../src/train/model-folder.js';

test('tar reader refuses paths that leave the folder and links', () => {
  const ok = writeTar([{ path: 'm/model.json', data: new Uint8Array([1]) }]);
  assert.deepEqual(readTar(ok).map((e) => e.path), ['m/model.json']);
  const evil = new Uint8Array(ok);
  evil.set(Buffer.from('../../etc/x\0\0\0\0\0\0'), 0); // rename the entry, then fix the checksum
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : evil[i]!;
  evil.set(Buffer.from(sum.toString(8).padStart(6, '0') + '\0 '), 148);
  assert.throws(() => readTar(evil), /leaves the folder/);
  assert.throws(() => readTar(new Uint8Array(1024).fill(7)), /checksum|octal/);
  // A symbolic link entry (type 2) pointing outside: refused, not followed or written.
  const link = new Uint8Array(ok);
  link.set(Buffer.from('m/evil\0\0\0\0\0\0\0\0\0\0'), 0);
  link[156] = 0x32;
  link.set(Buffer.from('/etc/passwd\0'), 157);
  let lsum = 0;
  for (let i = 0; i < 512; i++) lsum += i >= 148 && i < 156 ? 32 : link[i]!;
  link.set(Buffer.from(lsum.toString(8).padStart(6, '0') + '\0 '), 148);
  assert.throws(() => readTar(link), /link or special file \(type 2\)/);
});

test('registry: multipart upload, tampered artefact refused, model card, champion/challenger exclusivity', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-reg-'));
  const { tokens, records } = roleTokens();
  const svc = await startService(parseServeConfig({ store: 'r.db', modelsDir: 'models', tokensFile: 't.json' }, dir), { extraTokens: records, noListen: true });
  try {
    const auth = { authorization: `Bearer ${tokens.admin}` };
    const folder = makeModelFolder(join(dir, 'm1'), 1);
    writeFileSync(join(folder, 'model-card.md'), '# Model card\nintended use: test');
    const form = new FormData();
    for (const f of readdirSync(folder)) form.append('file', new Blob([readFileSync(join(folder, f))]), f);
    const req = new Response(form);
    const body = Buffer.from(await req.arrayBuffer());
    let res = await svc.app.inject({ method: 'POST', url: '/v1/models?name=cxr', headers: { ...auth, 'content-type': req.headers.get('content-type')! }, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    res = await svc.app.inject({ method: 'GET', url: '/v1/models/cxr/1', headers: auth });
    assert.match(res.json().card, /intended use/);
    assert.equal(res.json().model.onnxSha256.length, 64);

    // An artefact altered after training: refused with the file named.
    const bad = makeModelFolder(join(dir, 'm2'), 2);
    const onnx = readFileSync(join(bad, 'model.onnx'));
    onnx[onnx.length - 10] ^= 0xff;
    writeFileSync(join(bad, 'model.onnx'), onnx);
    const tar = writeTar(readdirSync(bad).map((f) => ({ path: f, data: new Uint8Array(readFileSync(join(bad, f))) })));
    res = await svc.app.inject({ method: 'POST', url: '/v1/models?name=cxr', headers: { ...auth, 'content-type': 'application/x-tar' }, payload: Buffer.from(tar) });
    assert.equal(res.statusCode, 422);
    assert.match(res.json().error, /model\.onnx: SHA-256 .* does not match/);
    assert.ok(!res.body.includes(dir) && !res.body.includes(tmpdir()), `no server path in the 422 body: ${res.body}`);
    assert.equal((await svc.store.listModelVersions()).length, 1);

    // A name clash (file "a" and folder "a/") and a malformed filename* are 400s, not 500s.
    const clash = writeTar([{ path: 'model.json', data: new Uint8Array([1]) }, { path: 'a', data: new Uint8Array([1]) }, { path: 'a/b', data: new Uint8Array([2]) }]);
    res = await svc.app.inject({ method: 'POST', url: '/v1/models?name=cxr', headers: { ...auth, 'content-type': 'application/x-tar' }, payload: Buffer.from(clash) });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'UPLOAD_NAME_CLASH');
    const boundary = 'b0undary';
    const badForm = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename*=UTF-8''%E0%A4%A\r\n\r\nx\r\n--${boundary}--\r\n`);
    res = await svc.app.inject({ method: 'POST', url: '/v1/models?name=cxr', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: badForm });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().error, /malformed percent-encoding/);
    res = await svc.app.inject({ method: 'POST', url: '/v1/models?name=cxr', headers: { ...auth, 'content-type': 'application/x-tar', 'content-length': String(2 ** 40) }, payload: Buffer.from(clash) });
    assert.equal(res.statusCode, 413, 'declared size over limits.modelBytes');

    // Concurrent uploads of different models get different version numbers (reserved without a race).
    const tars = [11, 12, 13, 14].map((seed) => {
      const f = makeModelFolder(join(dir, `c${seed}`), seed);
      return Buffer.from(writeTar(readdirSync(f).map((x) => ({ path: x, data: new Uint8Array(readFileSync(join(f, x))) }))));
    });
    const ups = await Promise.all(tars.map((payload) => svc.app.inject({ method: 'POST', url: '/v1/models?name=race', headers: { ...auth, 'content-type': 'application/x-tar' }, payload })));
    assert.deepEqual(ups.map((u) => u.statusCode), [201, 201, 201, 201], ups.map((u) => u.body).join('\n'));
    assert.deepEqual(ups.map((u) => u.json().model.version).sort(), [1, 2, 3, 4]);
    assert.deepEqual(readdirSync(join(dir, 'models', 'race')).sort(), ['v1', 'v2', 'v3', 'v4']);

    const { model: v2 } = await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'm3'), 3), 'test');
    await svc.registry.setStatus('cxr', 1, 'champion');
    await svc.registry.setStatus('cxr', v2.version, 'champion');
    const statuses = (await svc.store.listModelVersions()).filter((m) => m.name === 'cxr').map((m) => [m.version, m.status]);
    assert.deepEqual(statuses, [[1, 'registered'], [2, 'champion']], 'one champion per model name');
    await svc.registry.setStatus('cxr', 1, 'challenger');
    assert.deepEqual((await svc.registry.active()).map((m) => m.status).sort(), ['challenger', 'champion']);
    res = await svc.app.inject({ method: 'POST', url: '/v1/models/cxr/1/status', headers: { ...auth, 'content-type': 'application/json' }, payload: { status: 'retired' } });
    assert.equal(res.json().model.status, 'retired');
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eligibility gives a reason for every refusal', () => {
  const sel = selectionSchema.parse({});
  assert.equal(eligibility({ modality: 'DX', bodyPartExamined: 'CHEST', viewPosition: 'AP' }, sel), undefined);
  assert.match(eligibility({ modality: 'MR', bodyPartExamined: '', viewPosition: '' }, sel)!, /modality MR/);
  assert.match(eligibility({ modality: 'CR', bodyPartExamined: 'HAND', viewPosition: 'PA' }, sel)!, /body part HAND/);
  assert.match(eligibility({ modality: 'CR', bodyPartExamined: 'CHEST', viewPosition: 'LL' }, sel)!, /view LL/);
  assert.match(eligibility({ modality: 'CR', bodyPartExamined: 'CHEST', viewPosition: '' }, sel)!, /view \(missing\)/);
});

test('predictions export: score_<class> per version, labels from the latest feedback, no UIDs', () => {
  const p = makePseudonymiser('k');
  const base = { seriesUid: '1.9', modelName: 'cxr', silent: true, decisions: {}, columns: { sex: 'F', view: 'PA' }, createdAt: 0 };
  const preds = [
    { ...base, id: 1, studyUid: '1.2.1', sopUid: '1.3.1', modelVersion: 1, scores: { normal: 0.3, pneumonia: 0.7 } },
    { ...base, id: 2, studyUid: '1.2.2', sopUid: '1.3.2', modelVersion: 1, scores: { normal: 0.9, pneumonia: 0.1 } },
  ];
  const v2 = [{ ...base, id: 3, studyUid: '1.2.1', sopUid: '1.3.1', modelVersion: 2, scores: { normal: 0.4, pneumonia: 0.6 } }];
  const fb = [
    { id: 1, studyUid: '1.2.1', finding: 'pneumonia', verdict: 'reject' as const, user: 'a', comment: '', createdAt: 1 },
    { id: 2, studyUid: '1.2.1', finding: 'pneumonia', verdict: 'confirm' as const, user: 'b', comment: '', createdAt: 2 },
    { id: 3, studyUid: '1.2.2', finding: 'pneumonia', verdict: 'reject' as const, user: 'a', comment: '', createdAt: 3 },
  ];
  const csv = exportPredictionsCsv({ name: 'cxr', version: 1, classes: ['normal', 'pneumonia'], labelKind: 'categorical', positiveClass: 'pneumonia' }, preds, fb, p, { version: 2, predictions: v2 });
  const t = parseCsv(csv);
  assert.deepEqual(t.rows.map((r) => [r.label, r.pneumonia, r.score_pneumonia, r.score_pneumonia_v2, r.sex]), [
    ['pneumonia', '1', '0.7', '0.6', 'F'],
    ['normal', '0', '0.1', '', 'F'],
  ]);
  assert.ok(!csv.includes('1.2.1') && !csv.includes('1.3.1'));
  assert.equal(t.rows[0]!.study_id, p('1.2.1'));
});

test('startDemoService registers the model as champion and answers with the printed tokens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-demo-'));
  const demo = await startDemoService({ modelDir: makeModelFolder(join(dir, 'model'), 1), dir: join(dir, 'serve'), port: 0 });
  try {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${demo.url}/v1/models`, { headers: { authorization: `Bearer ${demo.tokens.radiologist}` } });
    const body = (await r.json()) as { models: { status: string }[] };
    assert.equal(body.models[0]!.status, 'champion');
    assert.equal((await fetch(`${demo.url}/ready`)).status, 200);
    const doc = (await (await fetch(`${demo.url}/openapi.json`, { headers: { authorization: `Bearer ${demo.tokens.service}` } })).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.0.3');
    assert.ok('/v1/predict' in doc.paths && '/v1/studies/{studyUid}/feedback' in doc.paths);
  } finally {
    await demo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model folder with ood.json gates inputs: header profile before decoding, energy score after', { skip: existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ood-'));
  const { tokens, records } = roleTokens();
  const svc = await startService(parseServeConfig({ store: 'r.db', modelsDir: 'models', tokensFile: 't.json' }, dir), { extraTokens: records, noListen: true });
  try {
    await generateCohort({ out: join(dir, 'cohort'), n: 1, sites: 1, seed: 2, size: 64 });
    const dx = readFileSync(join(dir, 'cohort', 'dicom', readdirSync(join(dir, 'cohort', 'dicom'))[0]!));
    const folder = makeModelFolder(join(dir, 'm'), 1);
    const ood = (energyThreshold: number) => ({
      format: 'radml-ood', version: 1, modelSha256: sha256File(join(folder, 'model.onnx')), acceptanceRate: 0.95, mahalanobis: null,
      energy: { temperature: 1, threshold: energyThreshold },
      headerProfile: { modality: ['DX'], bodyPart: ['CHEST'], view: ['AP', 'PA'], photometric: ['MONOCHROME2'], bitsStored: null, images: 100 },
      fit: { images: 100, calibrationImages: 20, calibrationAcceptance: 0.95, source: 'test', split: 'train' }, createdAt: new Date().toISOString(),
    });
    writeFileSync(join(folder, 'ood.json'), JSON.stringify(ood(1e9)));
    const { model } = await svc.registry.registerFolder('cxr', folder, 'test');
    await svc.registry.setStatus('cxr', model.version, 'champion');
    const predict = (payload: Uint8Array) => svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { authorization: `Bearer ${tokens.service}`, 'content-type': 'application/dicom' }, payload: Buffer.from(payload) });
    assert.equal((await predict(dx)).statusCode, 200);
    const cr = await predict(readFileSync(join(SHARED_DICOM, 'chest_cr_siim.dcm')));
    assert.equal(cr.statusCode, 422);
    assert.match(cr.json().error, /modality CR: the model was trained on DX/);

    // Version 2: same model, an energy threshold nothing passes.
    const f2 = makeModelFolder(join(dir, 'm2'), 2);
    writeFileSync(join(f2, 'ood.json'), JSON.stringify({ ...ood(-1e9), modelSha256: sha256File(join(f2, 'model.onnx')) }));
    const { model: v2 } = await svc.registry.registerFolder('cxr', f2, 'test');
    await svc.registry.setStatus('cxr', v2.version, 'champion');
    const low = await predict(dx);
    assert.equal(low.statusCode, 422);
    assert.match(low.json().error, /energy score .* above the in-distribution threshold/);
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
