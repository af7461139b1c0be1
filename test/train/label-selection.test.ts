/**
 * Which labels training learns (src/train/build-targets.ts, src/data/manifest.ts): an asked-for
 * label column or finding list wins over a column called `label`, a dataset is read with the labels
 * ingest recorded, --positive with more classes trains one-vs-rest, defaults are told, and a
 * validation split too small to judge a class is warned about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest } from '../../src/data/manifest.js';
import { readDataset } from '../../src/data/dataset.js';
import { buildTargets, selectTrainingLabels, validationWarnings } from '../../src/train/build-targets.js';
import { chooseValidation } from '../../src/train/split.js';
import { parseTrainOptions } from '../../src/train/options.js';
import { main } from '../../src/cli/main.js';
import { tempDir, writeCategoricalCohort } from './helpers.js';

const metaOf = (m: ReturnType<typeof parseManifest>) => ({ manifest: m, meta: { labelKind: m.labelKind, classes: m.classes, ...(m.labelColumn && { labelColumn: m.labelColumn }) } });

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

const CSV = [
  'path,label,covid19,effusion,patient_id',
  'a.png,ARDS,no,1,P1',
  'b.png,COVID-19,yes,0,P2',
  'c.png,No Finding,no,0,P3',
  'd.png,COVID-19,yes,1,P4',
  'e.png,Pneumocystis,no,,P5',
  'f.png,COVID-19,yes,0,P6',
].join('\n');

test('a `label` column wins only when nothing else is asked for; what is left unused is told', () => {
  const byDefault = parseManifest(CSV, 'm.csv');
  assert.equal(byDefault.labelKind, 'categorical');
  assert.equal(byDefault.labelColumn, 'label');
  assert.deepEqual(byDefault.classes, ['ARDS', 'COVID-19', 'No Finding', 'Pneumocystis']);
  assert.ok(byDefault.notes?.some((n) => n.includes('effusion') && n.includes('not used')), String(byDefault.notes));

  const asColumn = parseManifest(CSV, 'm.csv', { labelColumn: 'covid19' });
  assert.deepEqual(asColumn.classes, ['no', 'yes']);
  assert.equal(asColumn.records[1]!.label, 'yes');

  const asFindings = parseManifest(CSV, 'm.csv', { findings: ['effusion'] });
  assert.equal(asFindings.labelKind, 'multilabel');
  assert.deepEqual(asFindings.records.map((r) => r.findings!['effusion']), [1, 0, 0, 1, null, 0]);
  assert.ok(asFindings.notes?.some((n) => n.includes('"label" column is not used')));

  assert.throws(() => parseManifest(CSV, 'm.csv', { labelColumn: 'covid' }), /label column not found.*did you mean "covid19"/s);
  assert.throws(() => parseManifest(CSV, 'm.csv', { labelColumn: 'covid19', findings: ['effusion'] }), /not both/);
});

test('a misspelled label column is named instead of silently giving unlabelled data', () => {
  const m = parseManifest('path,Lable,patient_id\na.png,x,P1\nb.png,y,P2\n', 'm.csv');
  assert.equal(m.labelKind, 'none');
  assert.match(m.notes!.join('\n'), /"Lable" looks like a label: give --label-column Lable/);
  assert.throws(() => buildTargets(m, m.labelKind, parseTrainOptions({ threads: 1 })), /no labels to train on.*--label-column Lable/s);
});

test('--positive with more than two classes trains that class against the rest', () => {
  const m = parseManifest(CSV, 'm.csv');
  const sel = selectTrainingLabels(metaOf(m), { positive: 'COVID-19' });
  assert.deepEqual(sel.manifest.classes, ['not_COVID-19', 'COVID-19']);
  assert.equal(sel.positive, 'COVID-19');
  assert.deepEqual(sel.manifest.records.map((r) => r.label), ['not_COVID-19', 'COVID-19', 'not_COVID-19', 'COVID-19', 'not_COVID-19', 'COVID-19']);
  assert.match(sel.notes.join('\n'), /one-vs-rest: "COVID-19" \(3 images\) against the 3 other classes \(ARDS, No Finding, Pneumocystis; 3 images\)/);
  const t = buildTargets(sel.manifest, sel.labelKind, { ...parseTrainOptions({ threads: 1 }), positive: sel.positive });
  assert.equal(t.positiveIndex, 1);
  // One-hot rows: [rest, positive].
  assert.deepEqual([...t.target], [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
  // The original column is kept verbatim for predictions and evaluation.
  assert.equal(sel.manifest.records[0]!.columns['label'], 'ARDS');

  assert.throws(() => selectTrainingLabels(metaOf(m), { positive: 'covid-19' }), /not one of the classes.*did you mean "COVID-19"/s);
  // Without --positive, several classes train together and the note says how to do one-vs-rest.
  assert.match(selectTrainingLabels(metaOf(m), {}).notes.join('\n'), /4 classes .* give --positive <class>/);
});

test('a positive class chosen by default is named, and is not the "normal"-like one', () => {
  const m = parseManifest('path,label\na.png,COVID-19\nb.png,No Finding\nc.png,COVID-19\n', 'm.csv');
  const sel = selectTrainingLabels(metaOf(m), {});
  // Sorted order would make "No Finding" the positive; it reads as the negative class.
  assert.equal(sel.positive, 'COVID-19');
  assert.match(sel.notes.join('\n'), /positive class: "COVID-19" \(2 images\) against "No Finding" — chosen by default/);
  const plain = parseManifest('path,label\na.png,cat\nb.png,dog\n', 'm.csv');
  assert.equal(selectTrainingLabels(metaOf(plain), {}).positive, 'dog');
  assert.match(selectTrainingLabels(metaOf(plain), {}).notes.join('\n'), /second class in sorted order/);
  assert.equal(selectTrainingLabels(metaOf(plain), { positive: 'cat' }).notes.length, 0);
});

test('a validation split with too few of a class is warned about, per class and per finding', () => {
  const lines = ['path,label,patient_id,split'];
  for (let i = 0; i < 30; i++) lines.push(`i${i}.png,${i < 24 ? 'covid' : 'normal'},P${i},${i % 3 === 0 ? 'val' : 'train'}`);
  const m = parseManifest(lines.join('\n'), 'm.csv');
  const t = buildTargets(m, m.labelKind, parseTrainOptions({ threads: 1 }));
  const split = chooseValidation(m.records, t, { seed: 1, valFraction: 0.15 });
  // val rows: 0,3,…,27 → 8 covid (0..21) and 2 normal (24, 27).
  const w = validationWarnings(t, split);
  assert.equal(w.length, 1);
  assert.match(w[0]!, /validation split \(10 images\) has only 2 "normal" image\(s\)/);
  assert.match(w[0]!, /manifest's val split/);

  const ml = ['path,left,right,split'];
  for (let i = 0; i < 40; i++) ml.push(`i${i}.png,${i % 2},${i === 0 ? 1 : 0},${i % 4 === 0 ? 'val' : 'train'}`);
  const mm = parseManifest(ml.join('\n'), 'm.csv');
  const mt = buildTargets(mm, mm.labelKind, parseTrainOptions({ threads: 1 }));
  const mw = validationWarnings(mt, chooseValidation(mm.records, mt, { seed: 1, valFraction: 0.15 }));
  // val = every 4th row: left is 0 for all of them (i even → 0), right positive only at i = 0.
  assert.equal(mw.length, 1);
  assert.match(mw[0]!, /left \(0 positive, 10 negative\), right \(1 positive, 9 negative\)/);
  // Five of each in validation (and both classes in training): nothing to warn about.
  const even = ['path,label,split'];
  for (let i = 0; i < 20; i++) even.push(`i${i}.png,${i % 2 ? 'covid' : 'normal'},${i < 10 ? 'val' : 'train'}`);
  const em = parseManifest(even.join('\n'), 'm.csv');
  const et = buildTargets(em, em.labelKind, parseTrainOptions({ threads: 1 }));
  assert.deepEqual(validationWarnings(et, chooseValidation(em.records, et, { seed: 1, valFraction: 0.15 })), []);
});

test('ingest --label-column is recorded in dataset.json and train uses it; train --label-column overrides it', async () => {
  const dir = tempDir('radml-labels-');
  const manifest = writeCategoricalCohort(dir, { n: 32, size: 16, split: true });
  // Add a 4-class `label` the user does not want, and the binary column they do.
  const rows = readFileSync(manifest, 'utf8').trim().split('\n');
  const kinds = ['ARDS', 'COVID-19', 'No Finding', 'Pneumocystis'];
  const out = ['path,label,covid19,patient_id,split'];
  rows.slice(1).forEach((l, i) => {
    const [p, lab, pid, split] = l.split(',');
    out.push([p, kinds[i % 4], lab === 'abnormal' ? 'yes' : 'no', pid, split].join(','));
  });
  writeFileSync(manifest, out.join('\n') + '\n');

  const ds = join(dir, 'ds');
  const ing = capture();
  assert.equal(await main(['ingest', manifest, '-o', ds, '--label-column', 'covid19', '--image-size', '16'], ing.io), 0, ing.err.join('\n'));
  const meta = JSON.parse(readFileSync(join(ds, 'dataset.json'), 'utf8')) as { labelColumn?: string; classes: string[] };
  assert.equal(meta.labelColumn, 'covid19');
  assert.deepEqual(meta.classes, ['no', 'yes']);
  assert.deepEqual(readDataset(ds).manifest.classes, ['no', 'yes']);

  const tr = capture();
  const model = join(dir, 'model');
  assert.equal(await main(['train', '--data', ds, '-o', model, '--epochs', '1', '--image-size', '16', '--threads', '1', '--batch', '8'], tr.io), 0, tr.err.join('\n'));
  const mj = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as { classes: string[]; positiveClass: string };
  assert.deepEqual(mj.classes, ['no', 'yes']);
  assert.equal(mj.positiveClass, 'yes');
  assert.match(tr.err.join('\n'), /positive class: "yes" .* chosen by default because "no" reads as the negative class/);

  // Asking for the 4-class column at train time overrides the dataset, one-vs-rest with --positive, and says so.
  const tr2 = capture();
  const model2 = join(dir, 'model2');
  assert.equal(await main(['train', '--data', ds, '-o', model2, '--label-column', 'label', '--positive', 'COVID-19', '--epochs', '1', '--image-size', '16', '--threads', '1', '--batch', '8'], tr2.io), 0, tr2.err.join('\n'));
  const mj2 = JSON.parse(readFileSync(join(model2, 'model.json'), 'utf8')) as { classes: string[]; positiveClass: string };
  assert.deepEqual(mj2.classes, ['not_COVID-19', 'COVID-19']);
  assert.equal(mj2.positiveClass, 'COVID-19');
  assert.match(tr2.err.join('\n'), /prepared with label column "covid19"; training on label column "label" as asked/);
  assert.match(tr2.err.join('\n'), /one-vs-rest: "COVID-19" \(8 images\)/);

  // A wrong --positive fails before any training, with the class it meant.
  const bad = capture();
  assert.equal(await main(['train', '--data', ds, '-o', join(dir, 'm3'), '--positive', 'Yes'], bad.io), 2);
  assert.match(bad.err.join('\n'), /--positive "Yes" is not one of the classes in column "covid19" \(no, yes\) \(did you mean "yes"\?\)/);
  assert.doesNotMatch(bad.err.join('\n'), /training cnn/);
});
