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
  const sd = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
  assert.ok(Math.abs(sd - Math.sqrt(2 / 9)) < 0.15, `He init sd ${sd}`);
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
