import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { auroc, meanColumnAuroc } from '../../src/train/auroc.js';
import { balancedSampleProbabilities, classCounts, classWeights, epochOrder, positiveWeights } from '../../src/train/sampling.js';
import { pack, unpack } from '../../src/train/pack.js';
import { Rng } from '../../src/util/rng.js';

test('auto class weights follow scikit-learn "balanced": n / (classes × count), weighted totals equal', () => {
  const labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const w = classWeights(labels, 2, 'auto');
  assert.ok(Math.abs(w[0]! - 10 / 18) < 1e-12);
  assert.ok(Math.abs(w[1]! - 5) < 1e-12);
  const counts = classCounts(labels, 2);
  assert.ok(Math.abs(counts[0]! * w[0]! - counts[1]! * w[1]!) < 1e-9);
  // Mean weight over the training set is 1, so the loss scale matches the unweighted one.
  assert.ok(Math.abs(labels.reduce((s, l) => s + w[l]!, 0) / labels.length - 1) < 1e-12);
  assert.deepEqual(classWeights(labels, 2, 'none'), [1, 1]);
  // An absent class gets weight 0 and does not distort the others.
  assert.deepEqual(classWeights([0, 0, 2, 2], 3, 'auto'), [1, 0, 1]);
  const oracle = execFileSync('python3', ['-c', `
from sklearn.utils.class_weight import compute_class_weight
import numpy as np
y=np.array([0,0,0,1,1,2,0,1,0,0,2])
print(','.join(repr(float(v)) for v in compute_class_weight('balanced', classes=np.array([0,1,2]), y=y)))`], { encoding: 'utf8' });
  const mine = classWeights([0, 0, 0, 1, 1, 2, 0, 1, 0, 0, 2], 3, 'auto');
  oracle.trim().split(',').map(Number).forEach((v, i) => assert.ok(Math.abs(v - mine[i]!) < 1e-12, `class ${i}: ${v} vs ${mine[i]}`));
});

test('balanced sampler draws each class equally often, uniformly within a class; none is a permutation', () => {
  const labels = [...new Array<number>(90).fill(1), ...new Array<number>(10).fill(0)];
  const p = balancedSampleProbabilities(labels, 2);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(p[0]! - 1 / 180) < 1e-15 && Math.abs(p[95]! - 1 / 20) < 1e-15);
  const rng = new Rng(4);
  const hits = new Array<number>(100).fill(0);
  let minority = 0;
  const epochs = 200;
  for (let e = 0; e < epochs; e++) {
    const order = epochOrder(labels, 2, 'balanced', rng);
    assert.equal(order.length, 100);
    for (const i of order) {
      hits[i]!++;
      if (labels[i] === 0) minority++;
    }
  }
  const frac = minority / (100 * epochs);
  assert.ok(Math.abs(frac - 0.5) < 0.02, `minority fraction ${frac}`);
  // Within the minority class each example is drawn about 1/20 of the time.
  const expected = (100 * epochs) / 20;
  for (let i = 90; i < 100; i++) assert.ok(Math.abs(hits[i]! - expected) < 0.2 * expected, `example ${i}: ${hits[i]} vs ${expected}`);
  const perm = epochOrder(labels, 2, 'none', new Rng(1));
  assert.deepEqual([...perm].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  // Unlabelled examples (-1) are never drawn by the balanced sampler.
  assert.ok(epochOrder([0, -1, 1, -1], 2, 'balanced', new Rng(2)).every((i) => i === 0 || i === 2));
});

test('multi-label positive weights are negatives / positives over counted labels, clipped', () => {
  // 2 findings × 5 rows; second finding's blanks are masked.
  const t = Float32Array.from([1, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
  const m = Float32Array.from([1, 1, 1, 0, 1, 1, 1, 0, 1, 1]);
  const w = positiveWeights(t, m, 5, 2, 'auto');
  assert.ok(Math.abs(w[0]! - 4 / 1) < 1e-12);
  assert.ok(Math.abs(w[1]! - 1 / 2) < 1e-12);
  assert.deepEqual(positiveWeights(t, m, 5, 2, 'none'), [1, 1]);
  assert.equal(positiveWeights(Float32Array.from([1, 0, 0]), Float32Array.from([1, 1, 1]), 3, 1, 'auto', 1.5)[0], 1.5);
});

test('rank AUROC matches scikit-learn, including ties', () => {
  const rng = new Rng(3);
  const scores = Array.from({ length: 200 }, () => Math.round(rng.random() * 20) / 20);
  const labels = scores.map((s) => (rng.random() < 0.3 + 0.5 * s ? 1 : 0));
  const ref = Number(execFileSync('python3', ['-c', `
import sys, json
from sklearn.metrics import roc_auc_score
d=json.load(sys.stdin); print(repr(roc_auc_score(d['y'], d['s'])))`], { input: JSON.stringify({ y: labels, s: scores }), encoding: 'utf8' }));
  assert.ok(Math.abs(auroc(scores, labels) - ref) < 1e-12, `${auroc(scores, labels)} vs ${ref}`);
  assert.ok(Number.isNaN(auroc([0.1, 0.2], [1, 1])));
  const m = meanColumnAuroc(Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.7, 0.5]), Float32Array.from([1, 1, 0, 0, 1, 0]), Float32Array.from([1, 1, 1, 1, 1, 0]), 3, 2);
  assert.equal(m.perColumn[0], 1);
  assert.equal(m.perColumn[1], 0);
});

test('checkpoint container round-trips nested Float32Arrays and rejects damage', () => {
  const v = { a: 1, w: Float32Array.of(1.5, -2, 3e-8), list: [{ g: new Float32Array(0) }, { g: Float32Array.of(7) }], s: 'x' };
  const bytes = pack(v);
  assert.deepEqual(unpack(bytes), v);
  assert.throws(() => unpack(bytes.subarray(0, bytes.length - 3), 'ck.bin'), /ck\.bin: truncated/);
  assert.throws(() => unpack(new TextEncoder().encode('hello world!!'), 'ck.bin'), /not a radml training checkpoint/);
});
