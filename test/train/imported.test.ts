import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { onnx } from '../../src/engine/onnx-builder.js';
import { importOnnx } from '../../src/engine/index.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { readModelJson } from '../../src/train/model-folder.js';
import { readCsv } from '../../src/util/csv.js';
import { captureIO, tempDir, writeCategoricalCohort } from './helpers.js';

test('an imported ONNX + sidecar predicts, fine-tunes its last layer, and unsupported operators are listed', async () => {
  const dir = tempDir();
  try {
    const manifest = writeCategoricalCohort(dir, { n: 40, size: 16 });
    // A "user's" ONNX classifier: radml's own standard export, used through a sidecar only.
    const trained = join(dir, 'trained');
    assert.equal(await main(['train', '--data', manifest, '--out', trained, '--image-size', '16', '--epochs', '3', '--batch', '8', '--width', '4', '--threads', '1', '--lr', '0.01'], captureIO().io), 0);
    const meta = readModelJson(trained);
    // Keep only the logits output, as a typical PyTorch export has.
    const exported = onnx.ModelProto.decode(readFileSync(join(trained, 'model.onnx')));
    exported.graph!.output = exported.graph!.output!.filter((o) => o.name === 'logits');
    const needed = new Set(['logits']);
    for (const n of [...exported.graph!.node!].reverse()) if (n.output!.some((o) => needed.has(o))) for (const i of n.input!) needed.add(i);
    exported.graph!.node = exported.graph!.node!.filter((n) => n.output!.some((o) => needed.has(o)));
    const user = join(dir, 'user.onnx');
    writeFileSync(user, onnx.ModelProto.encode(exported).finish());
    writeFileSync(join(dir, 'user.json'), JSON.stringify({
      classes: meta.classes, input: { size: 16, channels: 1 },
      preprocessing: { resize: 'pad', normalise: 'zscore', mean: meta.preprocessing.mean, std: meta.preprocessing.std },
      output: { kind: 'logits' },
    }));
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    assert.equal(await main(['predict', '--model', trained, '--data', manifest, '--out', a, '--no-ood-gate'], captureIO().io), 0);
    const io = captureIO();
    assert.equal(await main(['predict', '--model', user, '--data', manifest, '--out', b], io.io), 0, io.err.join('\n'));
    const ra = readCsv(a).rows;
    const rb = readCsv(b).rows;
    // The trained model reports calibrated scores with its raw ones beside them; the imported copy has no calibration.
    ra.forEach((r, i) => assert.ok(Math.abs(Number(r['raw_score_abnormal']) - Number(rb[i]!['score_abnormal'])) < 1e-4));
    assert.ok(!readCsv(b).header.includes('raw_score_abnormal'));

    // Fine-tune the imported model: only the final linear layer changes.
    const ft = join(dir, 'ft');
    const f = captureIO();
    assert.equal(await main(['train', '--base', user, '--data', manifest, '--out', ft, '--epochs', '2', '--batch', '8', '--threads', '1', '--no-augment'], f.io), 0, f.err.join('\n'));
    assert.match(f.err.join('\n'), /fine-tuning .*user\.onnx: training 2 of \d+ parameter tensors/);
    const ftMeta = readModelJson(ft);
    assert.match(ftMeta.training!.baseModel!, /^imported:.*user\.onnx sha256:[0-9a-f]{64}$/);
    assert.equal(ftMeta.architecture, null);
    const ck = loadCheckpoint(ft)!;
    const imported = importOnnx(readFileSync(user), { inputShape: [1, 16, 16] }).params.trainable;
    const changed = ck.params.trainable.filter((t, i) => t.data.some((v, j) => v !== imported[i]!.data[j]));
    assert.equal(changed.length, 2, `changed: ${changed.map((t) => t.name).join(', ')}`);
    assert.ok(changed.every((t) => t.name === ck.params.trainable.at(-1)!.name || t.name === ck.params.trainable.at(-2)!.name));
    const c = join(dir, 'c.csv');
    assert.equal(await main(['predict', '--model', ft, '--data', manifest, '--out', c], captureIO().io), 0);
    assert.equal(readCsv(c).rows.length, 40);

    // An operator the autodiff does not support: listed in a clear error.
    const model = onnx.ModelProto.decode(readFileSync(user));
    for (const n of model.graph!.node!) if (n.opType === 'Relu') n.opType = 'Tanh';
    const bad = join(dir, 'tanh.onnx');
    writeFileSync(bad, onnx.ModelProto.encode(model).finish());
    writeFileSync(join(dir, 'tanh.json'), readFileSync(join(dir, 'user.json')));
    const e = captureIO();
    assert.equal(await main(['train', '--base', bad, '--data', manifest, '--out', join(dir, 'bad'), '--epochs', '1', '--threads', '1'], e.io), 1);
    assert.match(e.err.join('\n'), /cannot train through operator\(s\) Tanh/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
