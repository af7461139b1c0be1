/**
 * Data-parallel gradient computation across worker threads (DESIGN.md: ORT's intra-op threading
 * of backward ops barely scales, so parallelism comes from data). Each worker owns one
 * single-threaded GradientSession and computes its shard of the batch; parameters are broadcast
 * through a SharedArrayBuffer the optimizer updates in place, gradients come back through another
 * and are combined weighted by each shard's loss count (see shard.ts), then one optimizer update
 * runs on the main thread. BatchNorm uses per-shard batch statistics, as data-parallel training
 * elsewhere does; the running statistics are updated from the pooled shard statistics.
 *
 * With one thread the shard runs in-process (no worker), through the same code.
 *
 * @example
 *   const pool = await GradientPool.create({ trainingGraph, params, data, threads: 2 });
 *   const step = await pool.step(batchIndices, { stepSeed: 7, training: true });
 *   optimizer.step(pool.params, step.grads, lr);
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BatchStat, GradientSession, type ParamSet, type TrainingGraph } from '../engine/index.js';
import type { AugmentationSpec } from '../data/augment/index.js';
import { RadmlError } from '../util/errors.js';
import type { InputPipeline } from './input.js';
import { clampCount, type ParamLayout, paramLayout, paramViews, runShard, type ShardData, type ShardRequest, type ShardResult } from './shard.js';

export interface WorkerInit {
  type: 'init';
  id: number;
  trainingGraph: TrainingGraph;
  layout: ParamLayout;
  paramBuffer: SharedArrayBuffer;
  gradBuffer: SharedArrayBuffer;
  gradOffset: number;
  pixelBuffer: SharedArrayBuffer;
  targetBuffer: SharedArrayBuffer;
  maskBuffer: SharedArrayBuffer;
  weightBuffer: SharedArrayBuffer;
  pipe: InputPipeline;
  numOutputs: number;
  lossKind: ShardData['lossKind'];
}
export type WorkerRequest = { type: 'step'; id: number; request: ShardRequest } | { type: 'close'; id: number };
export type WorkerReply =
  | { type: 'ready'; id: number }
  | { type: 'step'; id: number; result: ShardResult }
  | { type: 'closed'; id: number }
  | { type: 'error'; id: number; message: string };

/** What the pool shares with its workers; the loss kind comes from the training graph. */
export type PoolData = Omit<ShardData, 'lossKind'>;

export interface StepResult {
  /** Whole-batch loss (mean over counted elements, as the engine defines it). */
  loss: number;
  /** Whole-batch gradient, one array per trainable tensor (views into a reused buffer). */
  grads: Float32Array[];
  /** Pooled per-layer batch statistics (means and biased variances over the whole batch). */
  batchStats: BatchStat[];
  /** [batch, K] logits in batch order. */
  logits: Float32Array;
}

function sharedCopy<T extends Float32Array | Uint16Array>(a: T): T {
  const sab = new SharedArrayBuffer(Math.max(4, a.byteLength));
  const out = (a instanceof Uint16Array ? new Uint16Array(sab, 0, a.length) : new Float32Array(sab, 0, a.length)) as T;
  out.set(a as never);
  return out;
}

/**
 * Start a gradient worker: worker.js next to this file in the compiled dist, or worker.ts under tsx
 * (tests, `node --import tsx`). Node 20 does not apply the parent's `--import tsx` hook inside
 * workers, so under tsx a small bootstrap registers tsx's loader in the worker before importing
 * the TypeScript entry. execArgv is passed through either way (memory flags etc.).
 */
function startWorker(): Worker {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { execArgv: process.execArgv });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); }).catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'error', id: 0, message: String(e && e.stack || e) }); });`;
  return new Worker(boot, { eval: true, execArgv: process.execArgv });
}

/** Split `n` items into `parts` contiguous shards as even as possible (empty shards dropped). */
export function shardRanges(n: number, parts: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const base = Math.floor(n / parts);
  const extra = n % parts;
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const len = base + (p < extra ? 1 : 0);
    if (len > 0) out.push({ start, end: start + len });
    start += len;
  }
  return out;
}

/**
 * Combine per-shard BatchNorm statistics into whole-batch ones. Statistics come in (mean, var)
 * pairs per layer (`<layer>.batch_mean` then `<layer>.batch_var`); variances are biased
 * (population), so pooled var = Σ n_s (var_s + (mean_s − mean)²) / N.
 */
export function poolBatchStats(shards: { batch: number; stats: BatchStat[] }[]): BatchStat[] {
  if (shards.length === 1) return shards[0]!.stats;
  const total = shards.reduce((s, x) => s + x.batch, 0);
  const first = shards[0]!.stats;
  const out: BatchStat[] = [];
  for (let t = 0; t + 1 < first.length; t += 2) {
    const c = first[t]!.data.length;
    const mean = new Float32Array(c);
    const variance = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      let m = 0;
      for (const s of shards) m += (s.batch / total) * s.stats[t]!.data[ch]!;
      let v = 0;
      for (const s of shards) {
        const d = s.stats[t]!.data[ch]! - m;
        v += (s.batch / total) * (s.stats[t + 1]!.data[ch]! + d * d);
      }
      mean[ch] = m;
      variance[ch] = v;
    }
    const count = shards.reduce((s, x) => s + x.stats[t]!.count, 0);
    out.push({ name: first[t]!.name, shape: first[t]!.shape, data: mean, count }, { name: first[t + 1]!.name, shape: first[t + 1]!.shape, data: variance, count });
  }
  return out;
}

interface Pending { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }

class WorkerHandle {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private failure: Error | undefined;
  constructor(readonly worker: Worker) {
    const failAll = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) {
        // An error outside any request (e.g. the worker's module failed to load) fails everything pending.
        if (r.type === 'error') failAll(new RadmlError('TRAIN_WORKER', `gradient worker failed to start: ${r.message}`));
        return;
      }
      this.pending.delete(r.id);
      if (r.type === 'error') p.reject(new RadmlError('TRAIN_WORKER', `gradient worker failed: ${r.message}`));
      else p.resolve(r);
    });
    worker.on('error', (e) => failAll(new RadmlError('TRAIN_WORKER', `gradient worker crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      if (code !== 0 || this.pending.size > 0) failAll(new RadmlError('TRAIN_WORKER', `gradient worker exited (code ${code})`));
    });
  }
  call(msg: Omit<WorkerInit, 'id'> | Omit<Extract<WorkerRequest, { type: 'step' }>, 'id'> | { type: 'close' }): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }
}

export class GradientPool {
  private constructor(
    /** Parameters in shared memory: update these in place (the optimizer does). */
    readonly params: ParamSet,
    readonly layout: ParamLayout,
    readonly threads: number,
    private readonly data: ShardData,
    private readonly workers: WorkerHandle[],
    private readonly local: GradientSession | undefined,
    private readonly gradFlat: Float32Array,
    /** Frozen parameters get an empty gradient, which the optimizer skips (no weight decay either). */
    private readonly frozen: boolean[],
  ) {}

  /**
   * Start `threads` gradient sessions (workers when > 1). The initial parameter values are copied
   * into shared memory; read and update them through `pool.params` afterwards.
   */
  static async create(opts: { trainingGraph: TrainingGraph; params: ParamSet; data: PoolData; threads: number }): Promise<GradientPool> {
    const threads = Math.max(1, Math.floor(opts.threads));
    const layout = paramLayout(opts.params);
    const paramBuffer = new SharedArrayBuffer(Math.max(4, layout.totalLength * 4));
    const flat = new Float32Array(paramBuffer);
    [...opts.params.trainable, ...opts.params.buffers].forEach((t, i) => {
      const l = i < layout.trainable.length ? layout.trainable[i]! : layout.buffers[i - layout.trainable.length]!;
      flat.set(t.data, l.offset);
    });
    const params = paramViews(layout, flat);
    const lossKind = opts.trainingGraph.loss.kind;
    const frozen = layout.trainable.map((l) => (opts.trainingGraph.freeze ?? []).some((p) => l.name.startsWith(p)));
    const gradBuffer = new SharedArrayBuffer(Math.max(4, threads * layout.trainableLength * 4));
    const gradFlat = new Float32Array(gradBuffer);
    const data: ShardData = {
      pipe: opts.data.pipe,
      pixels: sharedCopy(opts.data.pixels),
      target: sharedCopy(opts.data.target),
      mask: sharedCopy(opts.data.mask),
      weight: sharedCopy(opts.data.weight),
      numOutputs: opts.data.numOutputs,
      lossKind,
    };
    if (threads === 1) {
      const local = await GradientSession.create(opts.trainingGraph, { threads: 1 });
      return new GradientPool(params, layout, 1, data, [], local, gradFlat, frozen);
    }
    const workers: WorkerHandle[] = [];
    try {
      for (let w = 0; w < threads; w++) {
        workers.push(new WorkerHandle(startWorker()));
      }
      await Promise.all(workers.map((h, w) => h.call({
        type: 'init',
        trainingGraph: opts.trainingGraph,
        layout,
        paramBuffer,
        gradBuffer,
        gradOffset: w * layout.trainableLength,
        pixelBuffer: data.pixels.buffer as SharedArrayBuffer,
        targetBuffer: data.target.buffer as SharedArrayBuffer,
        maskBuffer: data.mask.buffer as SharedArrayBuffer,
        weightBuffer: data.weight.buffer as SharedArrayBuffer,
        pipe: data.pipe,
        numOutputs: data.numOutputs,
        lossKind,
      })));
    } catch (e) {
      await Promise.all(workers.map((h) => h.worker.terminate()));
      throw e;
    }
    return new GradientPool(params, layout, threads, data, workers, undefined, gradFlat, frozen);
  }

  /** The augmentation the pool's workers apply when a step has a seed. */
  get augmentation(): AugmentationSpec | null {
    return this.data.pipe.augmentation;
  }

  /**
   * Gradient of the loss over the batch `indices` (rows of the shared data), split across threads.
   * `stepSeed` turns on augmentation (seeded per example, independent of the thread count).
   */
  async step(indices: number[], opts: { stepSeed?: number; dropoutSeed?: number; training?: boolean } = {}): Promise<StepResult> {
    const training = opts.training ?? true;
    const T = this.layout.trainableLength;
    const ranges = shardRanges(indices.length, this.local ? 1 : this.workers.length);
    const requests: ShardRequest[] = ranges.map((r) => ({
      indices: indices.slice(r.start, r.end),
      firstPosition: r.start,
      training,
      ...(opts.stepSeed !== undefined ? { stepSeed: opts.stepSeed } : {}),
      ...(opts.dropoutSeed !== undefined ? { dropoutSeed: (opts.dropoutSeed ^ Math.imul(r.start + 1, 0x9e3779b1)) >>> 0 } : {}),
    }));
    let results: ShardResult[];
    if (this.local) {
      results = [await runShard(this.local, this.params, this.data, requests[0]!, this.gradFlat.subarray(0, T))];
    } else {
      const replies = await Promise.all(requests.map((request, w) => this.workers[w]!.call({ type: 'step', request })));
      results = replies.map((r) => (r as Extract<WorkerReply, { type: 'step' }>).result);
    }
    // Shard s contributed the gradient of S_s / C_s; rescale to Σ S_s / Σ C_s (see shard.ts).
    const totalCount = results.reduce((s, r) => s + r.count, 0);
    const denom = clampCount(totalCount);
    const combined = this.gradFlat.subarray(0, T);
    if (results.length > 1) {
      const f0 = clampCount(results[0]!.count) / denom;
      for (let j = 0; j < T; j++) combined[j]! *= f0;
      for (let s = 1; s < results.length; s++) {
        const f = clampCount(results[s]!.count) / denom;
        const g = this.gradFlat.subarray(s * T, (s + 1) * T);
        for (let j = 0; j < T; j++) combined[j]! += f * g[j]!;
      }
    }
    const loss = results.reduce((s, r) => s + r.loss * clampCount(r.count), 0) / denom;
    const K = this.data.numOutputs;
    const logits = new Float32Array(indices.length * K);
    results.forEach((r, s) => logits.set(r.logits, ranges[s]!.start * K));
    const grads = this.layout.trainable.map((l, i) => (this.frozen[i] ? new Float32Array(0) : combined.subarray(l.offset, l.offset + l.length)));
    return { loss, grads, batchStats: poolBatchStats(results.map((r) => ({ batch: r.batch, stats: r.batchStats }))), logits };
  }

  async close(): Promise<void> {
    if (this.local) await this.local.release();
    await Promise.all(this.workers.map(async (h) => {
      try {
        await h.call({ type: 'close' });
      } finally {
        await h.worker.terminate();
      }
    }));
  }
}
