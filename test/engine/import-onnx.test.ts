import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import {
  importOnnx, exportInferenceModel, InferenceModel, compileTrainingGraph, GradientSession, createOptimizer,
} from '../../src/engine/index.js';
import { OnnxGraphBuilder } from '../../src/engine/onnx-builder.js';
import { UnsupportedError } from '../../src/util/errors.js';
import { randomArray, assertClose } from './helpers.js';

/** A classifier shaped like a PyTorch export: initializer names `features.0.weight`, Sigmoid·Mul SiLU, Gemm head, Softmax. */
function pytorchLikeModel(extraOp?: string): Uint8Array {
  const b = new OnnxGraphBuilder('torch_jit', 'onnx::');
  let s = 1;
  const w = (name: string, shape: number[], sd = 0.3) => b.initializer(name, shape, randomArray(shape.reduce((a, c) => a * c, 1), s++, sd));
  const pos = (name: string, n: number) => b.initializer(name, [n], Float32Array.from(randomArray(n, s++), (v) => 0.5 + Math.abs(v)));
  const x = b.input('image', ['batch', 1, 8, 8]);
  let h = b.op('Conv', [x, w('features.0.weight', [4, 1, 3, 3]), w('features.0.bias', [4])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
  h = b.op('BatchNormalization', [h, pos('features.1.weight', 4), w('features.1.bias', [4]), w('features.1.running_mean', [4]), pos('features.1.running_var', 4)], { epsilon: { float: 1e-5 } });
  h = b.op('Relu', [h]);
  h = b.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  const c2 = b.op('Conv', [h, w('features.4.weight', [4, 4, 3, 3])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const sig = b.op('Sigmoid', [c2]);
  const silu = b.op('Mul', [c2, sig]);
  const res = b.op('Add', [silu, h]);
  const side = b.op('LeakyRelu', [res], { alpha: { float: 0.2 } });
  const cat = b.op('Concat', [res, side], { axis: 1 });
  let p = b.op('AveragePool', [cat], { kernel_shape: [2, 2], strides: [2, 2] });
  if (extraOp) p = b.op(extraOp, [p]);
  p = b.op('Dropout', [p]);
  const gap = b.op('GlobalAveragePool', [p]);
  const flat = b.op('Flatten', [gap], { axis: 1 });
  const hid = b.op('Gemm', [flat, w('classifier.0.weight', [6, 8]), w('classifier.0.bias', [6])], { transB: 1 });
  const mm = b.op('MatMul', [b.op('Relu', [hid]), w('classifier.2.weight', [6, 3])]);
  const logits = b.op('Add', [mm, w('classifier.2.bias', [3])]);
  b.output(b.op('Softmax', [logits], { axis: 1 }), 'probs', ['batch', 3]);
  return b.toBytes();
}

test('importOnnx maps a PyTorch-style classifier to a layer graph with identical outputs', async () => {
  const bytes = pytorchLikeModel();
  const imp = importOnnx(bytes);
  assert.equal(imp.outputActivation, 'softmax');
  assert.deepEqual(imp.graph.inputShape, [1, 8, 8]);
  assert.ok(imp.params.trainable.some((t) => t.name === 'features.0.weight'));
  assert.ok(imp.graph.nodes.some((n) => n.op === 'silu'));
  const x = randomArray(5 * 64, 77);
  const orig = await ort.InferenceSession.create(bytes);
  const ref = (await orig.run({ image: new ort.Tensor('float32', x, [5, 1, 8, 8]) })).probs!.data as Float32Array;
  await orig.release();
  const m = await InferenceModel.load(exportInferenceModel(imp.graph, imp.params, { activation: 'softmax' }));
  const out = await m.run(x, 5);
  await m.release();
  assertClose(out.probabilities!, ref, 'probabilities', 1e-5);
});

test('imported model fine-tunes its last layers with the rest frozen', async () => {
  const imp = importOnnx(pytorchLikeModel());
  const tg = compileTrainingGraph(imp.graph, { kind: 'softmax_ce' }, { freeze: ['features.'] });
  const s = await GradientSession.create(tg);
  const before = imp.params.trainable.map((t) => t.data.slice());
  const opt = createOptimizer({ kind: 'adam' }, imp.params);
  const x = randomArray(6 * 64, 3);
  const target = Float32Array.from({ length: 18 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
  let first = 0, last = 0;
  for (let i = 0; i < 30; i++) {
    const o = await s.run(imp.params, { x, target, batch: 6 }, { training: false });
    if (i === 0) first = o.loss;
    last = o.loss;
    opt.step(imp.params, o.grads, 0.05);
  }
  await s.release();
  assert.ok(last < first, `loss ${first} → ${last}`);
  imp.params.trainable.forEach((t, i) => {
    const changed = t.data.some((v, j) => v !== before[i]![j]);
    assert.equal(changed, !t.name.startsWith('features.'), t.name);
  });
});

test('unsupported operators are listed in a typed error', () => {
  assert.throws(() => importOnnx(pytorchLikeModel('Tanh'), { file: 'user.onnx' }), (e: unknown) =>
    e instanceof UnsupportedError && /user\.onnx/.test(e.message) && /Tanh/.test(e.message) && /supported:/.test(e.message));
  assert.throws(() => importOnnx(Uint8Array.of(0xff, 0xff, 0xff)), /not a readable ONNX model/);
});
