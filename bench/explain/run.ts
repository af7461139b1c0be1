/**
 * Saliency speed at 256 px: Grad-CAM (last conv block) and integrated gradients (50 steps, 2 batches
 * of 25) per image, radml (ONNX Runtime graphs from the engine's autodiff) vs PyTorch autograd on
 * the same architecture and weights, side by side in one run, single-threaded by default.
 *
 *   node --import tsx bench/explain/run.ts [--threads 1] [--reps 10] [--reps-ig 3] [--width 16]
 *
 * The peer is plain torch autograd (bench/explain/peer.py): captum 0.9 requires torch ≥ 2.3 and
 * Debian ships 1.13, so installing it would replace the system torch. The maps of both sides are
 * compared (Pearson correlation) so the timing compares the same computation.
 * Numbers are noisy: the machine has 2 cores shared with other work.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildArchitecture, initParameters } from '../../src/engine/index.js';
import { GradientModel } from '../../src/explain/model.js';
import { gradCam, integratedGradients } from '../../src/explain/saliency.js';
import { pearson } from '../../src/explain/metrics.js';
import { Rng } from '../../src/util/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const threads = arg('--threads', 1);
const reps = arg('--reps', 10);
const repsIg = arg('--reps-ig', 3);
const width = arg('--width', 16);
const size = 256, depth = 4, n = 4;
// The class explained: the one the random network predicts for image 0 (its Grad-CAM is not all zero).
let cls = 0;

const graph = buildArchitecture({ kind: 'cnn', width, depth }, { inChannels: 1, imageSize: size, numOutputs: 2 });
const params = initParameters(graph, 1);
const rng = new Rng(5);
// Non-trivial BN statistics so folding and eval-mode BN are exercised on both sides.
for (const b of params.buffers) for (let i = 0; i < b.data.length; i++) b.data[i] = b.name.endsWith('running_var') ? rng.uniform(0.5, 2) : rng.normal(0, 0.2);
const px = size * size;
const x = new Float32Array(n * px);
for (let i = 0; i < n; i++) for (let p = 0; p < px; p++) {
  const yy = Math.floor(p / size), xx = p % size;
  x[i * px + p] = Math.sin(xx / (9 + i)) + Math.cos(yy / 13) + 0.3 * rng.normal();
}

async function time(fn: (i: number) => Promise<unknown>, r: number): Promise<number> {
  await fn(0);
  const t0 = performance.now();
  for (let i = 0; i < r; i++) await fn(i % n);
  return (performance.now() - t0) / r / 1000;
}

const m = new GradientModel(graph, params, { threads });
{
  const l0 = await m.logits(x.subarray(0, px), 1);
  cls = l0[1]! > l0[0]! ? 1 : 0;
}
const one = (i: number) => x.subarray(i * px, (i + 1) * px);
const tCam = await time((i) => gradCam(m, one(i), 1, [cls]), reps);
const tIg = await time((i) => integratedGradients(m, one(i), 1, [cls], { steps: 50, batch: 25 }), repsIg);
const cam = (await gradCam(m, one(0), 1, [cls])).maps;
const ig = (await integratedGradients(m, one(0), 1, [cls], { steps: 50, batch: 25 })).maps;
const logits = await m.logits(one(0), 1);
await m.release();

const job = {
  threads, reps, reps_ig: repsIg, depth, cls, shape: [n, 1, size, size], x: Array.from(x),
  params: params.trainable.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(t.data) })),
  buffers: params.buffers.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(t.data) })),
};
const r = spawnSync('/usr/bin/python3', [join(here, 'peer.py')], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 28 });
if (r.status !== 0) throw new Error(`peer failed: ${r.stderr}`);
const peer = JSON.parse(r.stdout) as { torch: string; logits: number[]; gradcam_s: number; ig_s: number; cam: number[]; ig: number[] };

console.log(`saliency at ${size}×${size}, cnn width ${width} depth ${depth}, ${threads} thread(s); radml (ONNX Runtime) vs PyTorch ${peer.torch} autograd`);
console.log(`logits radml [${Array.from(logits).map((v) => v.toFixed(4))}] torch [${peer.logits.map((v) => v.toFixed(4))}]`);
const maxDiff = (a: ArrayLike<number>, b: number[]) => { let d = 0, s = 0; for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); s = Math.max(s, Math.abs(b[i]!)); } return `${d.toExponential(1)} of max ${s.toExponential(1)}`; };
console.log(`class ${cls}; map agreement: Grad-CAM Pearson ${pearson(cam, peer.cam).toFixed(5)} (max |diff| ${maxDiff(cam, peer.cam)}), IG Pearson ${pearson(ig, peer.ig).toFixed(5)} (max |diff| ${maxDiff(ig, peer.ig)})`);
const row = (name: string, a: number, b: number) => console.log(`${name.padEnd(28)} radml ${(a * 1000).toFixed(1).padStart(8)} ms   torch ${(b * 1000).toFixed(1).padStart(8)} ms   radml/torch ${(a / b).toFixed(2)}×`);
row('Grad-CAM per image', tCam, peer.gradcam_s);
row('Integrated gradients (50)', tIg, peer.ig_s);
console.log('(2 shared cores: numbers are noisy; rerun for stable ratios)');
