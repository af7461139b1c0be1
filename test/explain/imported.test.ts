import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '../../src/engine/onnx-builder.js';
import { importModel } from '../../src/train/imported.js';
import { LoadedModel } from '../../src/explain/loaded-model.js';
import { explainDataset } from '../../src/explain/run.js';
import { gradCam } from '../../src/explain/saliency.js';
import { readDataset } from '../../src/data/dataset.js';
import { stressTest } from '../../src/robustness/stress.js';
import { Rng } from '../../src/util/rng.js';
import { toyData, writeToyDataset } from '../robustness/toy.js';

let dir: string;

/** A user's 16×16 classifier; `act` Tanh is an operator radml's autodiff does not import. */
function userOnnx(act: 'Relu' | 'Tanh'): Uint8Array {
  const rng = new Rng(act.length);
  const b = new OnnxGraphBuilder('user', 'u::');
  const w = (name: string, shape: number[], sd: number) => b.initializer(name, shape, Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => rng.normal(0, sd)));
  const x = b.input('image', ['batch', 1, 16, 16]);
  let h = b.op('Conv', [x, w('c1.weight', [6, 1, 3, 3], 0.5), w('c1.bias', [6], 0.1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
  h = b.op(act, [h]);
  h = b.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  h = b.op('Conv', [h, w('c2.weight', [8, 6, 3, 3], 0.3), w('c2.bias', [8], 0.1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
  h = b.op('Relu', [h]);
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  b.output(b.op('Gemm', [flat, w('fc.weight', [2, 8], 0.5), w('fc.bias', [2], 0.1)], { transB: 1 }), 'logits', ['batch', 2]);
  return b.toBytes();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'radml-imported-'));
  for (const act of ['Relu', 'Tanh'] as const) {
    writeFileSync(join(dir, `${act}.onnx`), userOnnx(act));
    writeFileSync(join(dir, `${act}.json`), JSON.stringify({ classes: ['lesion', 'normal'], input: { size: 16, channels: 1, name: 'image' }, preprocessing: { resize: 'stretch', normalise: 'zscore', mean: 0.35, std: 0.12 }, output: { kind: 'logits' } }));
    await importModel(join(dir, `${act}.onnx`), join(dir, `${act}.json`), join(dir, act));
  }
  writeToyDataset(join(dir, 'ds'), toyData(24, 3));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('an imported ONNX model the engine can differentiate gets Grad-CAM on its own layers', async () => {
  const m = await LoadedModel.open(join(dir, 'Relu'));
  try {
    assert.ok(m.gradient, m.gradientUnavailable ?? '');
    const x = m.toInput(toyData(2, 1).images, 2);
    const r = await gradCam(m.gradient!, x, 2, [0, 1]);
    assert.equal(r.maps.length, 2 * 256);
    assert.ok(r.maps.some((v) => v > 0));
  } finally {
    await m.release();
  }
});

test('an imported ONNX with an operator autodiff lacks: occlusion and the black-box attack still run, gradient methods are skipped with the reason', async () => {
  const m = await LoadedModel.open(join(dir, 'Tanh'));
  try {
    assert.equal(m.gradient, null);
    assert.match(m.gradientUnavailable!, /Tanh/);
    const ds = readDataset(join(dir, 'ds'));
    const s = await explainDataset(m, ds, join(dir, 'out'), { methods: ['gradcam', 'occlusion'], maxImages: 4, overlays: false, sanityImages: 2 });
    assert.deepEqual(s.methods, ['occlusion']);
    assert.equal(s.skipped[0]!.method, 'gradcam');
    assert.match(s.skipped[0]!.reason, /Tanh/);
    const r = await stressTest(m, ds, { epsilons: [0, 0.05], squareQueries: 10, corruptions: [] });
    assert.deepEqual(r.curves.map((c) => c.name), ['square']);
    assert.ok(r.notes.some((n) => n.includes('white-box attacks skipped')) || r.curves.length === 1);
  } finally {
    await m.release();
  }
});
