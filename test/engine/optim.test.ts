import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createOptimizer, learningRate, updateRunningStats, serializeParams, deserializeParams,
  type OptimizerSpec, type ParamSet,
} from '../../src/engine/index.js';
import { InputError } from '../../src/util/errors.js';
import { numpyOracle, randomArray, assertClose } from './helpers.js';

const specs: OptimizerSpec[] = [
  { kind: 'sgd' },
  { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 },
  { kind: 'sgd', momentum: 0.8, nesterov: true, weightDecay: 0.05 },
  { kind: 'adam' },
  { kind: 'adam', beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 },
  { kind: 'adamw', weightDecay: 0.1 },
];

for (const spec of specs) {
  test(`optimizer ${JSON.stringify(spec)} matches the PyTorch update formulas (numpy)`, () => {
    const n = 7;
    const init = randomArray(n, 1);
    const grads = [0, 1, 2, 3, 4].map((s) => randomArray(n, 10 + s));
    const lrs = [0.1, 0.05, 0.05, 0.02, 0.01];
    const params: ParamSet = { trainable: [{ name: 'w', shape: [n], data: init.slice() }], buffers: [] };
    const opt = createOptimizer(spec, params);
    grads.forEach((g, i) => opt.step(params, [g], lrs[i]!));
    const ref = numpyOracle<{ param: number[] }>({ task: 'optimizer', spec, param: Array.from(init), grads: grads.map((g) => Array.from(g)), lrs });
    assertClose(params.trainable[0]!.data, ref.param, 'updated parameter', 1e-5);
    // State round trip: a copy continued from the saved state takes the same next step.
    const copy: ParamSet = { trainable: [{ name: 'w', shape: [n], data: params.trainable[0]!.data.slice() }], buffers: [] };
    const opt2 = createOptimizer(spec, copy);
    opt2.loadState(JSON.parse(JSON.stringify(opt.state())));
    const g = randomArray(n, 99);
    opt.step(params, [g], 0.01);
    opt2.step(copy, [g], 0.01);
    assert.deepEqual(Array.from(copy.trainable[0]!.data), Array.from(params.trainable[0]!.data));
  });
}

test('frozen parameters (empty gradient) are not touched, bad inputs are typed errors', () => {
  const params: ParamSet = { trainable: [{ name: 'a', shape: [2], data: Float32Array.of(1, 2) }, { name: 'b', shape: [1], data: Float32Array.of(3) }], buffers: [] };
  const opt = createOptimizer({ kind: 'adamw', weightDecay: 0.5 }, params);
  opt.step(params, [new Float32Array(0), Float32Array.of(1)], 0.1);
  assert.deepEqual(Array.from(params.trainable[0]!.data), [1, 2]);
  assert.notEqual(params.trainable[1]!.data[0], 3);
  assert.throws(() => opt.step(params, [Float32Array.of(1)], 0.1), InputError);
  assert.throws(() => opt.loadState({ kind: 'sgd', t: 1, slots: {} }), InputError);
  assert.throws(() => createOptimizer({ kind: 'sgd', nesterov: true }, params), InputError);
});

test('learning-rate schedules: constant, step, cosine, warm-up', () => {
  assert.equal(learningRate(0.1, { kind: 'constant' }, 3, 10), 0.1);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'step', stepSize: 3, gamma: 0.5 }, 2, 10) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'step', stepSize: 3, gamma: 0.5 }, 3, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'step', stepSize: 3, gamma: 0.5 }, 7, 10) - 0.025) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 0, 10) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 5, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine', minLr: 0.01 }, 10, 10) - 0.01) < 1e-12);
  // PyTorch CosineAnnealingLR at epoch 2.5 of 10: 0.5·0.1·(1 + cos(π/4))
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 2, 10, 0, 0.5) - 0.05 * (1 + Math.cos(Math.PI / 4))) < 1e-12);
  // Warm-up: 1% at the start, linear to base at warmupEpochs, then the schedule from there.
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 0, 10, 2) - 0.001) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 1, 10, 2) - 0.1 * (0.01 + 0.99 / 2)) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 2, 10, 2) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine' }, 6, 10, 2) - 0.05) < 1e-12);
});

test('BatchNorm running statistics follow PyTorch (momentum 0.1, unbiased variance)', () => {
  const p: ParamSet = {
    trainable: [],
    buffers: [{ name: 'bn.running_mean', shape: [2], data: Float32Array.of(0, 1) }, { name: 'bn.running_var', shape: [2], data: Float32Array.of(1, 2) }],
  };
  updateRunningStats(p, [
    { name: 'bn.batch_mean', shape: [2], data: Float32Array.of(2, 3), count: 5 },
    { name: 'bn.batch_var', shape: [2], data: Float32Array.of(4, 0.8), count: 5 },
  ]);
  assertClose(p.buffers[0]!.data, [0.2, 1.2], 'running mean', 1e-6);
  assertClose(p.buffers[1]!.data, [0.9 + 0.1 * 4 * 1.25, 1.8 + 0.1 * 0.8 * 1.25], 'running var', 1e-6);
  assert.throws(() => updateRunningStats(p, [{ name: 'other.batch_mean', shape: [2], data: Float32Array.of(1, 1) }]), InputError);
});

test('ParamSet serialisation round-trips and rejects damaged files', () => {
  const p: ParamSet = {
    trainable: [{ name: 'conv.weight', shape: [2, 1, 1, 3], data: randomArray(6, 3) }, { name: 'fc.bias', shape: [1], data: Float32Array.of(-0.5) }],
    buffers: [{ name: 'bn.running_var', shape: [2], data: Float32Array.of(1, 2) }],
  };
  const bytes = serializeParams(p);
  const back = deserializeParams(bytes);
  assert.deepEqual(back.trainable.map((t) => [t.name, t.shape, Array.from(t.data)]), p.trainable.map((t) => [t.name, t.shape, Array.from(t.data)]));
  assert.deepEqual(back.buffers.map((t) => [t.name, Array.from(t.data)]), [['bn.running_var', [1, 2]]]);
  assert.throws(() => deserializeParams(bytes.subarray(0, bytes.length - 4), 'x.bin'), /x.bin: truncated/);
  assert.throws(() => deserializeParams(new Uint8Array(40)), /bad magic/);
  const broken = bytes.slice();
  broken[14] = 0x7b; // corrupt the JSON header
  assert.throws(() => deserializeParams(broken), InputError);
});
