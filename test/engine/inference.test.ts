import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  buildArchitecture, exportInferenceModel, InferenceModel, foldBatchNorm, GraphBuilder, type ArchSpec,
} from '../../src/engine/index.js';
import { InputError } from '../../src/util/errors.js';
import { numpyOracle, randomParams, randomArray, assertClose, tensorJson } from './helpers.js';

const PY_RUN = `
import sys, json, numpy as np, onnxruntime as ort
job = json.load(sys.stdin)
s = ort.InferenceSession(job['file'], providers=['CPUExecutionProvider'])
x = np.array(job['x'], dtype=np.float32).reshape(job['shape'])
out = s.run(None, {'input': x})
print(json.dumps({o.name: r.ravel().tolist() for o, r in zip(s.get_outputs(), out)}))
`;

for (const arch of [{ kind: 'cnn', width: 4 }, { kind: 'resnet', width: 4, blocks: [1, 2] }] as ArchSpec[]) {
  test(`exported ${arch.kind} (BN folded) gives the same outputs in Python onnxruntime, onnxruntime-node and an unfolded float64 forward`, async () => {
    const g = buildArchitecture({ ...arch, dropout: 0.2 }, { inChannels: 2, imageSize: 16, numOutputs: 3 });
    const params = randomParams(g, 5);
    const n = 4;
    const x = randomArray(n * 2 * 16 * 16, 6);
    const bytes = exportInferenceModel(g, params);
    const dir = mkdtempSync(path.join(tmpdir(), 'radml-engine-'));
    try {
      const file = path.join(dir, 'model.onnx');
      writeFileSync(file, bytes);
      const r = spawnSync('python3', ['-c', PY_RUN], { input: JSON.stringify({ file, x: Array.from(x), shape: [n, 2, 16, 16] }), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const py = JSON.parse(r.stdout) as { logits: number[]; probabilities: number[] };
      const m = await InferenceModel.load(bytes);
      assert.deepEqual(m.inputShape, [2, 16, 16]);
      const js = await m.run(x, n);
      await m.release();
      assertClose(js.logits, py.logits, 'node vs python logits', 1e-5);
      assertClose(js.probabilities!, py.probabilities, 'node vs python probabilities', 1e-5);
      const ref = numpyOracle<{ logits: number[] }>({ task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), seed: new Array(n * 3).fill(0), mode: 'eval', batch: n });
      assertClose(js.logits, ref.logits, 'folded vs unfolded float64 forward', 1e-4);
      let s = 0;
      for (let j = 0; j < 3; j++) s += js.probabilities![j]!;
      assert.ok(Math.abs(s - 1) < 1e-5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('BN folding removes every conv-fed BatchNorm and keeps others; sigmoid export; bad input is a typed error', async () => {
  const b = new GraphBuilder([1, 4, 4]);
  const c = b.conv2d(b.input, 2, { bias: false, name: 'c' });
  const bn1 = b.batchNorm(c, { name: 'bn1' });
  const bn2 = b.batchNorm(b.relu(bn1, 'r'), { name: 'bn2' }); // not after a conv: stays
  const g = b.build(b.linear(b.flatten(b.globalAvgPool(bn2, 'gap'), 'f'), 2, { name: 'fc' }));
  const params = randomParams(g, 1);
  const f = foldBatchNorm(g, params);
  assert.deepEqual(f.graph.nodes.map((n) => n.op), ['conv2d', 'relu', 'batchnorm2d', 'global_avg_pool', 'flatten', 'linear']);
  const x = randomArray(2 * 16, 2);
  const m = await InferenceModel.load(exportInferenceModel(g, params, { activation: 'sigmoid' }));
  const out = await m.run(x, 2);
  const ref = numpyOracle<{ logits: number[] }>({ task: 'gradients', graph: g, ...tensorJson(params), x: Array.from(x), seed: [0, 0, 0, 0], mode: 'eval', batch: 2 });
  assertClose(out.logits, ref.logits, 'logits', 1e-4);
  assertClose(out.probabilities!, out.logits.map((z) => 1 / (1 + Math.exp(-z))), 'sigmoid', 1e-6);
  await assert.rejects(m.run(x, 3), InputError);
  await m.release();
  await assert.rejects(InferenceModel.load(Uint8Array.of(1, 2, 3, 4)), InputError);
});
