/**
 * ORT sessions over compiled gradient graphs: GradientSession (training step: loss, parameter
 * gradients, BN batch statistics, logits) and InputGradientSession (d objective / d input).
 */
import * as ort from 'onnxruntime-node';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { compileGraph, checkParams, GRAD_PREFIX, isFrozen, type TrainingGraph } from './compile.js';
import type { LayerGraph, NamedTensor, ParamSet } from './graph.js';

export interface StepInputs {
  /** [N,C,H,W] images. */
  x: Float32Array;
  /** [N,K] one-hot / soft targets (softmax_ce) or 0..1 targets (bce_logits). */
  target: Float32Array;
  /** [N,K], bce_logits only: 0 = ignore this element (blank label). Default all 1. */
  mask?: Float32Array;
  /** [N] per-sample weight. Default all 1. */
  weight?: Float32Array;
  batch: number;
  /** Seed of this step's dropout masks (default: a per-session counter). */
  seed?: number;
}

/** Batch statistics of one BN layer; `count` = values per channel that went into them (N·H·W). */
export interface BatchStat extends NamedTensor {
  count: number;
}

export interface StepOutputs {
  loss: number;
  /** Same order/shapes as params.trainable; a frozen parameter's gradient is an empty Float32Array. */
  grads: Float32Array[];
  /** Per BN layer `<layer>.batch_mean` then `<layer>.batch_var` (biased). */
  batchStats: BatchStat[];
  logits: Float32Array;
}

export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  if (!Number.isInteger(threads) || threads < 1) throw new InputError('THREADS_INVALID', `threads must be a positive integer, got ${threads}`);
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
}

/**
 * The dropout masks a training step with this seed uses: per dropout layer, [N, ...shape] values
 * 0 (dropped, probability p) or 1/(1−p) (kept), so the expected activation is unchanged.
 */
export function dropoutMasks(g: LayerGraph, batch: number, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const node of g.nodes) {
    if (node.op !== 'dropout' || node.p <= 0) continue;
    const size = batch * g.shapes[node.name]!.reduce((a, b) => a * b, 1);
    const m = new Float32Array(size);
    const keep = 1 / (1 - node.p);
    for (let i = 0; i < size; i++) m[i] = rng.random() >= node.p ? keep : 0;
    out.set(node.name, m);
  }
  return out;
}

function checkLength(what: string, arr: Float32Array, n: number): void {
  if (arr.length !== n) throw new InputError('BATCH_INVALID', `${what} has ${arr.length} values, expected ${n}`);
}

/**
 * One ORT session computing loss and gradients; create one per worker thread for data parallelism.
 *
 * @example
 *   const s = await GradientSession.create(compileTrainingGraph(graph, { kind: 'softmax_ce' }));
 *   const out = await s.run(params, { x, target, batch: 32 });
 *   optimizer.step(params, out.grads, lr);
 */
export class GradientSession {
  private evalSession: ort.InferenceSession | null = null;
  private stepCounter = 0;
  private constructor(
    readonly tg: TrainingGraph,
    private session: ort.InferenceSession,
    private threads: number,
  ) {}

  static async create(tg: TrainingGraph, opts: { threads?: number } = {}): Promise<GradientSession> {
    const threads = opts.threads ?? 1;
    const s = await ort.InferenceSession.create(tg.onnx, sessionOptions(threads));
    return new GradientSession(tg, s, threads);
  }

  async run(params: ParamSet, inputs: StepInputs, opts: { training?: boolean } = {}): Promise<StepOutputs> {
    const training = opts.training ?? true;
    const g = this.tg.graph;
    checkParams(g, params);
    const n = inputs.batch;
    if (!Number.isInteger(n) || n < 1) throw new InputError('BATCH_INVALID', `batch must be a positive integer, got ${n}`);
    const k = g.numOutputs;
    const [c, h, w] = g.inputShape as [number, number, number];
    checkLength('x', inputs.x, n * c * h * w);
    checkLength('target', inputs.target, n * k);
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor('float32', inputs.x, [n, c, h, w]),
      target: new ort.Tensor('float32', inputs.target, [n, k]),
      weight: new ort.Tensor('float32', inputs.weight ?? new Float32Array(n).fill(1), [n]),
    };
    if (inputs.weight) checkLength('weight', inputs.weight, n);
    if (this.tg.loss.kind === 'bce_logits') {
      if (inputs.mask) checkLength('mask', inputs.mask, n * k);
      feeds.mask = new ort.Tensor('float32', inputs.mask ?? new Float32Array(n * k).fill(1), [n, k]);
    }
    for (const t of params.trainable) feeds[t.name] = new ort.Tensor('float32', t.data, t.shape);
    let session = this.session;
    if (training) {
      const masks = dropoutMasks(g, n, inputs.seed ?? 0x5eed + this.stepCounter++);
      for (const [name, m] of masks) feeds[`${name}.mask`] = new ort.Tensor('float32', m, [n, ...g.shapes[name]!]);
    } else {
      for (const t of params.buffers) feeds[t.name] = new ort.Tensor('float32', t.data, t.shape);
      session = await this.ensureEval();
    }
    const out = await session.run(feeds);
    const grads = params.trainable.map((t) =>
      isFrozen(t.name, this.tg.freeze) ? new Float32Array(0) : (out[GRAD_PREFIX + t.name]!.data as Float32Array));
    const batchStats: BatchStat[] = [];
    if (training) {
      for (const node of g.nodes) {
        if (node.op !== 'batchnorm2d') continue;
        const [ch, hh, ww] = g.shapes[node.name] as [number, number, number];
        const count = n * hh * ww;
        batchStats.push({ name: `${node.name}.batch_mean`, shape: [ch], data: out[`${node.name}.batch_mean`]!.data as Float32Array, count });
        batchStats.push({ name: `${node.name}.batch_var`, shape: [ch], data: out[`${node.name}.batch_var`]!.data as Float32Array, count });
      }
    }
    return { loss: (out.loss!.data as Float32Array)[0]!, grads, batchStats, logits: out.logits!.data as Float32Array };
  }

  private async ensureEval(): Promise<ort.InferenceSession> {
    if (!this.evalSession) {
      const c = compileGraph(this.tg.graph, {
        mode: 'eval', params: 'inputs', objective: { kind: 'loss', loss: this.tg.loss }, paramGrads: true, freeze: this.tg.freeze, inputGrad: false,
      });
      this.evalSession = await ort.InferenceSession.create(c.onnx, sessionOptions(this.threads));
    }
    return this.evalSession;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.evalSession) await this.evalSession.release();
    this.evalSession = null;
  }
}

export interface InputGradientOutputs {
  logits: Float32Array;
  /** [N,C,H,W] */
  inputGrad: Float32Array;
  /** Present for the `loss` objective. */
  loss?: number;
}

/**
 * Runs a graph from compileInputGradientGraph.
 *
 * @example
 *   const s = await InputGradientSession.create(compileInputGradientGraph(graph, params, { kind: 'logit' }), graph);
 *   const { inputGrad } = await s.run(x, 1, { seed: Float32Array.of(0, 1) }); // d logit[1] / d x
 */
export class InputGradientSession {
  private constructor(private session: ort.InferenceSession, readonly graph: LayerGraph) {}

  static async create(onnx: Uint8Array, graph: LayerGraph, opts: { threads?: number } = {}): Promise<InputGradientSession> {
    return new InputGradientSession(await ort.InferenceSession.create(onnx, sessionOptions(opts.threads ?? 1)), graph);
  }

  /**
   * `params`: for graphs compiled with `params: 'inputs'` (parameters that change between calls,
   * e.g. adversarial training), the tensors fed by name.
   */
  async run(
    x: Float32Array, batch: number,
    objective: { seed: Float32Array } | { target: Float32Array; weight?: Float32Array; mask?: Float32Array },
    params?: ParamSet,
  ): Promise<InputGradientOutputs> {
    const g = this.graph;
    const k = g.numOutputs;
    const [c, h, w] = g.inputShape as [number, number, number];
    checkLength('x', x, batch * c * h * w);
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, [batch, c, h, w]) };
    const names = this.session.inputNames;
    if ('seed' in objective) {
      if (!names.includes('seed')) throw new InputError('OBJECTIVE_INVALID', 'this graph was compiled for a loss; pass target, not seed');
      checkLength('seed', objective.seed, batch * k);
      feeds.seed = new ort.Tensor('float32', objective.seed, [batch, k]);
    } else {
      if (!names.includes('target')) throw new InputError('OBJECTIVE_INVALID', 'this graph was compiled for a logit seed; pass seed, not target');
      checkLength('target', objective.target, batch * k);
      feeds.target = new ort.Tensor('float32', objective.target, [batch, k]);
      feeds.weight = new ort.Tensor('float32', objective.weight ?? new Float32Array(batch).fill(1), [batch]);
      if (names.includes('mask')) feeds.mask = new ort.Tensor('float32', objective.mask ?? new Float32Array(batch * k).fill(1), [batch, k]);
    }
    if (params) for (const t of [...params.trainable, ...params.buffers]) if (names.includes(t.name)) feeds[t.name] = new ort.Tensor('float32', t.data, t.shape);
    const out = await this.session.run(feeds);
    const r: InputGradientOutputs = { logits: out.logits!.data as Float32Array, inputGrad: out.input_grad!.data as Float32Array };
    if (out.loss) r.loss = (out.loss.data as Float32Array)[0]!;
    return r;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
