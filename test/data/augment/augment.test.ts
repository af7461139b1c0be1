import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  DEFAULT_AUGMENTATION, IDENTITY_GEOMETRY, NO_AUGMENTATION, applyAugmentation, augment, augmentSquare,
  applyGamma, gaussianBlur, inverseAffine, normalQuantile, parseAugmentationSpec, sampleAugmentation, warpAffine,
} from '../../../src/data/augment/index.js';
import type { GreyImage } from '../../../src/data/grey-image.js';
import { Rng } from '../../../src/util/rng.js';

function randomImage(side: number, seed: number): GreyImage {
  const rng = new Rng(seed);
  const data = new Float32Array(side * side);
  for (let i = 0; i < data.length; i++) data[i] = rng.random();
  return { width: side, height: side, data };
}

function maxDiff(a: Float32Array, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function py(code: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('same seed gives identical output, a different seed a different one', () => {
  const img = randomImage(48, 1);
  const spec = parseAugmentationSpec({ noiseProbability: 1, blurProbability: 1 });
  const a = augment(img, spec, new Rng(7));
  const b = augment(img, spec, new Rng(7));
  const c = augment(img, spec, new Rng(8));
  assert.deepEqual(a.data, b.data);
  assert.ok(maxDiff(a.data, c.data) > 0.05);
  // The input is never modified.
  assert.deepEqual(img.data, randomImage(48, 1).data);
  // Bare Float32Array form agrees.
  assert.deepEqual(augmentSquare(img.data, spec, new Rng(7)), a.data);
});

test('zero-strength spec is the identity, and an identity warp reproduces the image', () => {
  const img = randomImage(33, 2);
  for (let s = 0; s < 5; s++) assert.ok(maxDiff(augment(img, NO_AUGMENTATION, new Rng(s)).data, img.data) < 1e-6);
  const w = warpAffine(img, inverseAffine(33, 33, IDENTITY_GEOMETRY));
  assert.ok(maxDiff(w.data, img.data) < 1e-6);
});

test('rotation by 90° equals numpy rot90; flip mirrors columns', () => {
  for (const side of [16, 17]) {
    const img = randomImage(side, side);
    const ref = py('import sys,json,numpy as np; j=json.load(sys.stdin); a=np.array(j["d"]).reshape(j["n"],j["n"]); print(json.dumps(np.rot90(a,1).ravel().tolist()))', { d: Array.from(img.data), n: side }) as number[];
    const r = applyAugmentation(img, { ...IDENTITY_GEOMETRY, rotationDeg: 90, gamma: 1, contrast: 1, brightness: 0, blurSigma: 0, noiseStd: 0 });
    assert.ok(maxDiff(r.data, ref) < 1e-5, `side ${side}`);
    const f = applyAugmentation(img, { ...IDENTITY_GEOMETRY, flip: true, gamma: 1, contrast: 1, brightness: 0, blurSigma: 0, noiseStd: 0 });
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) assert.ok(Math.abs(f.data[y * side + x]! - img.data[y * side + side - 1 - x]!) < 1e-6);
  }
});

test('rotation by 30° with scale and shift matches a numpy bilinear warp and moves a blob where geometry says', () => {
  const n = 64;
  const c = (n - 1) / 2;
  const bx = c + 12, by = c;
  const img: GreyImage = { width: n, height: n, data: new Float32Array(n * n) };
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) img.data[y * n + x] = Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * 3 ** 2));
  const g = { rotationDeg: 30, scale: 1.2, shiftX: 3, shiftY: -2, flip: false };
  const out = warpAffine(img, inverseAffine(n, n, g));
  // numpy: forward map p_out = c + s R (p_in - c) + t with R counter-clockwise on screen (y down);
  // sample the inverse bilinearly with zero fill.
  const ref = py(String.raw`
import sys, json, numpy as np
j = json.load(sys.stdin); n = j['n']; a = np.array(j['d']).reshape(n, n)
th = np.deg2rad(j['deg']); s = j['s']; tx, ty = j['t']; c = (n - 1) / 2
R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
yy, xx = np.mgrid[0:n, 0:n].astype(float)
P = np.stack([xx.ravel() - c - tx, yy.ravel() - c - ty])
Q = np.linalg.inv(s * R) @ P + c
pad = np.zeros((n + 2, n + 2)); pad[1:-1, 1:-1] = a
X = Q[0] + 1; Y = Q[1] + 1
ok = (X > 0) & (Y > 0) & (X < n + 1) & (Y < n + 1)
X = np.clip(X, 0, n + 0.999999); Y = np.clip(Y, 0, n + 0.999999)
x0 = np.floor(X).astype(int); y0 = np.floor(Y).astype(int); fx = X - x0; fy = Y - y0
v = (pad[y0, x0] * (1 - fx) + pad[y0, x0 + 1] * fx) * (1 - fy) + (pad[y0 + 1, x0] * (1 - fx) + pad[y0 + 1, x0 + 1] * fx) * fy
print(json.dumps(np.where(ok, v, 0).tolist()))
`, { n, d: Array.from(img.data), deg: 30, s: 1.2, t: [3, -2] }) as number[];
  assert.ok(maxDiff(out.data, ref) < 1e-5, `max diff ${maxDiff(out.data, ref)}`);
  // Independent of any resampler: the blob centre moves to c + s·R·(b − c) + t.
  let sw = 0, sx = 0, sy = 0;
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const v = out.data[y * n + x]!;
    sw += v; sx += v * x; sy += v * y;
  }
  const th = Math.PI / 6;
  const ex = c + 1.2 * (Math.cos(th) * 12) + 3;
  const ey = c + 1.2 * (-Math.sin(th) * 12) - 2;
  assert.ok(Math.abs(sx / sw - ex) < 0.05 && Math.abs(sy / sw - ey) < 0.05, `centre (${sx / sw}, ${sy / sw}) vs (${ex}, ${ey})`);
});

test('gaussian blur matches numpy with edge padding; intensity ops do what they say', () => {
  const img = randomImage(20, 4);
  const out = new Float32Array(400);
  gaussianBlur(img.data, 20, 20, 1.3, out);
  const ref = py(String.raw`
import sys, json, numpy as np
j = json.load(sys.stdin); a = np.array(j['d']).reshape(20, 20); s = 1.3; r = int(np.ceil(3 * s))
k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * s * s)); k /= k.sum()
p = np.pad(a, r, mode='edge')
tmp = np.stack([np.convolve(row, k, mode='valid') for row in p])
res = np.stack([np.convolve(col, k, mode='valid') for col in tmp.T]).T
print(json.dumps(res.ravel().tolist()))
`, { d: Array.from(img.data) }) as number[];
  assert.ok(maxDiff(out, ref) < 1e-5);
  const base = { ...IDENTITY_GEOMETRY, gamma: 1, contrast: 1, brightness: 0, blurSigma: 0, noiseStd: 0 };
  const g = applyAugmentation(img, { ...base, gamma: 2 });
  for (let i = 0; i < 400; i++) assert.ok(Math.abs(g.data[i]! - img.data[i]! ** 2) < 1e-6);
  const b = applyAugmentation(img, { ...base, brightness: 0.1 }, { clip: false });
  for (let i = 0; i < 400; i++) assert.ok(Math.abs(b.data[i]! - img.data[i]! - 0.1) < 1e-6);
  const rng = new Rng(3);
  const flat: GreyImage = { width: 128, height: 128, data: new Float32Array(128 * 128).fill(0.5) };
  const nz = applyAugmentation(flat, { ...base, noiseStd: 0.05 }, { nextUint32: () => rng.nextUint32() });
  let ss = 0;
  for (const v of nz.data) ss += (v - 0.5) ** 2;
  assert.ok(Math.abs(Math.sqrt(ss / nz.data.length) - 0.05) < 0.002);
});

test('defaults suit chest radiographs: no flip, small warps; sampled parameters stay in range', () => {
  assert.equal(DEFAULT_AUGMENTATION.horizontalFlip, 0);
  const rng = new Rng(11);
  for (let i = 0; i < 500; i++) {
    const p = sampleAugmentation(DEFAULT_AUGMENTATION, rng, 128, 128);
    assert.equal(p.flip, false);
    assert.ok(Math.abs(p.rotationDeg) <= 10 && p.scale >= 0.9 && p.scale <= 1.1);
    assert.ok(Math.abs(p.shiftX) <= 6.4 && Math.abs(p.shiftY) <= 6.4);
    assert.ok(p.gamma >= 1 / 1.2 - 1e-12 && p.gamma <= 1.2 + 1e-12);
  }
  assert.throws(() => parseAugmentationSpec({ rotationDeg: -1 }), /rotationDeg/);
  assert.throws(() => parseAugmentationSpec({ fill: 'mirror' }), /fill/);
});

test('augmentation is fast enough for on-the-fly training', () => {
  const spec = parseAugmentationSpec({ noiseProbability: 1, blurProbability: 1 });
  for (const side of [64, 128]) {
    const img = randomImage(side, side);
    const rng = new Rng(1);
    for (let i = 0; i < 20; i++) augment(img, DEFAULT_AUGMENTATION, rng);
    const reps = 200;
    let t0 = performance.now();
    for (let i = 0; i < reps; i++) augment(img, DEFAULT_AUGMENTATION, rng);
    const us = ((performance.now() - t0) * 1000) / reps;
    t0 = performance.now();
    for (let i = 0; i < reps; i++) augment(img, spec, rng);
    const usAll = ((performance.now() - t0) * 1000) / reps;
    console.log(`# augment ${side}²: ${us.toFixed(0)} µs (defaults), ${usAll.toFixed(0)} µs (noise and blur always on)`);
    assert.ok(usAll < (side === 64 ? 20000 : 50000)); // generous: 2 cores shared with other work
  }
});

test('tabulated noise quantiles and the gamma table agree with exact maths', () => {
  const ps = [1e-6, 0.001, 0.02, 0.3, 0.5, 0.77, 0.98, 0.999999];
  const ref = py('import sys,json; from statistics import NormalDist; print(json.dumps([NormalDist().inv_cdf(p) for p in json.load(sys.stdin)]))', ps) as number[];
  ps.forEach((p, i) => assert.ok(Math.abs(normalQuantile(p) - ref[i]!) < 1e-6 * Math.max(1, Math.abs(ref[i]!)), `p=${p}`));
  const x = new Float32Array(1000).map((_, i) => i / 999);
  for (const gamma of [0.7, 1 / 1.2, 1.3, 2.5]) {
    const out = new Float32Array(1000);
    applyGamma(x, gamma, out);
    for (let i = 0; i < 1000; i++) assert.ok(Math.abs(out[i]! - x[i]! ** gamma) < 2e-4, `gamma ${gamma} at ${x[i]}`);
  }
});
