/**
 * One data-parallel shard of a training step: assemble the shard's inputs from shared memory,
 * run the gradient session, and hand back the loss, the loss's element count and the gradients.
 * Runs inside a gradient worker, or in-process when training on one thread.
 *
 * Why the count: the engine's loss is a mean over counted elements (src/engine/losses.ts),
 *   L_s = S_s / C_s,  C_s = Σ_n w_n Σ_k t_nk (softmax CE) or Σ_n w_n Σ_k m_nk (masked BCE),
 * with C clamped at 1e-12, so the whole-batch loss ΣS_s / ΣC_s has gradient Σ_s C_s·∇L_s / ΣC_s.
 */
import type { BatchStat, GradientSession, NamedTensor, ParamSet, StepInputs } from '../engine/index.js';
import { type InputPipeline, prepareBatch } from './input.js';

/** Where each parameter tensor lives in the flat shared parameter array. */
export interface TensorLayout { name: string; shape: number[]; offset: number; length: number }
export interface ParamLayout { trainable: TensorLayout[]; buffers: TensorLayout[]; trainableLength: number; totalLength: number }

export function paramLayout(p: ParamSet): ParamLayout {
  let off = 0;
  const lay = (ts: NamedTensor[]) => ts.map((t) => {
    const l: TensorLayout = { name: t.name, shape: t.shape.slice(), offset: off, length: t.data.length };
    off += t.data.length;
    return l;
  });
  const trainable = lay(p.trainable);
  const trainableLength = off;
  const buffers = lay(p.buffers);
  return { trainable, buffers, trainableLength, totalLength: off };
}

/** A ParamSet whose tensors are views into `flat` (e.g. a SharedArrayBuffer every worker sees). */
export function paramViews(layout: ParamLayout, flat: Float32Array): ParamSet {
  const view = (l: TensorLayout): NamedTensor => ({ name: l.name, shape: l.shape, data: flat.subarray(l.offset, l.offset + l.length) });
  return { trainable: layout.trainable.map(view), buffers: layout.buffers.map(view) };
}

const copies = new WeakMap<ParamSet, ParamSet>();

/**
 * ORT rejects tensors over SharedArrayBuffer memory ("Invalid argument"), so each step copies the
 * shared parameters into private arrays (reused across steps; ~0.1 ms for the default CNN).
 */
function ownedCopy(p: ParamSet): ParamSet {
  const first = p.trainable[0] ?? p.buffers[0];
  if (!first || !(first.data.buffer instanceof SharedArrayBuffer)) return p;
  let c = copies.get(p);
  if (!c) {
    const mk = (t: NamedTensor): NamedTensor => ({ name: t.name, shape: t.shape, data: new Float32Array(t.data.length) });
    c = { trainable: p.trainable.map(mk), buffers: p.buffers.map(mk) };
    copies.set(p, c);
  }
  p.trainable.forEach((t, i) => c.trainable[i]!.data.set(t.data));
  p.buffers.forEach((t, i) => c.buffers[i]!.data.set(t.data));
  return c;
}

/** Everything a shard needs to read, shared across threads. */
export interface ShardData {
  pipe: InputPipeline;
  /** count × size × size cached grey values. */
  pixels: Uint16Array;
  /** [count, K] targets, mask (1 = counted) and [count] per-example weights. */
  target: Float32Array;
  mask: Float32Array;
  weight: Float32Array;
  numOutputs: number;
  lossKind: 'softmax_ce' | 'bce_logits';
}

export interface ShardRequest {
  indices: number[];
  /** Position of indices[0] within the whole batch (for shard-independent augmentation seeds). */
  firstPosition: number;
  /** Augmentation seed of the step; undefined = no augmentation. */
  stepSeed?: number;
  training: boolean;
  /** Seed of this shard's dropout masks. */
  dropoutSeed?: number;
}

export interface ShardResult {
  loss: number;
  count: number;
  batch: number;
  batchStats: BatchStat[];
  logits: Float32Array;
}

/** The denominator of the engine's mean loss over the shard (unclamped). */
export function shardCount(data: Pick<ShardData, 'target' | 'mask' | 'weight' | 'numOutputs' | 'lossKind'>, indices: ArrayLike<number>): number {
  const k = data.numOutputs;
  let c = 0;
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    const w = data.weight[j]!;
    if (data.lossKind === 'softmax_ce') for (let q = 0; q < k; q++) c += w * data.target[j * k + q]!;
    else for (let q = 0; q < k; q++) c += w * data.mask[j * k + q]!;
  }
  return c;
}

/** Gather the shard's step inputs (x augmented and normalised, target, mask, weight). */
export function shardInputs(data: ShardData, req: ShardRequest): StepInputs {
  const n = req.indices.length;
  const k = data.numOutputs;
  const px = data.pipe.size * data.pipe.size * (data.pipe.channels ?? 1);
  const x = new Float32Array(n * px);
  prepareBatch(data.pipe, data.pixels, req.indices, x, req.stepSeed, req.firstPosition);
  const target = new Float32Array(n * k);
  const weight = new Float32Array(n);
  const mask = data.lossKind === 'bce_logits' ? new Float32Array(n * k) : undefined;
  req.indices.forEach((j, i) => {
    target.set(data.target.subarray(j * k, (j + 1) * k), i * k);
    if (mask) mask.set(data.mask.subarray(j * k, (j + 1) * k), i * k);
    weight[i] = data.weight[j]!;
  });
  return { x, target, weight, batch: n, ...(mask ? { mask } : {}) };
}

/**
 * Run one shard and write its gradients (flat, in trainable order) into `gradOut`.
 */
export async function runShard(session: GradientSession, params: ParamSet, data: ShardData, req: ShardRequest, gradOut: Float32Array): Promise<ShardResult> {
  const inputs = shardInputs(data, req);
  if (req.dropoutSeed !== undefined) inputs.seed = req.dropoutSeed;
  const out = await session.run(ownedCopy(params), inputs, { training: req.training });
  let off = 0;
  params.trainable.forEach((t, i) => {
    const dest = gradOut.subarray(off, off + t.data.length);
    const g = out.grads[i]!;
    // A frozen parameter's gradient comes back empty: it contributes zeros.
    if (g.length === 0) dest.fill(0);
    else dest.set(g);
    off += t.data.length;
  });
  return { loss: out.loss, count: shardCount(data, req.indices), batch: req.indices.length, batchStats: out.batchStats, logits: out.logits };
}

/** The engine clamps loss denominators here, so an all-masked shard has loss 0. */
export const MIN_LOSS_COUNT = 1e-12;
export const clampCount = (c: number): number => Math.max(c, MIN_LOSS_COUNT);
