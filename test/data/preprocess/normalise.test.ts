import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  applyPreprocessing, compose, fitIntensityStats, fitPreprocessing, histogramEqualisation, minMax, parsePreprocessingSpec,
  percentileClip, percentiles, resize, resizeImage, zScore,
} from '../../../src/data/preprocess/index.js';
import type { GreyImage } from '../../../src/data/grey-image.js';
import { Rng } from '../../../src/util/rng.js';

function skewedImage(w: number, h: number, seed: number, power = 3): GreyImage {
  const rng = new Rng(seed);
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = rng.random() ** power;
  return { width: w, height: h, data };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length, what);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  assert.ok(m <= tol, `${what}: max error ${m}`);
};

// numpy oracle: minmax, per-image zscore, percentile clip (np.percentile, linear), equalisation as
// scikit-image's equalize_hist (histogram over [0,1], cdf interpolated at bin centres), dataset stats.
const PY = String.raw`
import sys, json, numpy as np
job = json.load(sys.stdin)
x = np.array(job['img'], dtype=np.float64)
out = {}
out['minmax'] = ((x - x.min()) / (x.max() - x.min())).tolist()
out['zscore'] = ((x - x.mean()) / x.std()).tolist()
lo, hi = np.percentile(x, [2, 98])
out['pct'] = [lo, hi]
out['clip'] = ((np.clip(x, lo, hi) - lo) / (hi - lo)).tolist()
bins = job['bins']
hist, edges = np.histogram(x, bins=bins, range=(0, 1))
cdf = np.cumsum(hist) / x.size
centres = (edges[:-1] + edges[1:]) / 2
out['eq'] = np.interp(x, centres, cdf).tolist()
allpix = np.concatenate([np.array(a, dtype=np.float64) for a in job['set']])
out['mean'] = allpix.mean(); out['std'] = allpix.std()
print(json.dumps(out))
`;

test('minMax, zScore, percentileClip, equalisation and dataset stats match numpy', () => {
  const img = skewedImage(23, 19, 5);
  const set = [skewedImage(16, 16, 11, 1), skewedImage(16, 16, 12, 2), skewedImage(16, 16, 13, 0.5)];
  const r = spawnSync('python3', ['-c', PY], {
    input: JSON.stringify({ img: Array.from(img.data), bins: 32, set: set.map((s) => Array.from(s.data)) }),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as Record<string, number[] & number>;
  close(minMax()(img).data, ref['minmax']!, 1e-5, 'minmax');
  close(zScore()(img).data, ref['zscore']!, 1e-4, 'zscore');
  close(percentiles(img.data, [2, 98]), ref['pct']!, 1e-6, 'percentiles');
  close(percentileClip(2, 98)(img).data, ref['clip']!, 1e-4, 'percentile clip');
  close(histogramEqualisation(32)(img).data, ref['eq']!, 1e-5, 'equalisation');
  const stats = fitIntensityStats(parsePreprocessingSpec({ size: 16, resize: 'stretch', normalise: 'zscore' }), set);
  assert.ok(Math.abs(stats.mean - (ref['mean'] as number)) < 1e-9);
  assert.ok(Math.abs(stats.std - (ref['std'] as number)) < 1e-9);
  const fitted = fitPreprocessing(parsePreprocessingSpec({ size: 16, resize: 'stretch', normalise: 'zscore' }), set);
  assert.equal(fitted.mean, stats.mean);
  assert.equal(parsePreprocessingSpec(JSON.parse(JSON.stringify(fitted))).std, stats.std);
});

test('zScore with dataset statistics uses them for every image; degenerate images do not divide by zero', () => {
  const img = skewedImage(8, 8, 2);
  const z = zScore({ mean: 0.25, std: 0.5 })(img);
  for (let i = 0; i < z.data.length; i++) assert.ok(Math.abs(z.data[i]! - (img.data[i]! - 0.25) / 0.5) < 1e-6);
  const flat: GreyImage = { width: 4, height: 4, data: new Float32Array(16).fill(0.3) };
  for (const t of [minMax(), zScore(), percentileClip(1, 99)]) for (const v of t(flat).data) assert.ok(Number.isFinite(v) && Math.abs(v) < 1e-6);
});

test('histogram equalisation is monotone and flattens a skewed histogram', () => {
  // A bell-shaped histogram squeezed into [0.1, 0.5] (mean of three uniforms).
  const rng = new Rng(9);
  const img: GreyImage = { width: 64, height: 64, data: new Float32Array(64 * 64) };
  for (let i = 0; i < img.data.length; i++) img.data[i] = 0.1 + (0.4 * (rng.random() + rng.random() + rng.random())) / 3;
  const eq = histogramEqualisation(256)(img);
  const order = Array.from(img.data.keys()).sort((a, b) => img.data[a]! - img.data[b]!);
  for (let k = 1; k < order.length; k++) assert.ok(eq.data[order[k]!]! >= eq.data[order[k - 1]!]! - 1e-7, 'monotone');
  const spread = (d: Float32Array) => {
    const h = new Array<number>(10).fill(0);
    for (const v of d) h[Math.min(9, Math.floor(v * 10))]! += 1;
    const e = d.length / 10;
    return Math.max(...h.map((c) => Math.abs(c - e) / e));
  };
  const before = spread(img.data);
  const after = spread(eq.data);
  assert.ok(before > 1, `input should be skewed (${before})`);
  // Bin-centre interpolation shifts the cdf by up to half a bin's mass, hence ~10% not ~0%.
  assert.ok(after < 0.12, `equalised histogram should be flat, worst decile off by ${after}`);
});

test('PreprocessingSpec validates, fills defaults and applyPreprocessing equals the composed transforms', () => {
  const spec = parsePreprocessingSpec({ size: 32 });
  assert.deepEqual(spec, { size: 32, resize: 'pad', normalise: 'minmax', equalise: false });
  assert.throws(() => parsePreprocessingSpec({ size: 0 }), /size/);
  assert.throws(() => parsePreprocessingSpec({ size: 8, percentiles: [90, 10] }), /lo < hi/);
  assert.throws(() => parsePreprocessingSpec({ size: 8, mean: 0.5 }), /mean and std/);
  assert.throws(() => parsePreprocessingSpec({ size: 8, normalise: 'histogram' }), /normalise/);
  const img = skewedImage(50, 30, 4);
  const full = parsePreprocessingSpec({ size: 24, resize: 'crop', normalise: 'percentile', percentiles: [1, 99], equalise: true });
  const x = applyPreprocessing(full, img);
  const y = compose(resize(24, 'crop'), histogramEqualisation(256), percentileClip(1, 99))(img).data;
  assert.deepEqual(x, y);
  // Round trip through JSON (as in model.json) gives the same input.
  const again = parsePreprocessingSpec(JSON.parse(JSON.stringify(full)));
  assert.deepEqual(applyPreprocessing(again, img), x);
  const fixed = parsePreprocessingSpec({ size: 16, resize: 'stretch', normalise: 'zscore', mean: 0.2, std: 0.1 });
  const r = resizeImage(img, 16, 'stretch');
  const z = applyPreprocessing(fixed, img);
  for (let i = 0; i < z.length; i++) assert.ok(Math.abs(z[i]! - (r.data[i]! - 0.2) / 0.1) < 1e-5);
});
