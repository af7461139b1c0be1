/**
 * The one Predictor end to end on a small synthetic DICOM cohort: `radml train` fits a calibration
 * and an out-of-distribution gate; `radml predict`, the library one-liner and the service give the
 * same scores for the same DICOM; CT and MR files are rejected with a reason; the calibrated scores
 * are the stored maps applied to the raw ones (the maps themselves: test/train/calibrate.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { generateCohort } from '../../src/data/synth/index.js';
import { writeDicom, uidFromName, type DicomElement } from '../../src/data/dicom/writer.js';
import { loadModel, readModelJson, recalibrate } from '../../src/index.js';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { readCsv } from '../../src/util/csv.js';
import { Rng } from '../../src/util/rng.js';
import { roleTokens } from '../serve/fixtures.js';
import { captureIO } from '../train/helpers.js';

const SHARED = join('..', 'shared', 'data', 'dicom');

/** A small non-chest DICOM (CT of the head, or MR) with noise pixels. */
function foreignDicom(modality: 'CT' | 'MR', seed: number): Uint8Array {
  const rng = new Rng(seed);
  const size = 48;
  const px = Uint16Array.from({ length: size * size }, (_, i) => Math.round(1000 + 800 * Math.sin(i / 7) + rng.normal(0, 60)));
  const sop = modality === 'CT' ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.4';
  const el: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: sop },
    { tag: 0x00080018, vr: 'UI', value: uidFromName(`test/${modality}/${seed}`) },
    { tag: 0x00080060, vr: 'CS', value: modality },
    { tag: 0x00100020, vr: 'LO', value: `P${modality}` },
    { tag: 0x00180015, vr: 'CS', value: 'HEAD' },
    { tag: 0x0020000d, vr: 'UI', value: uidFromName(`test/${modality}/${seed}/study`) },
    { tag: 0x0020000e, vr: 'UI', value: uidFromName(`test/${modality}/${seed}/series`) },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: size },
    { tag: 0x00280011, vr: 'US', value: size },
    { tag: 0x00280100, vr: 'US', value: 16 },
    { tag: 0x00280101, vr: 'US', value: 12 },
    { tag: 0x00280102, vr: 'US', value: 11 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x7fe00010, vr: 'OW', value: px },
  ];
  return writeDicom(el);
}

test('one Predictor: train fits calibration + gate; predict, loadModel and serve agree; CT/MR rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-api-'));
  try {
    const cohort = join(dir, 'cohort');
    await generateCohort({ out: cohort, n: 160, sites: 2, seed: 5, size: 64 });
    const ds = join(dir, 'ds');
    assert.equal(await main(['ingest', join(cohort, 'manifest.csv'), '--out', ds, '--image-size', '32'], captureIO().io), 0);
    const model = join(dir, 'model');
    const t = captureIO();
    assert.equal(await main(['train', '--data', ds, '--out', model, '--image-size', '32', '--epochs', '3', '--width', '4', '--batch', '32', '--threads', '1', '--seed', '2'], t.io), 0, t.err.join('\n'));
    const meta = readModelJson(model);
    assert.ok(meta.calibration, 'model.json holds a calibration');
    assert.equal(meta.calibration.fittedOn.split, 'validation');
    assert.ok('ood.json' in meta.artefacts, 'the gate is a hashed artefact');
    assert.match(t.out.join('\n'), /out-of-distribution gate: fitted on \d+ training images/);

    // CT and MR files next to the cohort's radiographs.
    writeFileSync(join(cohort, 'dicom', 'ct.dcm'), foreignDicom('CT', 1));
    writeFileSync(join(cohort, 'dicom', 'mr.dcm'), foreignDicom('MR', 2));
    const shared = ['ct_small.dcm', 'mr_small.dcm'].filter((f) => existsSync(join(SHARED, f)));
    for (const f of shared) writeFileSync(join(cohort, 'dicom', `shared_${f}`), readFileSync(join(SHARED, f)));
    const radiographs = ['ST00001', 'ST00002', 'ST00003', 'ST00004', 'ST00005', 'ST00006'].map((s) => `dicom/${s}.dcm`);
    const foreign = ['dicom/ct.dcm', 'dicom/mr.dcm', ...shared.map((f) => `dicom/shared_${f}`)];
    const mixed = join(cohort, 'mixed.csv');
    writeFileSync(mixed, ['path', ...radiographs, ...foreign].join('\n') + '\n');
    const preds = join(dir, 'preds.csv');
    const p = captureIO();
    assert.equal(await main(['predict', '--model', model, '--data', mixed, '--out', preds, '--threads', '1'], p.io), 0, p.err.join('\n'));
    const rows = readCsv(preds).rows;
    assert.equal(rows.length, radiographs.length + foreign.length);
    for (const r of rows.slice(radiographs.length)) {
      assert.equal(r['rejected'], '1', `${r['path']} must be rejected`);
      assert.match(String(r['reason']), /modality (CT|MR): the model was trained on/);
      for (const c of meta.classes) assert.equal(r[`score_${c}`], '', 'a rejected image has no score');
    }
    const accepted = rows.slice(0, radiographs.length).filter((r) => r['rejected'] === '0');
    assert.ok(accepted.length >= 3, `${accepted.length} of ${radiographs.length} training radiographs accepted`);
    assert.match(p.out.join('\n'), new RegExp(`${rows.length - accepted.length} rejected by the out-of-distribution gate`));

    // The library one-liner gives the CSV's numbers (7 significant digits there).
    const m = await loadModel(model);
    try {
      const one = await m.predict(join(cohort, 'dicom', 'ct.dcm'));
      assert.ok(one.rejected && /modality CT/.test(one.reasons.join(';')));
      const batch = await m.predict(accepted.map((r) => String(r['path'])));
      batch.forEach((b, i) => {
        assert.equal(b.rejected, false);
        for (const c of meta.classes) {
          assert.ok(Math.abs(b.scores[c]! - Number(accepted[i]![`score_${c}`])) < 1e-6, `${c}: ${b.scores[c]} vs ${accepted[i]![`score_${c}`]}`);
          assert.ok(Math.abs(b.raw[c]! - Number(accepted[i]![`raw_score_${c}`])) < 1e-6);
        }
      });
      const off = await loadModel(model, { oodGate: false });
      assert.equal((await off.predict(join(cohort, 'dicom', 'ct.dcm'))).rejected, false, 'oodGate: false scores everything');
      await off.release();
    } finally {
      await m.release();
    }

    // The service: same scores for the same DICOM, on the synchronous path and through the decode pool.
    for (const decodeThreads of [0, 1]) {
      const sdir = join(dir, `serve${decodeThreads}`);
      mkdirSync(sdir);
      const { tokens, records } = roleTokens();
      const svc = await startService(parseServeConfig({ store: 'r.db', modelsDir: 'models', tokensFile: 't.json', decodeThreads }, sdir), { extraTokens: records, noListen: true });
      try {
        const { model: mv } = await svc.registry.registerFolder('cxr', model, 'test');
        await svc.registry.setStatus(mv.name, mv.version, 'champion');
        const headers = { authorization: `Bearer ${tokens.radiologist}`, 'content-type': 'application/dicom' };
        for (const r of accepted) {
          const res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers, payload: readFileSync(String(r['path'])) });
          assert.equal(res.statusCode, 200, res.body);
          const body = res.json() as { scores: Record<string, number>; raw: Record<string, number> };
          // Sync path: the Predictor's own pixel path, equal to float32 rounding; the decode pool
          // normalises without the dataset cache's 16-bit grid, a difference far below 1e-4.
          const tol = decodeThreads === 0 ? 1e-6 : 1e-4;
          for (const c of meta.classes) {
            assert.ok(Math.abs(body.scores[c]! - Number(r[`score_${c}`])) < tol, `serve (decodeThreads ${decodeThreads}) ${c}: ${body.scores[c]} vs predict ${r[`score_${c}`]}`);
            assert.ok(Math.abs(body.raw[c]! - Number(r[`raw_score_${c}`])) < tol);
          }
        }
        const ct = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers, payload: Buffer.from(foreignDicom('CT', 3)) });
        assert.equal(ct.statusCode, 422, ct.body);
        assert.match(ct.body, /CT/);
      } finally {
        await svc.stop();
      }
    }

    // The stored maps are what predict applied: calibrated = map(raw) for every scored row.
    for (const r of accepted) for (const c of meta.classes) {
      const e = meta.calibration.classes[c]!;
      assert.ok(Math.abs(recalibrate(e.map, Number(r[`raw_score_${c}`])) - Number(r[`score_${c}`])) < 2e-6);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
