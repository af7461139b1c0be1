import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildArchitecture, initParameters, compileTrainingGraph, GradientSession, createOptimizer, updateRunningStats,
  exportInferenceModel, InferenceModel, GraphBuilder, compileInputGradientGraph, InputGradientSession,
} from '../../src/engine/index.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { tuning } from '../../src/engine/layers.js';
import { numpyOracle, randomArray, assertClose, tensorJson } from './helpers.js';

test('a full training step (forward, grads, Adam) on a tiny CNN matches a float64 numpy reference', async () => {
  const g = buildArchitecture({ kind: 'cnn', width: 2, depth: 2 }, { inChannels: 1, imageSize: 8, numOutputs: 2 });
  const params = initParameters(g, 3);
  const n = 4;
  const x = randomArray(n * 64, 4);
  const target = Float32Array.of(1, 0, 0, 1, 0, 1, 1, 0);
  const before = tensorJson(params);
  const s = await GradientSession.create(compileTrainingGraph(g, { kind: 'softmax_ce' }));
  const out = await s.run(params, { x, target, batch: n });
  await s.release();
  const lr = 1e-2;
  createOptimizer({ kind: 'adam' }, params).step(params, out.grads, lr);
  const ref = numpyOracle<{ loss: number; grads: Record<string, number[]>; updated: Record<string, number[]> }>({
    task: 'step', graph: g, ...before, x: Array.from(x), target: Array.from(target), loss: { kind: 'softmax_ce' },
    mode: 'train', masks: {}, batch: n, optimizer: { kind: 'adam' }, lr,
  });
  assertClose([out.loss], [ref.loss], 'loss', 1e-5);
  params.trainable.forEach((t, i) => {
    assertClose(out.grads[i]!, ref.grads[t.name]!, `grad ${t.name}`);
    // Adam's first step is ≈ lr·sign(g); allow 2% of lr for gradients near the finite-difference noise.
    assertClose(t.data, ref.updated[t.name]!, `updated ${t.name}`, 0, 0.02 * lr);
  });
});

/** Two classes of 12×12 images: a bright blob in the left or the right half, plus noise. */
function blobs(n: number, seed: number): { x: Float32Array; labels: number[] } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 144);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.int(2);
    labels.push(y);
    const cx = y === 0 ? 2 + rng.int(3) : 7 + rng.int(3), cy = 2 + rng.int(8);
    for (let r = 0; r < 12; r++) for (let c = 0; c < 12; c++) {
      const d2 = (r - cy) ** 2 + (c - cx) ** 2;
      x[i * 144 + r * 12 + c] = Math.exp(-d2 / 3) + rng.normal(0, 0.2);
    }
  }
  return { x, labels };
}

test('the engine learns: tiny synthetic 2-class images, loss falls, held-out accuracy high', async () => {
  const g = buildArchitecture({ kind: 'cnn', width: 4, depth: 3, dropout: 0.1 }, { inChannels: 1, imageSize: 12, numOutputs: 2 });
  const params = initParameters(g, 1);
  const s = await GradientSession.create(compileTrainingGraph(g, { kind: 'softmax_ce', labelSmoothing: 0.05 }));
  const opt = createOptimizer({ kind: 'adamw', weightDecay: 1e-4 }, params);
  const train = blobs(512, 1);
  const bs = 32;
  const losses: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    for (let at = 0; at + bs <= 512; at += bs) {
      const target = new Float32Array(bs * 2);
      for (let i = 0; i < bs; i++) target[i * 2 + train.labels[at + i]!] = 1;
      const out = await s.run(params, { x: train.x.subarray(at * 144, (at + bs) * 144), target, batch: bs });
      opt.step(params, out.grads, 0.01);
      updateRunningStats(params, out.batchStats);
      losses.push(out.loss);
    }
  }
  await s.release();
  const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4;
  const last = losses.slice(-4).reduce((a, b) => a + b) / 4;
  assert.ok(last < first * 0.5, `loss fell from ${first} to ${last}`);
  const test = blobs(200, 2);
  const m = await InferenceModel.load(exportInferenceModel(g, params));
  const { probabilities } = await m.run(test.x, 200);
  await m.release();
  let correct = 0;
  test.labels.forEach((y, i) => (correct += (probabilities![i * 2 + 1]! > 0.5 ? 1 : 0) === y ? 1 : 0));
  assert.ok(correct / 200 >= 0.9, `held-out accuracy ${correct / 200}`);
});

for (const variant of ['upsample', 'depth'] as const) test(`max-pool ties split the window gradient evenly between the tied maxima (${variant})`, async () => {
  const saved = tuning.maxPoolBackward;
  tuning.maxPoolBackward = variant;
  const b = new GraphBuilder([1, 4, 4]);
  const g = b.build(b.linear(b.flatten(b.maxPool(b.input, 2, { name: 'mp' }), 'f'), 1, { name: 'fc', bias: false }));
  const w = Float32Array.of(1, 2, 3, 4);
  const params = { trainable: [{ name: 'fc.weight', shape: [1, 4], data: w }], buffers: [] };
  // windows: all four equal; two tied maxima; one maximum; three tied maxima
  const x = Float32Array.of(
    5, 5, 1, 7,
    5, 5, 7, 0,
    2, 9, 4, 4,
    3, 1, 4, 0,
  );
  const s = await InputGradientSession.create(compileInputGradientGraph(g, params, { kind: 'logit' }), g);
  tuning.maxPoolBackward = saved;
  const { inputGrad } = await s.run(x, 1, { seed: Float32Array.of(1) });
  await s.release();
  assertClose(inputGrad, [
    0.25, 0.25, 0, 1,
    0.25, 0.25, 1, 0,
    0, 3, 4 / 3, 4 / 3,
    0, 0, 4 / 3, 0,
  ], 'input gradient', 0, 1e-6);
});

test('freezing by name prefix: frozen grads are empty, the rest equal the unfrozen grads', async () => {
  const g = buildArchitecture({ kind: 'cnn', width: 2, depth: 2 }, { inChannels: 1, imageSize: 8, numOutputs: 2 });
  const params = initParameters(g, 2);
  const x = randomArray(3 * 64, 5);
  const target = Float32Array.of(1, 0, 0, 1, 1, 0);
  const full = await GradientSession.create(compileTrainingGraph(g, { kind: 'softmax_ce' }));
  const frozen = await GradientSession.create(compileTrainingGraph(g, { kind: 'softmax_ce' }, { freeze: ['block0.'] }));
  const a = await full.run(params, { x, target, batch: 3 });
  const f = await frozen.run(params, { x, target, batch: 3 });
  params.trainable.forEach((t, i) => {
    if (t.name.startsWith('block0.')) assert.equal(f.grads[i]!.length, 0, t.name);
    else assertClose(f.grads[i]!, a.grads[i]!, t.name, 1e-5);
  });
  // eval mode (running statistics) works through the same session
  const e = await frozen.run(params, { x, target, batch: 3 }, { training: false });
  assert.equal(e.batchStats.length, 0);
  assert.ok(Number.isFinite(e.loss));
  await full.release();
  await frozen.release();
  assert.throws(() => compileTrainingGraph(g, { kind: 'softmax_ce' }, { freeze: [''] }), InputError);
  await assert.rejects(async () => {
    const s = await GradientSession.create(compileTrainingGraph(g, { kind: 'softmax_ce' }));
    try { await s.run(params, { x, target, batch: 2 }); } finally { await s.release(); }
  }, /x has 192 values, expected 128/);
});

test('losses stay finite and exact for extreme logits (±80)', async () => {
  const b = new GraphBuilder([1, 1, 2]);
  const g = b.build(b.linear(b.flatten(b.input, 'f'), 2, { name: 'fc', bias: false }));
  const params = { trainable: [{ name: 'fc.weight', shape: [2, 2], data: Float32Array.of(80, 0, -80, 0) }], buffers: [] };
  const x = Float32Array.of(1, 0, -1, 0);
  const target = Float32Array.of(0, 1, 0, 1); // both samples confidently wrong in the first, right in the other
  for (const loss of [{ kind: 'softmax_ce' }, { kind: 'softmax_ce', focalGamma: 2 }, { kind: 'bce_logits' }, { kind: 'bce_logits', focalGamma: 2 }] as const) {
    const s = await InputGradientSession.create(compileInputGradientGraph(g, params, { kind: 'loss', loss }), g);
    const o = await s.run(x, 2, { target });
    await s.release();
    const ref = numpyOracle<{ loss: number; inputGrad: number[] }>({
      task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), target: Array.from(target), loss, mode: 'eval', batch: 2, checkInput: [0, 2], h: 1e-7,
    });
    assert.ok(Number.isFinite(o.loss!) && o.inputGrad.every(Number.isFinite), `${JSON.stringify(loss)} finite`);
    assertClose([o.loss!], [ref.loss], `${JSON.stringify(loss)} loss`, 1e-5);
    assertClose([o.inputGrad[0]!, o.inputGrad[2]!], ref.inputGrad, `${JSON.stringify(loss)} input grad`, 1e-3, 1e-4);
  }
});
