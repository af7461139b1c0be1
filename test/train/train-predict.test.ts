import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { readCsv } from '../../src/util/csv.js';
import { auroc } from '../../src/train/auroc.js';
import { readModelJson, modelJsonSchema } from '../../src/train/model-folder.js';
import { captureIO, tempDir, writeCategoricalCohort } from './helpers.js';

test('train then predict on a tiny synthetic cohort: learns, writes the contract columns, refuses a tampered model', async () => {
  const dir = tempDir();
  try {
    const manifest = writeCategoricalCohort(dir, { n: 60, size: 16 });
    const model = join(dir, 'model');
    const t = captureIO();
    const code = await main(['train', '--data', manifest, '--out', model, '--image-size', '16', '--epochs', '6', '--batch', '8', '--threads', '1', '--width', '4', '--positive', 'abnormal', '--seed', '3', '--lr', '0.01'], t.io);
    assert.equal(code, 0, t.err.join('\n'));
    const meta = readModelJson(model);
    assert.ok(modelJsonSchema.safeParse(JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'))).success);
    assert.deepEqual(meta.classes, ['abnormal', 'normal']);
    assert.equal(meta.positiveClass, 'abnormal');
    assert.equal(meta.training!.split.method, 'patient-holdout');
    assert.equal(meta.training!.history.length, meta.training!.epochsRun);
    assert.match(meta.artefacts['model.onnx']!, /^[0-9a-f]{64}$/);
    assert.ok('checkpoint/checkpoint.bin' in meta.artefacts);
    assert.equal(meta.training!.packages.node, process.versions.node);

    const preds = join(dir, 'preds.csv');
    const p = captureIO();
    assert.equal(await main(['predict', '--model', model, '--data', manifest, '--out', preds, '--threads', '1'], p.io), 0, p.err.join('\n'));
    const table = readCsv(preds);
    assert.deepEqual(table.header, ['path', 'label', 'patient_id', 'score_abnormal', 'score_normal', 'raw_score_abnormal', 'raw_score_normal', 'rejected', 'reason']);
    assert.equal(table.rows.length, 60);
    // The gate was fitted on this very cohort: it rejects few of them, and those have blank scores and a reason.
    const kept = table.rows.filter((r) => r['rejected'] === '0');
    assert.ok(kept.length >= 48, `${60 - kept.length} of 60 training images rejected`);
    for (const r of table.rows.filter((x) => x['rejected'] === '1')) { assert.equal(r['score_abnormal'], ''); assert.match(String(r['reason']), /above the in-distribution threshold/); }
    assert.ok(meta.calibration && meta.calibration.complement?.class === 'normal', 'two-class calibration of the positive class, the other its complement');
    const scores = kept.map((r) => Number(r['score_abnormal']));
    for (const r of kept) assert.ok(Math.abs(Number(r['score_abnormal']) + Number(r['score_normal']) - 1) < 1e-4);
    const a = auroc(scores, kept.map((r) => (r['label'] === 'abnormal' ? 1 : 0)));
    assert.ok(a > 0.9, `AUROC on the training cohort ${a}`);
    // --no-ood-gate scores every image.
    const all = join(dir, 'all.csv');
    assert.equal(await main(['predict', '--model', model, '--data', manifest, '--out', all, '--no-ood-gate'], captureIO().io), 0);
    assert.ok(readCsv(all).rows.every((r) => r['score_abnormal'] !== '' && !('rejected' in r)));

    // An undecodable image is reported, not silently dropped.
    writeFileSync(join(dir, 'img', 'broken.png'), Buffer.from('not a png at all'));
    const withBroken = join(dir, 'with-broken.csv');
    writeFileSync(withBroken, readFileSync(manifest, 'utf8') + 'img/broken.png,normal,P999\n');
    const b = captureIO();
    assert.equal(await main(['predict', '--model', model, '--data', withBroken, '--out', join(dir, 'pb.csv')], b.io), 0, b.err.join('\n'));
    assert.match(b.err.join('\n'), /skipped img\/broken\.png: /);
    assert.match(b.out.join('\n'), /wrote 60 predictions .* 1 image\(s\) could not be read/);
    assert.equal(readCsv(join(dir, 'pb.csv')).rows.length, 60);

    // An edited ood.json is refused like any other artefact.
    const oodPath = join(model, 'ood.json');
    assert.ok('ood.json' in meta.artefacts, 'ood.json is hashed in model.json');
    const ood = readFileSync(oodPath, 'utf8');
    writeFileSync(oodPath, ood.replace('"acceptanceRate": 0.95', '"acceptanceRate": 0.5'));
    const e = captureIO();
    assert.equal(await main(['predict', '--model', model, '--data', manifest, '--out', join(dir, 'p3.csv')], e.io), 1);
    assert.match(e.err.join('\n'), /ood\.json: SHA-256 .* does not match model\.json/);
    writeFileSync(oodPath, ood);

    // One changed byte in model.onnx: predict refuses with a message naming the file.
    const onnxPath = join(model, 'model.onnx');
    const bytes = readFileSync(onnxPath);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(onnxPath, bytes);
    const q = captureIO();
    assert.equal(await main(['predict', '--model', model, '--data', manifest, '--out', join(dir, 'p2.csv')], q.io), 1);
    assert.match(q.err.join('\n'), /model\.onnx: SHA-256 .* does not match model\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
