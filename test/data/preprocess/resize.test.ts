import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resizeImage, resampleImage, type ResizeMode } from '../../../src/data/preprocess/resize.js';
import type { GreyImage } from '../../../src/data/grey-image.js';
import { Rng } from '../../../src/util/rng.js';

// Independent reference: area averaging as the exact integral of the piecewise-constant image
// (cumulative sums), bilinear as numpy.interp on pixel centres; pad/crop geometry re-derived.
const PY_REFERENCE = String.raw`
import sys, json, numpy as np
def area(f, dst):
    n = f.shape[0]; s = n / dst
    F = np.concatenate([np.zeros((1,) + f.shape[1:]), np.cumsum(f, axis=0)], axis=0)
    def I(x):
        k = np.minimum(np.floor(x).astype(int), n - 1)
        return F[k] + (x - k)[:, None] * f[k]
    i = np.arange(dst)
    return (I(np.minimum((i + 1) * s, n)) - I(i * s)) / s
def linear(f, dst):
    n = f.shape[0]; s = n / dst
    x = (np.arange(dst) + 0.5) * s - 0.5
    return np.stack([np.interp(x, np.arange(n), f[:, c]) for c in range(f.shape[1])], axis=1)
def axis0(f, dst):
    if dst == f.shape[0]: return f.copy()
    return area(f, dst) if dst < f.shape[0] else linear(f, dst)
def resample(img, w, h):
    return axis0(axis0(img, h).T, w).T
out = []
for job in json.load(sys.stdin):
    img = np.array(job['data'], dtype=np.float64).reshape(job['h'], job['w'])
    size, mode = job['size'], job['mode']
    H, W = img.shape
    if mode == 'stretch':
        r = resample(img, size, size)
    elif mode == 'crop':
        m = min(W, H); x0 = (W - m) // 2; y0 = (H - m) // 2
        r = resample(img[y0:y0 + m, x0:x0 + m], size, size)
    else:
        L = max(W, H)
        nw = size if W == L else max(1, int(np.floor(W * size / L + 0.5)))
        nh = size if H == L else max(1, int(np.floor(H * size / L + 0.5)))
        r = np.zeros((size, size))
        ox = (size - nw) // 2; oy = (size - nh) // 2
        r[oy:oy + nh, ox:ox + nw] = resample(img, nw, nh)
    out.append(r.ravel().tolist())
print(json.dumps(out))
`;

function randomImage(w: number, h: number, seed: number): GreyImage {
  const rng = new Rng(seed);
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = rng.random();
  return { width: w, height: h, data };
}

interface Job { w: number; h: number; size: number; mode: ResizeMode; img: GreyImage }

test('resizeImage matches an independent numpy reference (pad/crop/stretch, up and down)', () => {
  const shapes: [number, number][] = [[37, 53], [53, 37], [40, 40], [9, 14], [100, 31], [1, 7]];
  const sizes = [5, 16, 24, 45, 64, 128];
  const modes: ResizeMode[] = ['pad', 'crop', 'stretch'];
  const jobs: Job[] = [];
  let seed = 1;
  for (const [w, h] of shapes) for (const size of sizes) for (const mode of modes) jobs.push({ w, h, size, mode, img: randomImage(w, h, seed++) });
  const r = spawnSync('python3', ['-c', PY_REFERENCE], {
    input: JSON.stringify(jobs.map((j) => ({ w: j.w, h: j.h, size: j.size, mode: j.mode, data: Array.from(j.img.data) }))),
    maxBuffer: 1 << 28,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as number[][];
  jobs.forEach((j, n) => {
    const out = resizeImage(j.img, j.size, j.mode);
    assert.equal(out.width, j.size);
    assert.equal(out.height, j.size);
    const expected = ref[n]!;
    let maxErr = 0;
    for (let i = 0; i < expected.length; i++) maxErr = Math.max(maxErr, Math.abs(out.data[i]! - expected[i]!));
    assert.ok(maxErr < 1e-5, `${j.w}×${j.h} → ${j.size} ${j.mode}: max error ${maxErr}`);
  });
});

test('integer-factor downsampling is the block mean; constant images stay constant', () => {
  const img = randomImage(12, 12, 7);
  const out = resampleImage(img, 4, 4);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 4; x++) {
      let s = 0;
      for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) s += img.data[(3 * y + dy) * 12 + 3 * x + dx]!;
      assert.ok(Math.abs(out.data[y * 4 + x]! - s / 9) < 1e-6);
    }
  const flat = { width: 33, height: 21, data: new Float32Array(33 * 21).fill(0.37) };
  for (const size of [7, 21, 50]) for (const mode of ['crop', 'stretch'] as const) {
    for (const v of resizeImage(flat, size, mode).data) assert.ok(Math.abs(v - 0.37) < 1e-6);
  }
});

test('pad keeps aspect on a black background; crop takes the centre', () => {
  // 20 wide × 10 high, all ones → pad to 10: long side 20→10, short 10→5, centred at row offset 2.
  const wide = { width: 20, height: 10, data: new Float32Array(200).fill(1) };
  const p = resizeImage(wide, 10, 'pad');
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.equal(p.data[y * 10 + x], y >= 2 && y < 7 ? 1 : 0);
  // Left half 0, centre 10 columns 1, right 0 → crop keeps only the centre: all ones.
  const d = new Float32Array(300 * 100);
  for (let y = 0; y < 100; y++) for (let x = 100; x < 200; x++) d[y * 300 + x] = 1;
  const c = resizeImage({ width: 300, height: 100, data: d }, 25, 'crop');
  for (const v of c.data) assert.ok(Math.abs(v - 1) < 1e-6);
});

test('bad sizes and shapes are typed errors', () => {
  const img = randomImage(4, 4, 1);
  assert.throws(() => resizeImage(img, 0, 'pad'), /positive whole number/);
  assert.throws(() => resizeImage(img, 2.5, 'pad'), /positive whole number/);
  assert.throws(() => resizeImage({ width: 4, height: 4, data: new Float32Array(3) }, 2, 'pad'), /needs 16/);
  assert.throws(() => resizeImage(img, 2, 'zoom' as ResizeMode), /pad, crop or stretch/);
});

test('1024² → 256² takes a few milliseconds', () => {
  const img = randomImage(1024, 1024, 3);
  resizeImage(img, 256, 'stretch');
  const t0 = performance.now();
  const reps = 10;
  for (let i = 0; i < reps; i++) resizeImage(img, 256, 'pad');
  const ms = (performance.now() - t0) / reps;
  console.log(`# resize 1024² → 256²: ${ms.toFixed(2)} ms`);
  assert.ok(ms < 150, `took ${ms} ms`); // generous: 2 cores shared with other work; ~5 ms when idle
});
