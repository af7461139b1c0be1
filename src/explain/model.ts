/**
 * A differentiable view of a radml layer graph + parameters, built only on the engine's public
 * compilers: logits, d(seed·logits)/d input, d loss/d input, activations at a cut value and
 * d(seed·logits)/d activations (via graph-split.ts). Sessions are compiled lazily and cached.
 */
import {
  compileInputGradientGraph, exportInferenceModel, InferenceModel, InputGradientSession,
  type LayerGraph, type LossSpec, type ParamSet,
} from '../engine/index.js';
import { InputError } from '../util/errors.js';
import { penultimateValue, prefixGraph, subsetParams, suffixGraph } from './graph-split.js';

export interface LogitGradient {
  logits: Float32Array;
  /** [N, ...input shape] */
  grad: Float32Array;
}

/**
 * @example
 *   const m = new GradientModel(graph, params);
 *   const { grad } = await m.logitGradient(x, 1, oneHot(1, 2, 1)); // d logit[1] / d x
 *   await m.release();
 */
export class GradientModel {
  private cache = new Map<string, Promise<InferenceModel | InputGradientSession>>();
  readonly threads: number;

  constructor(readonly graph: LayerGraph, readonly params: ParamSet, opts: { threads?: number } = {}) {
    this.threads = opts.threads ?? 1;
  }

  get numClasses(): number {
    return this.graph.numOutputs;
  }
  get inputShape(): number[] {
    return this.graph.inputShape;
  }
  get inputSize(): number {
    return this.graph.inputShape.reduce((a, b) => a * b, 1);
  }

  private cached<T extends InferenceModel | InputGradientSession>(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key);
    if (!p) {
      p = make();
      this.cache.set(key, p);
    }
    return p as Promise<T>;
  }

  private inference(): Promise<InferenceModel> {
    return this.cached('logits', () => InferenceModel.load(exportInferenceModel(this.graph, this.params, { outputs: 'logits' }), { threads: this.threads }));
  }

  /** Logits [N,K]. */
  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    return (await (await this.inference()).run(x, n, this.graph.inputShape)).logits;
  }

  /** d Σ seed·logits / d input; seed [N,K] (one-hot picks a class logit). */
  async logitGradient(x: Float32Array, n: number, seed: Float32Array): Promise<LogitGradient> {
    const s = await this.cached('logit-grad', () =>
      InputGradientSession.create(compileInputGradientGraph(this.graph, this.params, { kind: 'logit' }), this.graph, { threads: this.threads }));
    const r = await s.run(x, n, { seed });
    return { logits: r.logits, grad: r.inputGrad };
  }

  /**
   * d loss / d input for the given loss (the engine's loss normalisation: a mean over the batch, so
   * per-sample gradients are scaled by 1/N — attacks use only their sign or direction).
   */
  async lossGradient(x: Float32Array, n: number, loss: LossSpec, target: Float32Array, mask?: Float32Array): Promise<LogitGradient & { loss: number }> {
    const s = await this.cached(`loss-grad:${JSON.stringify(loss)}`, () =>
      InputGradientSession.create(compileInputGradientGraph(this.graph, this.params, { kind: 'loss', loss }), this.graph, { threads: this.threads }));
    const r = await s.run(x, n, mask ? { target, mask } : { target });
    return { logits: r.logits, grad: r.inputGrad, loss: r.loss ?? NaN };
  }

  /** Activations of a cut value (see graph-split.ts), flattened per sample: [N, size of value]. */
  async activations(layer: string, x: Float32Array, n: number): Promise<Float32Array> {
    const m = await this.cached(`prefix:${layer}`, async () => {
      const g = prefixGraph(this.graph, layer);
      return InferenceModel.load(exportInferenceModel(g, subsetParams(g, this.params), { outputs: 'logits' }), { threads: this.threads });
    });
    return (await m.run(x, n, this.graph.inputShape)).logits;
  }

  /** d Σ seed·logits / d activations of `layer`, given those activations [N, ...shape of layer]. */
  async activationGradient(layer: string, a: Float32Array, n: number, seed: Float32Array): Promise<LogitGradient> {
    const s = await this.cached(`suffix:${layer}`, () => {
      const g = suffixGraph(this.graph, layer);
      return InputGradientSession.create(compileInputGradientGraph(g, subsetParams(g, this.params), { kind: 'logit' }), g, { threads: this.threads });
    });
    const r = await s.run(a, n, { seed });
    return { logits: r.logits, grad: r.inputGrad };
  }

  /** Penultimate features (the input of the final linear layer), [N, F]. */
  async features(x: Float32Array, n: number): Promise<{ features: Float32Array; dim: number }> {
    const v = penultimateValue(this.graph);
    if (!v) throw new InputError('LAYER_UNKNOWN', 'the model does not end in a linear layer, so it has no penultimate features');
    const dim = this.graph.shapes[v]!.reduce((a, b) => a * b, 1);
    return { features: await this.activations(v, x, n), dim };
  }

  async release(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    for (const p of all) await (await p).release();
  }
}

/** One-hot rows [N,K] with a 1 at `classes[i]` (or one class for all rows). */
export function oneHot(classes: number | ArrayLike<number>, k: number, n: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) out[i * k + (typeof classes === 'number' ? classes : classes[i]!)] = 1;
  return out;
}
