/**
 * Why the gate's distance threshold pools cross-fitted training distances: on Gaussian features
 * with a known distribution, a 95 % threshold set on in-sample distances accepts far fewer than
 * 95 % of fresh samples (the fitted covariance hugs its own data), while one set on cross-fitted
 * distances accepts close to 95 % — the mechanism behind the demo's 89.7 % acceptance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptanceThreshold, crossFittedMahalanobis, fitMahalanobis, mahalanobisScores } from '../../src/robustness/ood.js';
import { Rng } from '../../src/util/rng.js';

function gaussian(n: number, p: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * p);
  // Independent features with unequal scales (sd 0.5 … 2) and a shared component, so the
  // covariance is neither identity nor diagonal.
  for (let i = 0; i < n; i++) {
    const shared = rng.normal();
    for (let d = 0; d < p; d++) x[i * p + d] = (0.5 + (1.5 * d) / (p - 1)) * rng.normal() + 0.7 * shared;
  }
  return x;
}

test('cross-fitted Mahalanobis distances set a threshold that holds on fresh data; in-sample ones do not', () => {
  const p = 32, n = 300, fresh = 6000;
  const rng = new Rng(11);
  const fit = gaussian(n, p, rng);
  const test = gaussian(fresh, p, rng);
  const model = fitMahalanobis(fit, n, p);
  const dFresh = mahalanobisScores(model, test, fresh);
  const accept = (t: number) => dFresh.filter((d) => d <= t).length / fresh;
  const inSample = accept(acceptanceThreshold(mahalanobisScores(model, fit, n), 0.95));
  const cross = crossFittedMahalanobis(fit, n, p);
  const crossFitted = accept(acceptanceThreshold(cross, 0.95));
  assert.ok(inSample < 0.9, `in-sample threshold accepts ${inSample} of fresh samples (expected well below 0.95)`);
  assert.ok(Math.abs(crossFitted - 0.95) < 0.03, `cross-fitted threshold accepts ${crossFitted} of fresh samples (expected ≈ 0.95)`);
  // Every fitting sample got an out-of-sample distance, larger on average than its in-sample one.
  const inD = mahalanobisScores(model, fit, n);
  assert.ok(cross.every((d) => d > 0));
  assert.ok(cross.reduce((a, b) => a + b, 0) > inD.reduce((a, b) => a + b, 0));
  // Each fold equals a fit without it, scored directly.
  const fold0 = [...Array(n).keys()].filter((i) => i % 5 !== 0);
  const sub = new Float32Array(fold0.length * p);
  fold0.forEach((i, j) => sub.set(fit.subarray(i * p, (i + 1) * p), j * p));
  const m0 = fitMahalanobis(sub, fold0.length, p);
  const d0 = mahalanobisScores(m0, fit.subarray(0, p), 1)[0]!;
  assert.ok(Math.abs(d0 - cross[0]!) < 1e-9);
});
