import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArchitecture, compileTrainingGraph, GradientSession, initParameters, type LossSpec } from '../../src/engine/index.js';
import { GradientPool, poolBatchStats, shardRanges } from '../../src/train/pool.js';
import { shardInputs, type ShardData } from '../../src/train/shard.js';
import { Rng } from '../../src/util/rng.js';

const size = 16;
const n = 10;

function setup(kind: LossSpec['kind']) {
  const k = 3;
  const graph = buildArchitecture({ kind: 'cnn', width: 4, depth: 3 }, { inChannels: 1, imageSize: size, numOutputs: k });
  const params = initParameters(graph, 5);
  // Non-trivial running statistics so eval-mode BN is not the identity.
  params.buffers.forEach((b, i) => b.data.forEach((_, j) => (b.data[j] = i % 2 === 0 ? 0.1 * Math.sin(j) : 1 + 0.3 * Math.cos(j))));
  const rng = new Rng(9);
  const pixels = new Uint16Array(n * size * size).map(() => rng.int(65536));
  const target = new Float32Array(n * k);
  const mask = new Float32Array(n * k).fill(1);
  for (let i = 0; i < n; i++) {
    if (kind === 'softmax_ce') target[i * k + (i % k)] = 1;
    else for (let c = 0; c < k; c++) {
      target[i * k + c] = rng.bernoulli(0.4) ? 1 : 0;
      if (rng.bernoulli(0.3)) mask[i * k + c] = 0;
    }
  }
  // Uneven weights make the shards' loss counts differ, which the combination must respect.
  const weight = Float32Array.from({ length: n }, (_, i) => [3, 0.5, 1.2][i % 3]!);
  const pipe = { size, preprocessing: { size, resize: 'pad' as const, normalise: 'zscore' as const, equalise: false, mean: 0.5, std: 0.29 }, augmentation: null };
  const loss: LossSpec = kind === 'softmax_ce' ? { kind } : { kind, posWeights: [1, 2, 0.5] };
  return { graph, params, tg: compileTrainingGraph(graph, loss), data: { pipe, pixels, target, mask, weight, numOutputs: k } };
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  a.forEach((x, i) => x.forEach((v, j) => {
    diff = Math.max(diff, Math.abs(v - b[i]![j]!));
    scale = Math.max(scale, Math.abs(v));
  }));
  return { diff, scale };
}

for (const kind of ['softmax_ce', 'bce_logits'] as const) {
  test(`2-worker data-parallel gradient equals the single-session gradient (${kind})`, async () => {
    const { params, tg, data } = setup(kind);
    const batch = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const single = await GradientSession.create(tg);
    const pool = await GradientPool.create({ trainingGraph: tg, params, data, threads: 2 });
    try {
      const sd: ShardData = { ...data, lossKind: kind };
      const req = (indices: number[], training: boolean) => ({ indices, firstPosition: 0, training });
      // Eval mode (BN running statistics): the whole-batch gradient is exactly separable over shards.
      const ref = await single.run(params, shardInputs(sd, req(batch, false)), { training: false });
      const got = await pool.step(batch, { training: false });
      const e = maxAbsDiff(ref.grads, got.grads);
      assert.ok(e.diff <= 1e-5 * Math.max(1, e.scale), `eval-mode gradient differs by ${e.diff} (scale ${e.scale})`);
      assert.ok(Math.abs(ref.loss - got.loss) < 1e-5, `loss ${ref.loss} vs ${got.loss}`);
      assert.ok(ref.logits.every((v, i) => Math.abs(v - got.logits[i]!) < 1e-4));

      // Training mode: per-shard BatchNorm statistics, so the reference is the count-weighted
      // combination of single-session gradients on the same two shards.
      const [a, b] = shardRanges(batch.length, 2).map((r) => batch.slice(r.start, r.end));
      const ra = await single.run(params, shardInputs(sd, req(a!, true)));
      const rb = await single.run(params, shardInputs(sd, req(b!, true)));
      const count = (idx: number[]) => idx.reduce((s, j) => {
        let c = 0;
        for (let q = 0; q < 3; q++) c += data.weight[j]! * (kind === 'softmax_ce' ? data.target[j * 3 + q]! : data.mask[j * 3 + q]!);
        return s + c;
      }, 0);
      const ca = count(a!);
      const cb = count(b!);
      const combined = ra.grads.map((g, i) => g.map((v, j) => (ca * v + cb * rb.grads[i]![j]!) / (ca + cb)));
      const train = await pool.step(batch, { training: true });
      const e2 = maxAbsDiff(combined, train.grads);
      assert.ok(e2.diff <= 1e-5 * Math.max(1, e2.scale), `training-mode gradient differs by ${e2.diff}`);
      assert.ok(Math.abs((ca * ra.loss + cb * rb.loss) / (ca + cb) - train.loss) < 1e-5);
      // Pooled BN statistics: mean of the whole batch from the shard means.
      const pooled = poolBatchStats([{ batch: a!.length, stats: ra.batchStats }, { batch: b!.length, stats: rb.batchStats }]);
      assert.ok(pooled.every((s, i) => s.data.every((v, j) => Math.abs(v - train.batchStats[i]!.data[j]!) < 1e-5)));
    } finally {
      await single.release();
      await pool.close();
    }
  });
}

test('pooled BatchNorm statistics equal the statistics of the concatenated batch', () => {
  const xa = [1, 2, 3, 4];
  const xb = [10, 20];
  const st = (x: number[]) => {
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    return { m, v: x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length };
  };
  const A = st(xa);
  const B = st(xb);
  const all = st([...xa, ...xb]);
  const t = (name: string, v: number) => ({ name, shape: [1], data: Float32Array.of(v), count: 1 });
  const p = poolBatchStats([
    { batch: 4, stats: [t('bn.batch_mean', A.m), t('bn.batch_var', A.v)] },
    { batch: 2, stats: [t('bn.batch_mean', B.m), t('bn.batch_var', B.v)] },
  ]);
  assert.ok(Math.abs(p[0]!.data[0]! - all.m) < 1e-5);
  assert.ok(Math.abs(p[1]!.data[0]! - all.v) < 1e-4);
  assert.deepEqual(shardRanges(9, 2), [{ start: 0, end: 5 }, { start: 5, end: 9 }]);
  assert.deepEqual(shardRanges(1, 3), [{ start: 0, end: 1 }]);
});
