/**
 * Flower object trees built by radml are byte-identical to the ones flwr builds (so their ids
 * match), `.npy`/`.npz` agree with numpy, and inflating checks every id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFlwrVenv, FLWR_PYTHON, REPO } from './helpers.js';
import {
  deflateMessage, float32Array, inflateMessage, metadataFromProto, npyFloat32, readNpy, type Metadata, type RecordDict,
} from '../../src/federated/objects.js';
import { readNpz, writeNpz } from '../../src/federated/arrays.js';

const skip = ensureFlwrVenv();

function fixture(): { spec: Record<string, unknown>; meta: Metadata; content: RecordDict } {
  const arrays: Record<string, { shape: number[]; values: number[] | 'mod7' }> = {
    'conv1.weight': { shape: [2, 1, 3, 3], values: Array.from({ length: 18 }, (_, i) => i * 0.1 - 0.7) },
    'bn.running_var': { shape: [2], values: [1, 1.5] },
    empty: { shape: [0], values: [] },
    scalar: { shape: [], values: [3.25] },
    // 6 MB of float32: two ArrayChunks (5 MiB + rest); repeated values so identical data dedups.
    big: { shape: [1500, 1000], values: 'mod7' },
  };
  const m = { run_id: '12345678901234567890', src: '9876543210987654321', dst: '1', reply_to: 'ab'.repeat(32), group: '2', created_at: 1764000000.125, ttl: 3599.5, type: 'train', src_task: '18000000000000000001' };
  const content: RecordDict = new Map();
  const values = (a: { shape: number[]; values: number[] | 'mod7' }): Float32Array => (a.values === 'mod7' ? Float32Array.from({ length: 1_500_000 }, (_, i) => (i % 7) * 0.5) : Float32Array.from(a.values));
  content.set('arrays', { kind: 'array', arrays: new Map(Object.entries(arrays).map(([k, a]) => [k, float32Array(values(a), a.shape)])) });
  content.set('metrics', { kind: 'metric', values: new Map<string, number | bigint | number[]>([['num-examples', 120n], ['loss', 0.6931], ['auroc', 0.75], ['per-class', [0.5, 0.25]]]) });
  content.set('config', { kind: 'config', values: new Map<string, number | bigint | string | boolean | bigint[]>([['lr', 0.01], ['server-round', 2n], ['name', 'site-ü'], ['flag', true], ['ids', [1n, 2n, 3n]]]) });
  const meta: Metadata = { runId: BigInt(m.run_id), messageId: '', srcNodeId: BigInt(m.src), dstNodeId: 1n, replyToMessageId: m.reply_to, groupId: '2', ttl: m.ttl, messageType: 'train', createdAt: m.created_at, srcTaskId: BigInt(m.src_task) };
  return { spec: { arrays, n: 120, loss: 0.6931, auroc: 0.75, meta: m }, meta, content };
}

test('a reply Message deflates to exactly the objects flwr builds (ids, bytes, tree)', { skip }, () => {
  const { spec, meta, content } = fixture();
  const py = JSON.parse(execFileSync(FLWR_PYTHON, [join(REPO, 'test/federated/flwr_objects.py')], { input: JSON.stringify(spec), maxBuffer: 1 << 28 }).toString()) as { root: string; objects: Record<string, string>; tree: unknown };
  const d = deflateMessage(meta, content);
  assert.equal(d.rootId, py.root);
  assert.deepEqual([...d.objects.keys()].sort(), Object.keys(py.objects).sort());
  for (const [id, hex] of Object.entries(py.objects)) assert.equal(Buffer.from(d.objects.get(id)!).toString('hex'), hex, `object ${id}`);
  assert.deepEqual(d.tree, py.tree);
});

test('deflate → inflate gives back the content; a tampered object is refused', () => {
  const { meta, content } = fixture();
  const d = deflateMessage(meta, content);
  const back = inflateMessage(d.rootId, d.objects);
  const md = metadataFromProto(back.metadataBody);
  assert.equal(md.runId, meta.runId);
  assert.equal(md.srcTaskId, meta.srcTaskId);
  assert.equal(md.dstTaskId, undefined);
  const arrays = back.content!.get('arrays')!;
  assert.equal(arrays.kind, 'array');
  if (arrays.kind === 'array') {
    const w = readNpy(arrays.arrays.get('conv1.weight')!.data);
    assert.deepEqual(w.shape, [2, 1, 3, 3]);
    assert.ok(Math.abs(w.data[17]! - 1.0) < 1e-6);
    assert.equal(readNpy(arrays.arrays.get('big')!.data).data.length, 1_500_000);
  }
  const cfg = back.content!.get('config')!;
  assert.equal(cfg.kind, 'config');
  if (cfg.kind === 'config') {
    assert.equal(cfg.values.get('server-round'), 2n);
    assert.equal(cfg.values.get('name'), 'site-ü');
    assert.deepEqual(cfg.values.get('ids'), [1n, 2n, 3n]);
  }
  const first = [...d.objects.keys()][0]!;
  const bad = new Map(d.objects);
  const bytes = Uint8Array.from(bad.get(first)!);
  bytes[bytes.length - 1] ^= 1;
  bad.set(first, bytes);
  assert.throws(() => inflateMessage(d.rootId, bad), /does not hash to its id/);
});

test('.npy and .npz match numpy (save and load both ways)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-npy-'));
  const py = `
import numpy as np, io, sys, json
out = {}
for shape in [(2, 3), (5,), (), (0,), (1, 2, 3, 4), (123456,)]:
    a = (np.arange(int(np.prod(shape))) * 0.25 - 1).astype(np.float32).reshape(shape)
    b = io.BytesIO(); np.save(b, a); out[str(shape)] = b.getvalue().hex()
z = np.load(sys.argv[1])
out["npz"] = {k: [list(z[k].shape), float(z[k].sum())] for k in z.files}
np.savez_compressed(sys.argv[2], w=np.array([[1.5, -2], [3, 4]], dtype=np.float32), v=np.arange(3, dtype=np.float64))
print(json.dumps(out))`;
  const mine = new Map([['layer.weight', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }], ['bn.running_mean', { shape: [3], data: new Float32Array([0.5, 0.25, -1]) }]]);
  writeFileSync(join(dir, 'mine.npz'), writeNpz(mine));
  const r = JSON.parse(execFileSync(FLWR_PYTHON, ['-c', py, join(dir, 'mine.npz'), join(dir, 'theirs.npz')]).toString()) as Record<string, unknown>;
  for (const shape of [[2, 3], [5], [], [0], [1, 2, 3, 4], [123456]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Float32Array.from({ length: n }, (_, i) => i * 0.25 - 1);
    const key = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
    assert.equal(Buffer.from(npyFloat32(v, shape)).toString('hex'), r[key], `np.save of shape ${key}`);
  }
  assert.deepEqual(r['npz'], { 'layer.weight': [[2, 3], 21], 'bn.running_mean': [[3], -0.25] });
  const theirs = readNpz(new Uint8Array(readFileSync(join(dir, 'theirs.npz'))), 'theirs.npz');
  assert.deepEqual(theirs.get('w')!.shape, [2, 2]);
  assert.deepEqual([...theirs.get('w')!.data], [1.5, -2, 3, 4]);
  assert.deepEqual([...theirs.get('v')!.data], [0, 1, 2]);
});
