import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset } from '../../src/data/dataset.js';
import { LoadedModel } from '../../src/explain/loaded-model.js';
import { GradientModel } from '../../src/explain/model.js';
import { AdversarialGenerator, adversarialBatch, attackLoss, fgsm, pgd, squareAttack } from '../../src/robustness/attacks.js';
import { checkImages, fitOodDetector, loadOodDetector, saveOodDetector } from '../../src/robustness/ood-detector.js';
import { intensityLossGradient, intensityQueryLoss, stressTest } from '../../src/robustness/stress.js';
import { poisoningScreen } from '../../src/robustness/screen.js';
import { Rng } from '../../src/util/rng.js';
import { PX, SIZE, toInput, toyData, trainToy, writeToyDataset, writeToyModel, type ToyData } from './toy.js';
import type { LayerGraph, ParamSet } from '../../src/engine/index.js';

let dir: string;
let graph: LayerGraph;
let params: ParamSet;
let model: LoadedModel;
let testData: ToyData;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'radml-robust-'));
  ({ graph, params } = await trainToy(1, 150));
  writeToyModel(join(dir, 'model'), graph, params);
  // Train/val split column so the OOD fit uses train and thresholds on val.
  writeToyDataset(join(dir, 'ds'), toyData(600, 77), (i) => (i < 400 ? 'train' : 'val'));
  model = await LoadedModel.open(join(dir, 'model'));
  testData = toyData(96, 999);
});
after(async () => {
  await model?.release();
  rmSync(dir, { recursive: true, force: true });
});

function oneHotTargets(d: ToyData): { target: Float32Array; mask: Float32Array } {
  const target = new Float32Array(d.n * 2);
  for (let i = 0; i < d.n; i++) target[i * 2 + d.labels[i]!] = 1;
  return { target, mask: new Float32Array(d.n * 2).fill(1) };
}

async function accuracy(images: Float32Array, d: ToyData): Promise<number> {
  const p = await model.probabilities(images, d.n);
  let ok = 0;
  for (let i = 0; i < d.n; i++) if ((p[i * 2 + 1]! > p[i * 2]! ? 1 : 0) === d.labels[i]) ok++;
  return ok / d.n;
}

test('the model folder opens with gradients, and its rebuilt graph matches model.onnx', () => {
  assert.equal(model.gradientUnavailable, null);
  assert.ok(model.gradient);
  assert.deepEqual(model.affine, { scale: 1 / 0.12, offset: -0.35 / 0.12 });
});

test('FGSM reduces accuracy of the trained tiny model, PGD reduces it more; L2 PGD and the black-box Square Attack also hurt', async () => {
  const { target, mask } = oneHotTargets(testData);
  const clean = await accuracy(testData.images, testData);
  assert.ok(clean > 0.9, `clean accuracy ${clean}`);
  const eps = 0.08;
  const bounds = { lo: 0, hi: 1 };
  const gradFn = intensityLossGradient(model, target, mask);
  const xf = await fgsm(gradFn, testData.images, testData.n, eps, bounds);
  const xp = await pgd(gradFn, testData.images, testData.n, { eps, steps: 10, bounds, seed: 2 });
  for (const adv of [xf, xp]) for (let i = 0; i < adv.length; i++) {
    assert.ok(Math.abs(adv[i]! - testData.images[i]!) <= eps + 1e-6 && adv[i]! >= 0 && adv[i]! <= 1);
  }
  const af = await accuracy(xf, testData), ap = await accuracy(xp, testData);
  assert.ok(af < clean - 0.1, `FGSM accuracy ${af} vs clean ${clean}`);
  assert.ok(ap < af, `PGD accuracy ${ap} not below FGSM ${af}`);
  const l2eps = eps * Math.sqrt(PX) / 2;
  const x2 = await pgd(gradFn, testData.images, testData.n, { eps: l2eps, norm: 'l2', steps: 10, bounds, seed: 3 });
  for (let i = 0; i < testData.n; i++) {
    let s = 0;
    for (let p = 0; p < PX; p++) s += (x2[i * PX + p]! - testData.images[i * PX + p]!) ** 2;
    assert.ok(Math.sqrt(s) <= l2eps * (1 + 1e-5));
  }
  const a2 = await accuracy(x2, testData);
  assert.ok(a2 < clean - 0.1, `PGD-L2 accuracy ${a2}`);
  const sq = await squareAttack(intensityQueryLoss(model, target), testData.images, testData.n, SIZE, SIZE, { eps, queries: 150, bounds, successLoss: 0, seed: 4 });
  const as = await accuracy(sq.adversarial, testData);
  assert.ok(as < clean - 0.1, `Square Attack accuracy ${as} vs clean ${clean}`);
  for (let i = 0; i < sq.adversarial.length; i++) assert.ok(Math.abs(sq.adversarial[i]! - testData.images[i]!) <= eps + 1e-6);
});

test('adversarialBatch (model-input space, parameters fed per call) matches the embedded-parameter gradient and raises the loss', async () => {
  const d = toyData(16, 5);
  const x = toInput(d.images);
  const { target } = oneHotTargets(d);
  const gen = await AdversarialGenerator.create(graph, { kind: 'softmax_ce' });
  const g1 = await gen.gradient(params, x, target, d.n);
  const g2 = await new GradientModel(graph, params).lossGradient(x, d.n, { kind: 'softmax_ce' }, target);
  for (let i = 0; i < g1.grad.length; i++) assert.ok(Math.abs(g1.grad[i]! - g2.grad[i]!) <= 1e-5 + 1e-3 * Math.abs(g2.grad[i]!));
  const eps = 0.3;
  const adv = await adversarialBatch(graph, params, { kind: 'softmax_ce' }, x, target, d.n, { method: 'pgd', epsilon: eps, steps: 5 }, gen);
  for (let i = 0; i < adv.length; i++) assert.ok(Math.abs(adv[i]! - x[i]!) <= eps + 1e-5);
  const after = await gen.gradient(params, adv, target, d.n);
  assert.ok(after.loss > g1.loss, `loss ${after.loss} not above clean ${g1.loss}`);
  const fg = await adversarialBatch(graph, params, { kind: 'softmax_ce' }, x, target, d.n, { method: 'fgsm', epsilon: eps });
  assert.ok((await gen.gradient(params, fg, target, d.n)).loss > g1.loss);
  await gen.release();
  // attackLoss: negative margin is > 0 exactly when misclassified.
  assert.deepEqual(Array.from(attackLoss(Float32Array.of(2, 1, 0, 3), 2, 2, Float32Array.of(1, 0, 1, 0), 'softmax_ce')), [-1, 3]);
});

test('OOD gate: ≈95% of held-out in-distribution images accepted; inverted, noise and blank images rejected; saved detector reloads', async () => {
  const ds = readDataset(join(dir, 'ds'));
  const det = await fitOodDetector(model, ds, { acceptanceRate: 0.95 });
  assert.ok(det.mahalanobis && det.energy);
  assert.ok(det.fit.calibrationAcceptance >= 0.95);
  saveOodDetector(join(dir, 'model'), det);
  const again = loadOodDetector(join(dir, 'model'));
  assert.equal(again.mahalanobis!.threshold, det.mahalanobis!.threshold);
  const fresh = toyData(400, 4242);
  const checks = await checkImages(model, again, fresh.images, fresh.n);
  const acc = checks.filter((c) => c.accepted).length / fresh.n;
  assert.ok(acc >= 0.9 && acc <= 0.99, `in-distribution acceptance ${acc}`);
  const rng = new Rng(8);
  const odd = new Float32Array(30 * PX);
  for (let i = 0; i < 30; i++) for (let p = 0; p < PX; p++) {
    const v = fresh.images[i * PX + p]!;
    odd[i * PX + p] = i < 10 ? 1 - v : i < 20 ? rng.random() : 0.9;
  }
  const oddChecks = await checkImages(model, again, odd, 30);
  const rejected = oddChecks.filter((c) => !c.accepted).length;
  assert.ok(rejected >= 28, `only ${rejected}/30 clearly different images rejected`);
  assert.ok(oddChecks.find((c) => !c.accepted)!.reasons[0]!.includes('threshold'));
  // Header gate from the training profile (modality CR).
  const hdr = await checkImages(model, again, fresh.images.subarray(0, PX), 1, [{ modality: 'CT', bodyPart: '', view: '', photometric: 'MONOCHROME2', bitsStored: null }]);
  assert.ok(!hdr[0]!.accepted && hdr[0]!.reasons[0]!.startsWith('modality CT'));
});

test('stress test: curves for every attack and corruption, monotone-ish AUROC decay under PGD', async () => {
  const ds = readDataset(join(dir, 'ds'));
  const r = await stressTest(model, ds, { maxImages: 48, epsilons: [0, 0.02, 0.06], pgdSteps: 5, squareQueries: 40, corruptions: ['gaussian_noise', 'jpeg'] });
  assert.deepEqual(r.curves.map((c) => c.name), ['fgsm', 'pgd-linf', 'pgd-l2', 'square', 'gaussian_noise', 'jpeg']);
  const pgdCurve = r.curves.find((c) => c.name === 'pgd-linf')!;
  assert.ok(pgdCurve.points[0]!.auroc! > 0.9);
  assert.ok(pgdCurve.points[2]!.auroc! < pgdCurve.points[0]!.auroc! - 0.2, JSON.stringify(pgdCurve.points));
  assert.equal(r.curves.find((c) => c.name === 'jpeg')!.points.length, 6);
  assert.deepEqual(r.scoredClasses, ['lesion']);
});

test('poisoning screen: flipped labels planted in the training set are the ones flagged', async () => {
  const d = toyData(200, 321);
  const planted = [7, 50, 133];
  for (const i of planted) d.labels[i] = 1 - d.labels[i]!;
  writeToyDataset(join(dir, 'poisoned'), d);
  const r = await poisoningScreen(model, readDataset(join(dir, 'poisoned')));
  const flagged = r.flagged.map((f) => f.index);
  for (const i of planted) assert.ok(flagged.includes(i), `planted sample ${i} not flagged (flagged ${flagged})`);
  assert.ok(flagged.length <= 8, `too many flagged: ${flagged.length}`);
  for (const i of planted) assert.ok(r.flaggedPaths.includes(`img${i}.png`));
});

test('a tampered model file is refused at load with a clear message', async () => {
  const m2 = join(dir, 'tampered');
  writeToyModel(m2, graph, params);
  const onnx = readFileSync(join(m2, 'model.onnx'));
  onnx[onnx.length - 10] ^= 0xff;
  writeFileSync(join(m2, 'model.onnx'), onnx);
  await assert.rejects(LoadedModel.open(m2), (e: Error & { code?: string }) => e.code === 'MODEL_TAMPERED' && /model\.onnx: SHA-256 .* does not match model\.json/.test(e.message));
  const m3 = join(dir, 'tampered-ck');
  writeToyModel(m3, graph, params);
  appendFileSync(join(m3, 'checkpoint', 'checkpoint.bin'), 'x');
  await assert.rejects(LoadedModel.open(m3), /checkpoint\.bin: SHA-256/);
});
