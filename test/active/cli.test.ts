/**
 * `radml active select` on a small trained model (queue order checked against the scores it
 * writes; the feature → linear-head path against model.onnx's own logits), and `radml active
 * simulate` end to end on a tiny synthetic cohort (labels hidden until acquired, active.json shape).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { activeResultSchema, headLogits, linearHead, roundDataset, simulationRows } from '../../src/active/index.js';
import { loadOrIngest } from '../../src/data/ingest/index.js';
import { loadModel } from '../../src/predict/index.js';
import { prepareBatch } from '../../src/train/input.js';
import { pixelsAtSize } from '../../src/train/trainer.js';
import { readCsv } from '../../src/util/csv.js';
import { tempDir, writeCategoricalCohort } from '../train/helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

const dir = tempDir('radml-active-');
const cohort = writeCategoricalCohort(join(dir, 'data'), { n: 100, size: 16, split: true });

test('active select: entropy queue is in entropy order of its own scores; coreset and bald run; costs and budget apply', async () => {
  const model = join(dir, 'model');
  const t = capture();
  assert.equal(await main(['train', '--data', cohort, '--out', model, '--epochs', '2', '--image-size', '16', '--width', '4', '--threads', '1', '--dropout', '0.3'], t.io), 0, t.err.join('\n'));
  // The pool: the cohort with labels blanked for the train rows, and a label source column.
  const lines = readFileSync(cohort, 'utf8').trim().split('\n');
  let pool = join(dir, 'data', 'pool.csv');
  const body = lines.slice(1).map((l, i) => { const c = l.split(','); return [c[0], c[3] === 'val' ? c[1] : '', c[2], c[3], i % 3 ? 'report' : 'expert'].join(','); });
  await import('node:fs').then((fs) => fs.writeFileSync(pool, ['path,label,patient_id,split,source', ...body].join('\n') + '\n'));
  const unlabelled = body.filter((l) => l.split(',')[1] === '').length;
  const sourceOf = new Map(body.map((l) => [l.split(',')[0]!, l.split(',')[4]!]));
  // Decode the pool once (a dataset folder), as a user would for repeated queues.
  const poolCsv = pool;
  pool = join(dir, 'pool-ds');
  assert.equal(await main(['ingest', poolCsv, '-o', pool, '--image-size', '16'], capture().io), 0);

  const q = join(dir, 'queue.csv');
  const c = capture();
  assert.equal(await main(['active', 'select', '--model', model, '--pool', pool, '--n', '10', '--strategy', 'entropy', '--out', q, '--threads', '1'], c.io), 0, c.err.join('\n'));
  const tab = readCsv(q);
  assert.equal(tab.rows.length, 10);
  assert.deepEqual(tab.header.slice(0, 4), ['rank', 'path', 'patient_id', 'strategy']);
  // Independent check: binary entropy of the written scores is non-increasing down the queue.
  const xl = (v: number) => (v > 1e-12 ? v * Math.log(v) : 0);
  const hb = (p: number) => -(xl(p) + xl(1 - p));
  const h = tab.rows.map((r) => hb(Number(r['score_abnormal'])));
  for (let i = 1; i < h.length; i++) assert.ok(h[i]! <= h[i - 1]! + 1e-5, `rank ${i + 1} entropy ${h[i]} > ${h[i - 1]}`);
  tab.rows.forEach((r, i) => assert.ok(Math.abs(Number(r['value']) - h[i]!) < 1e-4, `value ${r['value']} vs entropy of the scores ${h[i]}`));
  assert.match(tab.rows[0]!['reason']!, /uncertain prediction: entropy/);
  const labelledPaths = new Set(body.filter((l) => l.split(',')[1] !== '').map((l) => l.split(',')[0]));
  assert.ok(tab.rows.every((r) => !labelledPaths.has(r['path']!.replace(/^.*img\//, 'img/'))), 'rows that already have a label are not queued');
  assert.ok(c.out.some((l) => /labelled.*not queued|already have a label/.test(l)), c.out.join('\n'));

  for (const s of ['coreset', 'badge', 'bald']) {
    const o = capture();
    assert.equal(await main(['active', 'select', '--model', model, '--pool', pool, '--n', '5', '--strategy', s, '--out', join(dir, `${s}.csv`), '--threads', '1', '--samples', '5'], o.io), 0, o.err.join('\n'));
    const rows = readCsv(join(dir, `${s}.csv`)).rows;
    assert.equal(rows.length, 5);
    assert.equal(new Set(rows.map((r) => r['path'])).size, 5);
    if (s === 'bald') assert.ok(o.out.some((l) => /MC-dropout passes \(p = 0\.3/.test(l)), o.out.join('\n'));
  }
  const b = capture();
  assert.equal(await main(['active', 'select', '--model', model, '--pool', pool, '--n', '100', '--strategy', 'margin', '--cost-column', 'source', '--costs', 'report=1,expert=10', '--budget', '25', '--out', join(dir, 'cost.csv'), '--threads', '1'], b.io), 0, b.err.join('\n'));
  const cost = readCsv(join(dir, 'cost.csv')).rows;
  const spent = cost.reduce((s, r) => s + Number(r['cost']), 0);
  assert.ok(spent <= 25 && cost.length >= 3 && cost.length < unlabelled, `spent ${spent} on ${cost.length}`);
  assert.deepEqual(cost.map((r) => Number(r['cost'])), cost.map((r) => (sourceOf.get(r['path']!.replace(/^.*img\//, 'img/')) === 'expert' ? 10 : 1)), 'each case carries its source\'s cost');
  const bad = capture();
  assert.equal(await main(['active', 'select', '--model', model, '--pool', pool, '--strategy', 'entropi', '--out', join(dir, 'x.csv')], bad.io), 2);
  assert.match(bad.err.join('\n'), /did you mean entropy/);

  // The features → linear head path reproduces model.onnx's logits exactly (within float error).
  const p = await loadModel(model, { threads: 1 });
  try {
    const { dataset } = await loadOrIngest(cohort, { imageSize: 16 });
    const x = new Float32Array(8 * 256);
    prepareBatch({ size: 16, preprocessing: p.preprocessing, augmentation: null, channels: 1 }, pixelsAtSize(dataset, 16), [0, 1, 2, 3, 4, 5, 6, 7], x);
    const head = linearHead(p.gradient!.graph, p.gradient!.params)!;
    assert.equal(head.dropout, 0.3);
    const mine = headLogits(head, (await p.gradient!.features(x, 8)).features, 8);
    const theirs = await p.rawScores(x, 8);
    for (let i = 0; i < mine.length; i++) assert.ok(Math.abs(mine[i]! - theirs[i]!) < 1e-4, `${mine[i]} vs ${theirs[i]}`);
  } finally {
    await p.release();
  }
});

test('active simulate: hidden labels, one curve per strategy with CIs, active.json in the issue\'s shape', async () => {
  const { dataset } = await loadOrIngest(cohort, { imageSize: 16 });
  const rows = simulationRows(dataset);
  const acquired = new Set(rows.pool.slice(0, 5));
  const rd = roundDataset(dataset, acquired, new Set(rows.validation));
  for (const r of rd.manifest.records) {
    if (acquired.has(r.index)) assert.equal(r.split, 'train');
    else if (rows.validation.includes(r.index)) assert.equal(r.split, 'val');
    else {
      assert.equal(r.label, undefined, 'a hidden row carries no label');
      assert.equal(r.columns['label'], '');
      assert.equal(r.split, 'test');
    }
  }
  assert.equal(rows.validation.filter((i) => rows.evaluation.includes(i)).length, 0, 'validation and evaluation do not overlap');

  const out = join(dir, 'sim');
  const c = capture();
  assert.equal(await main(['active', 'simulate', '--data', cohort, '--initial', '10', '--batch', '10', '--rounds', '1', '--strategies', 'badge', '--seeds', '2',
    '--epochs', '2', '--width', '4', '--image-size', '16', '--threads', '1', '--out', out], c.io), 0, c.err.join('\n'));
  const json = JSON.parse(readFileSync(join(out, 'active.json'), 'utf8'));
  activeResultSchema.parse(json);
  assert.deepEqual(Object.keys(json.strategies).sort(), ['badge', 'random']);
  for (const s of Object.values(json.strategies) as { labels: number[]; auroc_mean: number[]; auroc_ci95: [number, number][] }[]) {
    assert.deepEqual(Object.keys(s).sort(), ['auroc_ci95', 'auroc_mean', 'labels']);
    assert.deepEqual(s.labels, [10, 20]);
    s.auroc_mean.forEach((m, i) => assert.ok(s.auroc_ci95[i]![0] <= m + 1e-12 && m <= s.auroc_ci95[i]![1] + 1e-12));
  }
  // Both strategies start from the same initial model per seed.
  assert.deepEqual(json.per_seed.badge.map((x: { auroc: number[] }) => x.auroc[0]), json.per_seed.random.map((x: { auroc: number[] }) => x.auroc[0]));
  const html = readFileSync(join(out, 'active.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.ok(!/NaN/.test(html));
});

test('learning-curve: nested subsets, a fit with intervals, labels-for-target flagged as extrapolation', async () => {
  const out = join(dir, 'lc');
  const c = capture();
  assert.equal(await main(['learning-curve', '--data', cohort, '--fractions', '0.25,0.5,0.75,1', '--fit-max', '0.75', '--seeds', '2', '--target', '0.99',
    '--epochs', '1', '--width', '4', '--image-size', '16', '--threads', '1', '--out', out], c.io), 0, c.err.join('\n'));
  const r = JSON.parse(readFileSync(join(out, 'learning-curve.json'), 'utf8'));
  assert.equal(r.measured.length, 4);
  assert.deepEqual(r.measured.map((m: { fitted: boolean }) => m.fitted), [true, true, true, false]);
  assert.equal(r.extrapolation_checks.length, 1, 'the unfitted largest size checks the extrapolation');
  assert.ok(r.fit.a <= 1 && r.fit.b >= 0 && r.fit.c > 0);
  for (const p of r.predictions) assert.ok(p.ci95[0] <= p.auroc + 1e-9 && p.auroc <= p.ci95[1] + 1e-9);
  assert.equal(r.labels_for[0].extrapolation, true);
  assert.match(readFileSync(join(out, 'learning-curve.html'), 'utf8'), /extrapolation/);
  const bad = capture();
  assert.equal(await main(['learning-curve', '--data', cohort, '--fractions', '0.5,1', '--out', join(dir, 'lc2')], bad.io), 2);
  assert.match(bad.err.join('\n'), /at least 3 different fractions/);
});

test('active select on a multi-label model: BADGE and max-entropy over findings, every labelled row ranked with --include-labelled', async () => {
  const { writeMultilabelCohort } = await import('../train/helpers.js');
  const mdir = join(dir, 'ml');
  const manifest = writeMultilabelCohort(join(mdir, 'data'), { n: 40, size: 16 });
  const model = join(mdir, 'model');
  const t = capture();
  assert.equal(await main(['train', '--data', manifest, '--out', model, '--epochs', '1', '--image-size', '16', '--width', '4', '--threads', '1'], t.io), 0, t.err.join('\n'));
  for (const [s, extra] of [['badge', []], ['entropy', ['--aggregate', 'max']]] as const) {
    const q = join(mdir, `${s}.csv`);
    const c = capture();
    assert.equal(await main(['active', 'select', '--model', model, '--pool', manifest, '--n', '8', '--strategy', s, ...extra, '--include-labelled', '--out', q, '--threads', '1'], c.io), 0, c.err.join('\n'));
    const rows = readCsv(q).rows;
    assert.equal(rows.length, 8);
    assert.ok('score_left' in rows[0]! && 'score_right' in rows[0]!);
    if (s === 'entropy') {
      const xl = (v: number) => (v > 1e-12 ? v * Math.log(v) : 0);
      const hb = (p: number) => -(xl(p) + xl(1 - p));
      rows.forEach((r) => assert.ok(Math.abs(Number(r['value']) - Math.max(hb(Number(r['score_left'])), hb(Number(r['score_right'])))) < 1e-4));
    }
  }
});
