/**
 * Training throughput: radml (data-parallel ORT gradient sessions, one per thread, + AdamW in JS)
 * against PyTorch (Debian python3-torch, same CNN, torch.set_num_threads) at 64 and 128 px, batch 32,
 * at 1, 2 and all cores, run side by side. Prints images/s, the radml/PyTorch ratio and each side's
 * scaling efficiency (throughput at n threads / (n × throughput at 1 thread)).
 *
 *   node --import tsx bench/train/run.ts [--seconds 4] [--sizes 64,128]
 *
 * Numbers on a shared machine are noisy; run when the cores are otherwise idle.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildArchitecture, compileTrainingGraph, createOptimizer, initParameters, updateRunningStats } from '../../src/engine/index.js';
import { GradientPool } from '../../src/train/pool.js';
import { Rng } from '../../src/util/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, sizes: { type: 'string', default: '64,128' }, batch: { type: 'string', default: '32' } } });
const seconds = Number(values.seconds);
const sizes = values.sizes!.split(',').map(Number);
const batch = Number(values.batch);
const cores = availableParallelism();
const threadCounts = [...new Set([1, 2, cores])].sort((a, b) => a - b);

function torchAvailable(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

async function radml(size: number, threads: number): Promise<number> {
  const graph = buildArchitecture({ kind: 'cnn', width: 16, depth: 4 }, { inChannels: 1, imageSize: size, numOutputs: 2 });
  const params = initParameters(graph, 1);
  const n = batch * 4;
  const rng = new Rng(1);
  const pixels = new Uint16Array(n * size * size).map(() => rng.int(65536));
  const target = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) target[i * 2 + (i % 2)] = 1;
  const pool = await GradientPool.create({
    trainingGraph: compileTrainingGraph(graph, { kind: 'softmax_ce' }),
    params,
    data: { pipe: { size, preprocessing: { size, resize: 'pad', normalise: 'zscore', equalise: false, mean: 0.5, std: 0.29 }, augmentation: null }, pixels, target, mask: new Float32Array(n * 2).fill(1), weight: new Float32Array(n).fill(1), numOutputs: 2 },
    threads,
  });
  try {
    const opt = createOptimizer({ kind: 'adamw', weightDecay: 1e-4 }, pool.params);
    const step = async (s: number) => {
      const idx = Array.from({ length: batch }, (_, i) => ((s * batch) + i) % n);
      const r = await pool.step(idx);
      opt.step(pool.params, r.grads, 1e-3);
      updateRunningStats(pool.params, r.batchStats);
    };
    for (let s = 0; s < 3; s++) await step(s);
    let steps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) await step(steps++);
    return (steps * batch) / ((performance.now() - t0) / 1000);
  } finally {
    await pool.close();
  }
}

function torch(size: number, threads: number): number {
  const out = execFileSync('/usr/bin/python3', [join(here, 'peer.py'), '--size', String(size), '--threads', String(threads), '--batch', String(batch), '--seconds', String(seconds)], { encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').pop()!) as { imagesPerSecond: number }).imagesPerSecond;
}

const hasTorch = torchAvailable();
if (!hasTorch) console.log('PyTorch not importable from /usr/bin/python3 — install it with `apt-get install python3-torch`; running radml alone.');
console.log(`training throughput, DESIGN.md CNN (width 16, 4 blocks), batch ${batch}, ${cores} cores available, ${seconds} s per measurement (shared machine: noisy)`);
console.log('size  threads   radml img/s  pytorch img/s  radml/pytorch  radml scaling  pytorch scaling');
for (const size of sizes) {
  const base: { r?: number; t?: number } = {};
  for (const th of threadCounts) {
    const r = await radml(size, th);
    const t = hasTorch ? torch(size, th) : NaN;
    if (th === 1) {
      base.r = r;
      base.t = t;
    }
    const eff = (v: number, b: number | undefined) => (b && Number.isFinite(v) ? `${((100 * v) / (th * b)).toFixed(0)}%` : '-');
    console.log(`${String(size).padStart(4)}  ${String(th).padStart(7)}  ${r.toFixed(0).padStart(12)}  ${hasTorch ? t.toFixed(0).padStart(13) : '            -'}  ${hasTorch ? (r / t).toFixed(2).padStart(12) + '×' : '            -'}  ${eff(r, base.r).padStart(13)}  ${eff(t, base.t).padStart(15)}`);
  }
}
