import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArchitecture, initParameters, validateGraph, GraphBuilder } from '../../src/engine/index.js';
import { InputError } from '../../src/util/errors.js';

test('cnn architecture: DESIGN.md blocks, shapes and PyTorch-like parameter names', () => {
  const g = buildArchitecture({ kind: 'cnn' }, { inChannels: 1, imageSize: 64, numOutputs: 2 });
  assert.deepEqual(g.nodes.slice(0, 4).map((n) => n.op), ['conv2d', 'batchnorm2d', 'maxpool2d', 'relu']);
  assert.deepEqual(g.shapes['block3.relu'], [128, 4, 4]);
  assert.equal(g.numOutputs, 2);
  assert.deepEqual(g.params.map((p) => p.name).slice(0, 3), ['block0.conv.weight', 'block0.bn.weight', 'block0.bn.bias']);
  assert.deepEqual(g.buffers.slice(0, 2).map((b) => b.name), ['block0.bn.running_mean', 'block0.bn.running_var']);
  const p = initParameters(g, 1);
  const w = p.trainable[0]!.data;
  // He (Kaiming normal, fan-in): every conv weight ~ N(0, 2/fanIn). Pool all conv layers, each
  // standardised by its analytic sd: ~98k values, so the variance of z is 1 within 4 standard
  // errors (sqrt(2/N) ≈ 0.0045) — LeCun (1/fanIn, ratio 0.5) or Xavier (2/(fanIn+fanOut)) fail.
  let n = 0, s1 = 0, s2 = 0, within1 = 0;
  g.params.forEach((spec, i) => {
    if (spec.kind !== 'conv_weight') return;
    const sd = Math.sqrt(2 / spec.fanIn);
    for (const v of p.trainable[i]!.data) { const z = v / sd; n++; s1 += z; s2 += z * z; if (Math.abs(z) < 1) within1++; }
  });
  const mean = s1 / n, variance = s2 / n - mean * mean;
  assert.ok(n > 50000, `pooled ${n} conv weights`);
  assert.ok(Math.abs(mean) < 4 / Math.sqrt(n), `He init mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 4 * Math.sqrt(2 / n), `He init variance ratio ${variance} (expected 1 ± ${(4 * Math.sqrt(2 / n)).toFixed(4)})`);
  // Normal, not uniform with the same variance: P(|z| < 1) = 0.6827 (uniform: 0.577).
  assert.ok(Math.abs(within1 / n - 0.6827) < 4 * Math.sqrt(0.6827 * 0.3173 / n), `P(|z|<1) = ${within1 / n}`);
  // The first layer alone (144 values, fanIn 9): sample variance within 4 SE of 2/9.
  const v0 = w.reduce((a, v) => a + v * v, 0) / w.length;
  assert.ok(Math.abs(v0 / (2 / 9) - 1) < 4 * Math.sqrt(2 / w.length), `first conv variance ${v0} vs 2/9`);
  // Linear layer: PyTorch's uniform ±1/√fanIn, variance 1/(3·fanIn).
  const fc = g.params.findIndex((q) => q.kind === 'linear_weight');
  const lw = p.trainable[fc]!.data;
  const bound = 1 / Math.sqrt(g.params[fc]!.fanIn);
  assert.ok(lw.every((v) => Math.abs(v) <= bound), 'linear weights within ±1/√fanIn');
  const lv = lw.reduce((a, v) => a + v * v, 0) / lw.length;
  assert.ok(Math.abs(lv * 3 * g.params[fc]!.fanIn - 1) < 4 * Math.sqrt(0.8 / lw.length), `linear weight variance ${lv}`);
  assert.deepEqual(Array.from(p.buffers[1]!.data), new Array(16).fill(1));
  assert.deepEqual(Array.from(initParameters(g, 1).trainable[0]!.data), Array.from(w), 'seeded');
  // tiny inputs stop pooling instead of failing
  const small = buildArchitecture({ kind: 'cnn', depth: 5 }, { inChannels: 3, imageSize: 8, numOutputs: 4 });
  assert.deepEqual(small.shapes['block4.relu'], [256, 1, 1]);
});

test('resnet architecture: strided stages, downsample shortcuts, big-image stem', () => {
  const g = buildArchitecture({ kind: 'resnet', width: 8, blocks: [2, 1] }, { inChannels: 1, imageSize: 28, numOutputs: 3 });
  assert.deepEqual(g.shapes['stage1.0.relu2'], [16, 14, 14]);
  assert.ok(g.nodes.some((n) => n.name === 'stage1.0.down.conv'));
  assert.ok(!g.nodes.some((n) => n.name === 'stage0.1.down.conv'));
  const big = buildArchitecture({ kind: 'resnet' }, { inChannels: 1, imageSize: 128, numOutputs: 2 });
  assert.deepEqual(big.shapes['stem.pool'], [16, 32, 32]);
});

test('graphs survive JSON and bad graphs are typed errors', () => {
  const g = buildArchitecture({ kind: 'cnn', width: 4, dropout: 0.5 }, { inChannels: 2, imageSize: 16, numOutputs: 2 });
  const back = validateGraph(JSON.parse(JSON.stringify(g)));
  assert.deepEqual(back, g);
  const broken = JSON.parse(JSON.stringify(g));
  delete broken.nodes[0].kernel;
  assert.throws(() => validateGraph(broken), InputError);
  assert.throws(() => validateGraph({ nodes: 3 }), InputError);
  const b = new GraphBuilder([1, 4, 4]);
  assert.throws(() => b.linear(b.input, 2), /flat/);
  assert.throws(() => b.addResidual(b.input, b.conv2d(b.input, 2)), /shapes differ/);
  assert.throws(() => b.build(b.input), /flat logits/);
  assert.throws(() => buildArchitecture({ kind: 'cnn' }, { inChannels: 0, imageSize: 8, numOutputs: 2 }), InputError);
});
