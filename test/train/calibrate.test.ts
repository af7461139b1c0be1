/**
 * The training-time calibration: which map each class gets (Platt / isotonic / none), Platt's
 * parameters against scikit-learn's unpenalised logistic regression on logit(p), the two-class
 * complement, and applying the stored maps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { applyModelCalibration, fitModelCalibration, ISOTONIC_MIN_PER_OUTCOME } from '../../src/train/calibrate.js';
import { recalibrate } from '../../src/evaluate/calibration.js';
import { Rng } from '../../src/util/rng.js';

const sklearn = spawnSync('python3', ['-c', 'import sklearn, numpy'], { encoding: 'utf8' }).status === 0;

/** Over-confident, shifted scores (what balanced class weights produce) for `n` rows and K findings. */
function cohort(n: number, prevalence: number[], seed: number) {
  const rng = new Rng(seed);
  const k = prevalence.length;
  const target = new Float32Array(n * k), mask = new Float32Array(n * k).fill(1), probabilities = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) {
    const y = rng.random() < prevalence[j]! ? 1 : 0;
    target[i * k + j] = y;
    const z = 2.2 * (y ? 1 : -1) + 1.5 + rng.normal(0, 1.6);
    probabilities[i * k + j] = 1 / (1 + Math.exp(-z));
  }
  return { rows: Array.from({ length: n }, (_, i) => i), target, mask, probabilities };
}

test('per-class maps: Platt (matches scikit-learn), isotonic with many cases, identity with too few', { skip: sklearn ? false : 'needs scikit-learn in python3' }, () => {
  const n = 600;
  const v = cohort(n, [0.15, 0.5, 0.001], 3);
  const cal = fitModelCalibration({ classes: ['a', 'b', 'rare'], labelKind: 'multilabel', positiveIndex: null, ...v });
  assert.equal(cal.classes.a!.map.method, 'platt');
  assert.equal(cal.classes.b!.map.method, 'isotonic', `b has ≥ ${ISOTONIC_MIN_PER_OUTCOME} of each outcome`);
  assert.equal(cal.classes.rare!.map.method, 'none');
  assert.match(cal.classes.rare!.note!, /at least 5 of each/);
  assert.equal(cal.complement, null);
  const k = 3;
  const p = v.rows.map((i) => v.probabilities[i * k]!), y = v.rows.map((i) => v.target[i * k]!);
  const code = `
import json, sys, numpy as np
from sklearn.linear_model import LogisticRegression
j = json.load(sys.stdin)
p = np.clip(np.array(j['p']), 1e-15, 1 - 1e-15)
x = np.log(p / (1 - p)).reshape(-1, 1)
m = LogisticRegression(C=1e12, tol=1e-12, max_iter=10000).fit(x, np.array(j['y']))
print(json.dumps([float(m.intercept_[0]), float(m.coef_[0][0])]))`;
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify({ p, y }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [a, b] = JSON.parse(r.stdout) as [number, number];
  const m = cal.classes.a!.map;
  assert.ok(m.method === 'platt');
  assert.ok(Math.abs(m.a - a) < 1e-4 * (1 + Math.abs(a)) && Math.abs(m.b - b) < 1e-4 * (1 + Math.abs(b)), `Platt (${m.a}, ${m.b}) vs scikit-learn (${a}, ${b})`);
  // Applying: each class through its own map, the rare one unchanged; the shifted scores come down.
  const out = applyModelCalibration(cal, ['a', 'b', 'rare'], v.probabilities, n);
  for (const i of [0, 7, 99]) {
    assert.ok(Math.abs(out[i * k]! - recalibrate(m, v.probabilities[i * k]!)) < 1e-6);
    assert.equal(out[i * k + 2], v.probabilities[i * k + 2]);
  }
  const meanRaw = p.reduce((s, q) => s + q, 0) / n, meanCal = v.rows.reduce((s, i) => s + out[i * k]!, 0) / n, rate = y.reduce((s, q) => s + q, 0) / n;
  assert.ok(meanRaw - rate > 0.2 && Math.abs(meanCal - rate) < 0.02, `mean score ${meanRaw.toFixed(3)} → ${meanCal.toFixed(3)}, observed ${rate.toFixed(3)}`);
});

test('two-class categorical models: the positive class is fitted, the other is its complement', () => {
  const n = 300;
  const rng = new Rng(5);
  const target = new Float32Array(n * 2), mask = new Float32Array(n * 2).fill(1), probabilities = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const y = rng.random() < 0.2 ? 1 : 0;
    target[i * 2 + 1] = y; target[i * 2] = 1 - y;
    const p = 1 / (1 + Math.exp(-(2 * (y ? 1 : -1) + 1 + rng.normal(0, 1.5))));
    probabilities[i * 2 + 1] = p; probabilities[i * 2] = 1 - p;
  }
  const cal = fitModelCalibration({ classes: ['normal', 'pneumonia'], labelKind: 'categorical', positiveIndex: 1, rows: [...Array(n).keys()], target, mask, probabilities });
  assert.deepEqual(Object.keys(cal.classes), ['pneumonia']);
  assert.deepEqual(cal.complement, { class: 'normal', of: 'pneumonia' });
  const out = applyModelCalibration(cal, ['normal', 'pneumonia'], probabilities, n);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(out[i * 2]! + out[i * 2 + 1]! - 1) < 1e-6);
  assert.ok(out.some((v, i) => Math.abs(v - probabilities[i]!) > 0.05), 'scores changed');
  assert.equal(applyModelCalibration(undefined, ['normal', 'pneumonia'], probabilities, n), probabilities);
});
