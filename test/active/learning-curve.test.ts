/** Inverse power-law learning-curve fit against scipy.optimize.curve_fit, inverse queries, bootstrap interval, learning-curve stats helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { aulc, bootstrapLearningCurve, fitInversePowerLaw, labelsForAuroc, labelsToReach, meanCi, measurementInterval, predictPowerLaw } from '../../src/active/index.js';
import { Rng } from '../../src/util/rng.js';

const hasScipy = spawnSync('python3', ['-c', 'import scipy.optimize'], { encoding: 'utf8' }).status === 0;

test('the fit reaches the least-squares optimum scipy curve_fit finds', { skip: hasScipy ? false : 'scipy is not importable by python3' }, () => {
  const rng = new Rng(2);
  const n = [50, 100, 200, 400, 800, 1600];
  const y = n.map((v) => 0.95 - 0.9 * v ** -0.45 + rng.normal(0, 0.004));
  const mine = fitInversePowerLaw(n, y);
  const r = spawnSync('python3', ['-c', `
import json, sys, numpy as np
from scipy.optimize import curve_fit
d = json.load(sys.stdin)
f = lambda n, a, b, c: a - b * n ** (-c)
p, _ = curve_fit(f, np.array(d['n'], float), np.array(d['y'], float), p0=[0.9, 1.0, 0.5], maxfev=20000)
r = np.array(d['y']) - f(np.array(d['n'], float), *p)
print(json.dumps({'p': p.tolist(), 'sse': float((r ** 2).sum())}))`], { input: JSON.stringify({ n, y }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as { p: number[]; sse: number };
  assert.ok(mine.sse <= ref.sse * (1 + 1e-6) + 1e-12, `sse ${mine.sse} vs scipy ${ref.sse}`);
  assert.ok(Math.abs(mine.a - ref.p[0]!) < 2e-3 && Math.abs(mine.c - ref.p[2]!) < 2e-2, `${JSON.stringify(mine)} vs ${ref.p}`);
  // Inverse query is the inverse of the prediction.
  const need = labelsForAuroc(mine, 0.9)!;
  assert.ok(Math.abs(predictPowerLaw(mine, need) - 0.9) < 1e-9);
  assert.equal(labelsForAuroc(mine, mine.a + 0.01), null, 'beyond the asymptote: unreachable');
});

test('bootstrap over seeds: the interval covers the truth on a noiseless-in-mean curve and the asymptote stays ≤ 1', () => {
  const rng = new Rng(5);
  const sizes = [40, 80, 160, 320];
  const truth = (v: number) => 0.93 - 0.8 * v ** -0.5;
  const perSeed = sizes.map((v) => Array.from({ length: 4 }, () => truth(v) + rng.normal(0, 0.01)));
  const b = bootstrapLearningCurve(sizes, perSeed, { at: [640, 1280], targets: [0.88, 0.99], replicates: 200 });
  for (const p of b.predictions) assert.ok(p.ci95[0] <= p.auroc && p.auroc <= p.ci95[1]);
  assert.ok(b.predictions[0]!.ci95[0] < truth(640) + 0.02 && truth(640) - 0.02 < b.predictions[0]!.ci95[1]);
  assert.ok(b.fit.a <= 1);
  assert.equal(b.labelsFor[1]!.labels, null, '0.99 is above the asymptote');
  const y = [0.99, 1, 1, 1];
  assert.ok(fitInversePowerLaw([10, 20, 40, 80], y).a <= 1);
});

test('learning-curve summaries: t interval, normalised area, labels to reach by interpolation', () => {
  const m = meanCi([0.8, 0.82, 0.84]);
  // scipy.stats.t.ppf(0.975, 2) = 4.302653; sd = 0.02; half-width = 4.302653·0.02/√3.
  assert.ok(Math.abs(m.mean! - 0.82) < 1e-12);
  assert.ok(Math.abs(m.ci95![1] - (0.82 + (4.303 * 0.02) / Math.sqrt(3))) < 1e-4);
  assert.equal(meanCi([0.7]).ci95, null);
  assert.ok(Math.abs(aulc([50, 100, 150], [0.7, 0.8, 0.9]) - 0.8) < 1e-12);
  assert.equal(labelsToReach([50, 100, 150], [0.7, 0.8, 0.9], 0.75), 75);
  assert.equal(labelsToReach([50, 100], [0.7, 0.8], 0.95), null);
});

test('measurement interval: the fit half-width and the noise of a K-seed mean add in quadrature (hand computation)', () => {
  // Pooled SD: ss = 0.0002 + 0.0008 over df 2 → sd √0.0005; t(0.975, 2) = 4.303; K = 2.
  const h = Math.sqrt(0.01 ** 2 + ((4.303 * Math.sqrt(0.0005)) / Math.sqrt(2)) ** 2);
  const mi = measurementInterval(0.9, [0.89, 0.91], [[0.8, 0.82], [0.9, 0.94]], 2)!;
  assert.ok(Math.abs(mi[0] - (0.9 - h)) < 1e-12 && Math.abs(mi[1] - (0.9 + h)) < 1e-12);
  assert.equal(measurementInterval(0.9, [0.89, 0.91], [[0.8], [0.9]], 1), null, 'one seed: no noise estimate');
});
