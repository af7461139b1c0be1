import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GraphBuilder, buildArchitecture, compileTrainingGraph, compileInputGradientGraph, GradientSession, InputGradientSession,
  type LayerGraph, type LossSpec, type ParamSet,
} from '../../src/engine/index.js';
import { dropoutMasks } from '../../src/engine/session.js';
import { tuning } from '../../src/engine/layers.js';
import { numpyOracle, randomParams, randomArray, pickIndices, assertClose, tensorJson } from './helpers.js';

/** One graph using every layer kind, including the general (overlapping/padded) pool paths. */
function everyLayerGraph(k: number): LayerGraph {
  const b = new GraphBuilder([2, 12, 12]);
  const c1 = b.conv2d(b.input, 3, { kernel: 3, padding: 1, bias: true, name: 'c1' });
  const r1 = b.relu(b.maxPool(b.batchNorm(c1, { name: 'bn1' }), 2, { name: 'mp1' }), 'r1');
  const c2 = b.conv2d(r1, 4, { kernel: 3, stride: 2, padding: 1, bias: false, name: 'c2' });
  const l2 = b.leakyRelu(b.batchNorm(c2, { name: 'bn2' }), 0.1, 'l2');
  const s2 = b.silu(b.avgPool(l2, 3, { stride: 1, padding: 1, name: 'ap2' }), 's2');
  const c3 = b.conv2d(r1, 2, { kernel: 1, stride: 2, padding: 0, bias: true, name: 'c3' });
  const cat = b.concat([s2, c3], 'cat');
  const c4 = b.conv2d(cat, 6, { kernel: 3, padding: 1, name: 'c4' });
  const add = b.addResidual(c4, cat, 'add');
  const mp = b.maxPool(add, 3, { stride: 2, padding: 1, name: 'mp2' });
  const ap = b.avgPool(mp, 2, { name: 'ap3' });
  const f = b.dropout(b.flatten(b.globalAvgPool(ap, 'gap'), 'flat'), 0.3, 'drop');
  return b.build(b.linear(f, k, { name: 'fc' }));
}

/** conv → flatten of a 3-D tensor → linear (flatten backward on a real reshape). */
function flattenGraph(k: number): LayerGraph {
  const b = new GraphBuilder([1, 6, 6]);
  const c = b.conv2d(b.input, 2, { kernel: 3, stride: 2, padding: 1, name: 'c' });
  const a = b.avgPool(b.silu(c, 's'), 3, { stride: 3, name: 'ap' });
  return b.build(b.linear(b.flatten(a, 'f'), k, { name: 'fc', bias: false }));
}

interface Case { graph: LayerGraph; loss: LossSpec; training: boolean; soft?: boolean; mask?: boolean; weight?: boolean }

async function checkCase(name: string, c: Case, seed: number): Promise<void> {
  const g = c.graph, k = g.numOutputs, n = 3;
  const params: ParamSet = randomParams(g, seed);
  const x = randomArray(n * g.inputShape.reduce((a, b) => a * b, 1), seed + 1);
  const target = new Float32Array(n * k);
  const rng = randomArray(n * k, seed + 2);
  for (let i = 0; i < n; i++) {
    if (c.loss.kind === 'softmax_ce') {
      if (c.soft) {
        let s = 0;
        for (let j = 0; j < k; j++) s += (target[i * k + j] = Math.exp(rng[i * k + j]!));
        for (let j = 0; j < k; j++) target[i * k + j]! /= s;
      } else target[i * k + (i % k)] = 1;
    } else for (let j = 0; j < k; j++) target[i * k + j] = c.soft ? 1 / (1 + Math.exp(-rng[i * k + j]!)) : rng[i * k + j]! > 0 ? 1 : 0;
  }
  const mask = c.mask ? Float32Array.from({ length: n * k }, (_, i) => (i % 3 === 1 ? 0 : 1)) : undefined;
  const weight = c.weight ? Float32Array.from([1, 0.5, 2]) : undefined;
  const stepSeed = 99;
  const tg = compileTrainingGraph(g, c.loss);
  const s = await GradientSession.create(tg);
  const out = await s.run(params, { x, target, mask, weight, batch: n, seed: stepSeed }, { training: c.training });
  await s.release();
  const masks = c.training ? Object.fromEntries([...dropoutMasks(g, n, stepSeed)].map(([kk, v]) => [kk, Array.from(v)])) : {};
  const checkParams = Object.fromEntries(params.trainable.map((t, i) => [t.name, pickIndices(t.data.length, 4, seed + 10 + i)]));
  const ref = numpyOracle<{ loss: number; logits: number[]; grads: Record<string, number[]>; batchStats: Record<string, number[][]> }>({
    task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), target: Array.from(target),
    mask: mask ? Array.from(mask) : null, weight: weight ? Array.from(weight) : null, loss: c.loss,
    mode: c.training ? 'train' : 'eval', masks, batch: n, checkParams,
  });
  assertClose([out.loss], [ref.loss], `${name} loss`, 1e-4);
  assertClose(out.logits, ref.logits, `${name} logits`, 1e-4);
  params.trainable.forEach((t, i) => {
    const idx = checkParams[t.name]!;
    assertClose(idx.map((j) => out.grads[i]![j]!), ref.grads[t.name]!, `${name} d/d ${t.name}`);
  });
  if (c.training) {
    for (const st of out.batchStats) {
      const layer = st.name.replace(/\.batch_(mean|var)$/, '');
      assertClose(st.data, ref.batchStats[layer]![st.name.endsWith('mean') ? 0 : 1]!, `${name} ${st.name}`, 1e-4);
    }
  }
}

const K = 3;
const cases: [string, Case][] = [
  ['softmax_ce, every layer, training', { graph: everyLayerGraph(K), loss: { kind: 'softmax_ce' }, training: true }],
  ['softmax_ce, every layer, eval (running stats)', { graph: everyLayerGraph(K), loss: { kind: 'softmax_ce' }, training: false }],
  ['softmax_ce class weights + smoothing + sample weights', { graph: flattenGraph(K), loss: { kind: 'softmax_ce', classWeights: [0.5, 2, 1], labelSmoothing: 0.1 }, training: true, weight: true }],
  ['softmax_ce soft targets', { graph: flattenGraph(K), loss: { kind: 'softmax_ce' }, training: true, soft: true }],
  ['softmax focal (γ=2) with class weights', { graph: flattenGraph(K), loss: { kind: 'softmax_ce', focalGamma: 2, classWeights: [1, 3, 0.5] }, training: true, weight: true }],
  ['softmax focal (γ=0.5)', { graph: flattenGraph(K), loss: { kind: 'softmax_ce', focalGamma: 0.5 }, training: true }],
  ['bce_logits with mask + pos weights + sample weights', { graph: everyLayerGraph(K), loss: { kind: 'bce_logits', posWeights: [2, 0.5, 1] }, training: true, mask: true, weight: true }],
  ['bce_logits soft targets + smoothing', { graph: flattenGraph(K), loss: { kind: 'bce_logits', labelSmoothing: 0.2 }, training: true, soft: true }],
  ['resnet (basic blocks, 1x1 downsample shortcut), training', { graph: buildArchitecture({ kind: 'resnet', width: 2, blocks: [1, 1] }, { inChannels: 1, imageSize: 8, numOutputs: K }), loss: { kind: 'softmax_ce' }, training: true }],
  ['bce focal (γ=2) with mask and pos weights', { graph: flattenGraph(K), loss: { kind: 'bce_logits', focalGamma: 2, posWeights: [3, 1, 1] }, training: true, mask: true }],
];

cases.forEach(([name, c], i) => {
  test(`gradients match float64 finite differences: ${name}`, async () => {
    await checkCase(name, c, 100 + 17 * i);
  });
});

test('alternative kernels (Conv-based input gradient, SpaceToDepth max-pool backward) give the same gradients', async () => {
  const saved = { ...tuning };
  try {
    tuning.convInputGrad = 'conv';
    tuning.maxPoolBackward = 'depth';
    await checkCase('alternative kernels', { graph: everyLayerGraph(K), loss: { kind: 'softmax_ce' }, training: true }, 5);
    await checkCase('alternative kernels, cnn', {
      graph: buildArchitecture({ kind: 'cnn', width: 2, depth: 2 }, { inChannels: 2, imageSize: 8, numOutputs: K }), loss: { kind: 'softmax_ce' }, training: true,
    }, 6);
  } finally {
    Object.assign(tuning, saved);
  }
});

test('input gradients (logit seed and loss) match float64 finite differences', async () => {
  const g = everyLayerGraph(K), n = 2;
  const params = randomParams(g, 7);
  const x = randomArray(n * 2 * 12 * 12, 8);
  const idx = pickIndices(x.length, 12, 9);
  const seed = Float32Array.from([0, 1, 0, 1, 0, 0]);
  const s1 = await InputGradientSession.create(compileInputGradientGraph(g, params, { kind: 'logit' }), g);
  const o1 = await s1.run(x, n, { seed });
  const r1 = numpyOracle<{ inputGrad: number[] }>({ task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), seed: Array.from(seed), mode: 'eval', batch: n, checkInput: idx });
  assertClose(idx.map((i) => o1.inputGrad[i]!), r1.inputGrad, 'd logit / d input');
  const loss: LossSpec = { kind: 'bce_logits', focalGamma: 1 };
  const target = Float32Array.from([1, 0, 1, 0, 0, 1]);
  const s2 = await InputGradientSession.create(compileInputGradientGraph(g, params, { kind: 'loss', loss }), g);
  const o2 = await s2.run(x, n, { target });
  const r2 = numpyOracle<{ loss: number; inputGrad: number[] }>({ task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), target: Array.from(target), loss, mode: 'eval', batch: n, checkInput: idx });
  assertClose([o2.loss!], [r2.loss], 'loss', 1e-4);
  assertClose(idx.map((i) => o2.inputGrad[i]!), r2.inputGrad, 'd loss / d input');
  await assert.rejects(s2.run(x, n, { seed }), /compiled for a loss/);
  await s1.release();
  await s2.release();
});
