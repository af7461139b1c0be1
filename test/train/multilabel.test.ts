import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { readManifest } from '../../src/data/manifest.js';
import { readCsv } from '../../src/util/csv.js';
import { readModelJson } from '../../src/train/model-folder.js';
import { multilabelTargets } from '../../src/train/targets.js';
import { captureIO, tempDir, writeMultilabelCohort } from './helpers.js';

test('multi-label targets: blanks masked, uncertain labels follow the policy', () => {
  const dir = tempDir();
  try {
    const m = readManifest(writeMultilabelCohort(dir, { n: 10 }));
    assert.equal(m.labelKind, 'multilabel');
    const ignore = multilabelTargets(m.records, m.classes, 'u-ignore', 1);
    const ones = multilabelTargets(m.records, m.classes, 'u-ones', 1);
    const negBlank = multilabelTargets(m.records, m.classes, 'u-ignore+blank=negative', 1);
    // Row 3: left is blank → masked (unless blank=negative); row 4: right is -1.
    assert.equal(ignore.mask[3 * 2 + 0], 0);
    assert.equal(negBlank.mask[3 * 2 + 0], 1);
    assert.equal(ignore.mask[4 * 2 + 1], 0);
    assert.equal(ones.mask[4 * 2 + 1], 1);
    assert.equal(ones.target[4 * 2 + 1], 1);
    assert.equal(ignore.target[0], 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('multi-label training with masked blanks runs end to end and predicts score_<finding>', async () => {
  const dir = tempDir();
  try {
    const manifest = writeMultilabelCohort(dir, { n: 40 });
    const model = join(dir, 'model');
    const t = captureIO();
    assert.equal(await main(['train', '--data', manifest, '--out', model, '--image-size', '16', '--epochs', '4', '--batch', '32', '--width', '4', '--threads', '2', '--lr', '0.01'], t.io), 0, t.err.join('\n'));
    const meta = readModelJson(model);
    assert.equal(meta.labelKind, 'multilabel');
    assert.match(t.err.join('\n'), /with 2 gradient worker\(s\)/);
    assert.deepEqual(meta.classes, ['left', 'right']);
    assert.equal(meta.output.activation, 'sigmoid');
    assert.equal(meta.positiveClass, null);
    assert.ok(meta.training!.history.every((h) => Number.isFinite(h.trainLoss)));
    const preds = join(dir, 'p.csv');
    assert.equal(await main(['predict', '--model', model, '--data', manifest, '--out', preds], captureIO().io), 0);
    const table = readCsv(preds);
    // Calibrated scores, the raw ones beside them, and the gate's columns (a rejected row has blank scores).
    const cols = readModelJson(join(dir, 'model')).calibration ? ['raw_score_left', 'raw_score_right'] : [];
    assert.deepEqual(table.header, ['path', 'patient_id', 'left', 'right', 'score_left', 'score_right', ...cols, 'rejected', 'reason']);
    for (const r of table.rows) for (const c of ['score_left', 'score_right']) assert.ok(r['rejected'] === '1' ? r[c] === '' : Number(r[c]) >= 0 && Number(r[c]) <= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
