import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../src/util/rng.js';
import { acceptanceThreshold, energyScores, fitMahalanobis, jointThresholds, ledoitWolf, mahalanobisScores } from '../../src/robustness/ood.js';
import { flagAnomalousSamples, robustZ } from '../../src/robustness/poisoning.js';
import { buildHeaderProfile, checkHeader, fieldsFromHeader } from '../../src/robustness/header-checks.js';
import { readDicomHeader } from '../../src/data/dicom/index.js';
import { CORRUPTIONS, corrupt } from '../../src/robustness/corruptions.js';
import { spearman } from '../../src/explain/metrics.js';

function python(code: string, input: unknown): any {
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const TIED_A = [1, 2, 2, 3, 5, 5, 5, 0.5];
const TIED_B = [3, 1, 4, 1, 5, 9, 2, 6];

test('Ledoit–Wolf shrinkage, Mahalanobis distances and Spearman match scikit-learn / scipy', () => {
  const rng = new Rng(4);
  const n = 60, p = 12;
  const x = new Float32Array(n * p);
  for (let i = 0; i < n; i++) { const z = rng.normal(); for (let d = 0; d < p; d++) x[i * p + d] = z * (d % 3) + rng.normal(0, 1 + d / 4) + 2; }
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  for (let i = 0; i < n; i++) if (labels[i]) for (let d = 0; d < p; d++) x[i * p + d] += 3;
  const test = Float32Array.from({ length: 5 * p }, () => rng.normal(1, 2));
  const ref = python(`
import json,sys,numpy as np
from sklearn.covariance import LedoitWolf
j=json.load(sys.stdin); X=np.array(j['x'],dtype=np.float64).reshape(-1,j['p']); y=np.array(j['labels']); T=np.array(j['t']).reshape(-1,j['p'])
means=[X[y==c].mean(0) for c in (0,1)]
Xc=np.vstack([X[y==c]-means[c] for c in (0,1)])
lw=LedoitWolf(assume_centered=True).fit(Xc)
P=np.linalg.inv(lw.covariance_)
d=[min(float(np.sqrt((t-m)@P@(t-m))) for m in means) for t in T]
lw1=LedoitWolf().fit(X)
from scipy.stats import spearmanr
print(json.dumps({'shrinkage':float(lw.shrinkage_),'d':d,'cov1':lw1.covariance_.ravel().tolist(),'rho':float(spearmanr(j['a'],j['b'])[0])}))`,
  { x: Array.from(x), p, labels, t: Array.from(test), a: TIED_A, b: TIED_B });
  // Spearman on tied data (mid-ranks), same oracle run.
  assert.ok(Math.abs(spearman(TIED_A, TIED_B) - ref.rho) < 1e-12, `spearman ${spearman(TIED_A, TIED_B)} vs scipy ${ref.rho}`);
  const m = fitMahalanobis(x, n, p, labels);
  assert.ok(Math.abs(m.shrinkage - ref.shrinkage) < 1e-6, `shrinkage ${m.shrinkage} vs ${ref.shrinkage}`);
  const d = mahalanobisScores(m, test, 5);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(d[i]! - ref.d[i]) < 1e-3 * ref.d[i], `d[${i}] ${d[i]} vs ${ref.d[i]}`);
  // Single-class form (assume_centered=False) on the raw data.
  const mean = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let k = 0; k < p; k++) mean[k] += x[i * p + k]! / n;
  const xc = Float64Array.from(x, (v, idx) => v - mean[idx % p]!);
  const { covariance } = ledoitWolf(xc, n, p);
  for (let k = 0; k < p * p; k++) assert.ok(Math.abs(covariance[k]! - ref.cov1[k]) < 1e-6 * Math.max(1, Math.abs(ref.cov1[k])), `cov[${k}]`);
});

test('energy score, acceptance thresholds and joint thresholds', () => {
  const e = energyScores(Float32Array.of(0, 0, 10, -10), 2, 2);
  assert.ok(Math.abs(e[0]! + Math.log(2)) < 1e-9);
  assert.ok(Math.abs(e[1]! + 10 + Math.log1p(Math.exp(-20))) < 1e-9);
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(acceptanceThreshold(s, 0.95), 95);
  const rng = new Rng(2);
  const a = Array.from({ length: 400 }, () => rng.normal()), b = Array.from({ length: 400 }, () => rng.normal());
  const t = jointThresholds([a, b], 0.95);
  const acc = a.filter((v, i) => v <= t[0]! && b[i]! <= t[1]!).length / 400;
  assert.ok(acc >= 0.95 && acc < 0.97, `joint acceptance ${acc}`);
});

test('robust z-scores flag the planted outliers and nothing else', () => {
  const rng = new Rng(9);
  const loss = Array.from({ length: 200 }, () => Math.abs(rng.normal(0.3, 0.1)));
  const grad = Array.from({ length: 200 }, () => Math.abs(rng.normal(1, 0.2)));
  loss[17] = 4; grad[101] = 9;
  const r = flagAnomalousSamples(loss, grad);
  assert.deepEqual(r.flagged.map((f) => f.index).sort((x, y) => x - y), [17, 101]);
  assert.ok(r.flagged[0]!.reasons.length >= 1);
  // Constant series: MAD 0 and mean deviation 0 → all zeros.
  assert.deepEqual(Array.from(robustZ([1, 1, 1])), [0, 0, 0]);
});

const dicomDir = path.resolve('..', 'shared', 'data', 'dicom');
test('DICOM header checks reject the real CT and MR files against a chest-CR profile and accept the chest CR', { skip: existsSync(dicomDir) ? false : 'needs ../shared/data/dicom' }, () => {
  const profile = buildHeaderProfile([
    { modality: 'CR', bodyPart: 'CHEST', view: 'PA', photometric: 'MONOCHROME1', bitsStored: 10 },
    { modality: 'DX', bodyPart: 'CHEST', view: 'AP', photometric: 'MONOCHROME2', bitsStored: 16 },
  ]);
  for (const f of ['ct_small.dcm', 'mr_small.dcm', 'mr_small_bigendian.dcm']) {
    const h = readDicomHeader(new Uint8Array(readFileSync(path.join(dicomDir, f))), f);
    const reasons = checkHeader(fieldsFromHeader(h), profile);
    assert.ok(reasons.some((r) => r.startsWith('modality')), `${f}: ${reasons.join('; ')}`);
  }
  const cr = readDicomHeader(new Uint8Array(readFileSync(path.join(dicomDir, 'chest_cr_siim.dcm'))), 'chest_cr_siim.dcm');
  const reasons = checkHeader(fieldsFromHeader(cr), profile);
  assert.ok(!reasons.some((r) => r.startsWith('modality')), reasons.join('; '));
  assert.deepEqual(checkHeader({ modality: '', bodyPart: '', view: '', photometric: '', bitsStored: null }, profile), ['modality is missing; the model was trained on CR, DX']);
});

test('every corruption gets monotonically stronger with severity', async () => {
  const size = 48;
  const data = new Float32Array(size * size);
  const rng = new Rng(1);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const r = Math.hypot(x - 20, y - 26);
    data[y * size + x] = 0.25 + 0.5 * Math.exp(-(r * r) / 60) + (x > 30 ? 0.15 : 0) + 0.02 * rng.normal();
  }
  const img = { width: size, height: size, data };
  for (const kind of CORRUPTIONS) {
    const dist: number[] = [];
    for (let s = 1; s <= 5; s++) {
      const c = await corrupt(img, kind, s, 3);
      assert.equal(c.data.length, data.length);
      let d = 0;
      for (let i = 0; i < data.length; i++) { assert.ok(c.data[i]! >= 0 && c.data[i]! <= 1); d += Math.abs(c.data[i]! - data[i]!); }
      dist.push(d / data.length);
    }
    for (let s = 1; s < 5; s++) assert.ok(dist[s]! > dist[s - 1]!, `${kind}: distance at severity ${s + 1} (${dist[s]}) not above severity ${s} (${dist[s - 1]})`);
  }
  await assert.rejects(corrupt(img, 'blur', 6), /severity/);
});
