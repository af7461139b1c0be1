import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedBce, parseUncertaintyPolicy, policyTargets, policyTargetsMatrix } from '../../src/labels/uncertainty.js';
import { Rng } from '../../src/util/rng.js';

const vals = [1, 0, -1, null] as const;
const arr = (x: Float32Array) => Array.from(x, (v) => Math.round(v * 1e6) / 1e6);

test('U-ignore, U-zeros, U-ones', () => {
  let r = policyTargets(vals, parseUncertaintyPolicy('u-ignore'));
  assert.deepEqual(arr(r.target), [1, 0, 0, 0]);
  assert.deepEqual(arr(r.mask), [1, 1, 0, 1]);
  r = policyTargets(vals, parseUncertaintyPolicy('u-zeros'));
  assert.deepEqual([arr(r.target), arr(r.mask)], [[1, 0, 0, 0], [1, 1, 1, 1]]);
  r = policyTargets(vals, parseUncertaintyPolicy('u-ones'));
  assert.deepEqual([arr(r.target), arr(r.mask)], [[1, 0, 1, 0], [1, 1, 1, 1]]);
  r = policyTargets(vals, parseUncertaintyPolicy('u-ones+blank=ignore'));
  assert.deepEqual(arr(r.mask), [1, 1, 1, 0]);
});

test('LSR: seeded uniform draws within bounds, fixed value, epsilon smoothing', () => {
  const many = new Array(1000).fill(-1);
  const p = parseUncertaintyPolicy('u-lsr');
  const a = policyTargets(many, p, new Rng(1));
  const b = policyTargets(many, p, new Rng(1));
  assert.deepEqual(a.target, b.target);
  const min = Math.min(...a.target);
  const max = Math.max(...a.target);
  const mean = a.target.reduce((s, x) => s + x, 0) / a.target.length;
  assert.ok(min >= 0.55 - 1e-6 && max <= 0.85 + 1e-6 && Math.abs(mean - 0.7) < 0.02, `${min} ${max} ${mean}`);
  assert.throws(() => policyTargets([-1], p), /seeded rng/);
  assert.deepEqual(arr(policyTargets([-1], parseUncertaintyPolicy('u-lsr:0.7')).target), [0.7]);
  const lo = parseUncertaintyPolicy('u-lsr:0.1,0.3');
  assert.equal(lo.kind === 'u-lsr' && lo.low, 0.1);
  const e = policyTargets([1, 0, -1], parseUncertaintyPolicy('u-zeros+eps=0.1'));
  assert.deepEqual(arr(e.target), [0.95, 0.05, 0.05]);
});

test('soft labels pass through; hard policies round soft labels', () => {
  const r = policyTargets([0.25, 1, -1, 0.8], parseUncertaintyPolicy('soft'));
  assert.deepEqual(arr(r.target), [0.25, 1, 0, 0.8]);
  assert.deepEqual(arr(r.mask), [1, 1, 0, 1]);
  assert.deepEqual(arr(policyTargets([0.25, 0.8], parseUncertaintyPolicy('u-ones')).target), [0, 1]);
  assert.throws(() => policyTargets([2], parseUncertaintyPolicy('soft')), /not 1\/0\/-1/);
});

test('policy schema: objects, shorthand and clear errors', () => {
  assert.deepEqual(parseUncertaintyPolicy({ kind: 'u-ones' }), { kind: 'u-ones', blank: 'negative', epsilon: 0 });
  assert.throws(() => parseUncertaintyPolicy('u-twos'), /not valid/);
  assert.throws(() => parseUncertaintyPolicy('u-lsr:0.9,0.1'), /low must not exceed high/);
  assert.throws(() => parseUncertaintyPolicy('u-ones+eps=0.9'), /not valid/);
});

test('matrix form and masked BCE: masked entries do not contribute', () => {
  const m = policyTargetsMatrix([[1, -1], [0, null]], parseUncertaintyPolicy('u-ignore'));
  assert.deepEqual(arr(m.mask), [1, 0, 1, 1]);
  const probs = [0.9, 0.01, 0.2, 0.3];
  const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.7)) / 3;
  assert.ok(Math.abs(maskedBce(probs, m) - expected) < 1e-6);
  // Changing a masked prediction changes nothing.
  assert.equal(maskedBce([0.9, 0.99, 0.2, 0.3], m), maskedBce(probs, m));
});
