import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCsv } from '../../src/util/csv.js';
import { loadOrIngest } from '../../src/data/ingest/index.js';
import { ImageClassifier } from '../../src/train/classifier.js';
import { auroc } from '../../src/train/auroc.js';

const data = resolve('..', 'shared', 'data', 'pneumoniamnist');

test('PneumoniaMNIST: one short epoch on a subset already separates the classes (val AUROC > 0.8)', { skip: existsSync(join(data, 'labels.csv')) ? false : 'needs ../shared/data/pneumoniamnist' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-pm-'));
  try {
    // Every normal and as many pneumonia training images, plus 200 validation images.
    const t = readCsv(join(data, 'labels.csv'));
    const train = t.rows.filter((r) => r['split'] === 'train');
    const normals = train.filter((r) => r['label'] === 'normal');
    const rows = [...normals, ...train.filter((r) => r['label'] === 'pneumonia').slice(0, normals.length), ...t.rows.filter((r) => r['split'] === 'val').slice(0, 200)];
    const manifest = join(dir, 'subset.csv');
    writeFileSync(manifest, 'path,label,split\n' + rows.map((r) => `${join(data, r['path']!)},${r['label']},${r['split']}`).join('\n') + '\n');
    const { dataset } = await loadOrIngest(manifest, { imageSize: 28 });
    const clf = new ImageClassifier({ imageSize: 28, epochs: 1, positive: 'pneumonia', seed: 1, threads: 2, augment: false, lr: 0.005 });
    await clf.fit(dataset);
    const r = clf.result!;
    assert.ok(r.validation.auroc! > 0.8, `val AUROC ${r.validation.auroc}`);
    const probs = await clf.predictProba(dataset);
    const val = dataset.manifest.records.map((rec, i) => ({ rec, i })).filter((x) => x.rec.split === 'val');
    const a = auroc(val.map((x) => probs[x.i * 2 + 1]!), val.map((x) => (x.rec.label === 'pneumonia' ? 1 : 0)));
    assert.ok(Math.abs(a - r.validation.auroc!) < 1e-6, `predictProba AUROC ${a} equals the training-time validation AUROC`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
