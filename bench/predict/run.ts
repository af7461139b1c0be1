/**
 * Inference throughput: radml's exported inference ONNX (BatchNorm folded) on ONNX Runtime
 * against PyTorch eval/no_grad on the same CNN, at 64 and 128 px, side by side, at all cores.
 *
 *   node --import tsx bench/predict/run.ts [--seconds 4] [--batch 128]
 *
 * Numbers on a shared machine are noisy; run when the cores are otherwise idle.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildArchitecture, exportInferenceModel, InferenceModel, initParameters } from '../../src/engine/index.js';
import { Rng } from '../../src/util/rng.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, sizes: { type: 'string', default: '64,128' }, batch: { type: 'string', default: '128' }, threads: { type: 'string' } } });
const seconds = Number(values.seconds);
const batch = Number(values.batch);
const threads = values.threads ? Number(values.threads) : availableParallelism();
const peer = resolve('bench', 'train', 'peer.py');

async function radml(size: number): Promise<number> {
  const graph = buildArchitecture({ kind: 'cnn', width: 16, depth: 4 }, { inChannels: 1, imageSize: size, numOutputs: 2 });
  const model = await InferenceModel.load(exportInferenceModel(graph, initParameters(graph, 1)), { threads });
  try {
    const rng = new Rng(2);
    const x = Float32Array.from({ length: batch * size * size }, () => rng.normal());
    for (let i = 0; i < 3; i++) await model.run(x, batch);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await model.run(x, batch);
      n++;
    }
    return (n * batch) / ((performance.now() - t0) / 1000);
  } finally {
    await model.release();
  }
}

const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.log('PyTorch not importable from /usr/bin/python3 — install it with `apt-get install python3-torch`; running radml alone.');
console.log(`inference throughput, DESIGN.md CNN (width 16), batch ${batch}, ${threads} thread(s), ${seconds} s per measurement (shared machine: noisy)`);
console.log('size   radml img/s  pytorch img/s  radml/pytorch');
for (const size of values.sizes!.split(',').map(Number)) {
  const r = await radml(size);
  let t = NaN;
  if (hasTorch) {
    const out = execFileSync('/usr/bin/python3', [peer, '--infer', '--size', String(size), '--threads', String(threads), '--batch', String(batch), '--seconds', String(seconds)], { encoding: 'utf8' });
    t = (JSON.parse(out.trim().split('\n').pop()!) as { imagesPerSecond: number }).imagesPerSecond;
  }
  console.log(`${String(size).padStart(4)}  ${r.toFixed(0).padStart(12)}  ${hasTorch ? t.toFixed(0).padStart(13) : '            -'}  ${hasTorch ? (r / t).toFixed(2).padStart(12) + '×' : '            -'}`);
}

