/**
 * Adversarial attacks. White-box: FGSM (Goodfellow et al. 2015) and PGD under L∞ and L2 (Madry et
 * al. 2018) from input gradients of the loss. Black-box: the L∞ Square Attack (Andriushchenko et
 * al. 2020), which only queries scores, so it also runs on imported models without gradients.
 *
 * The loops work on any space with element bounds: intensity images in [0,1] for stress tests, or
 * model-input tensors for adversarial training (`adversarialBatch`).
 */
import { compileGraph, InputGradientSession, type LayerGraph, type LossSpec, type ParamSet } from '../engine/index.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/** Gradient of the attacked loss w.r.t. a batch x [n, per], with the logits at x. */
export type LossGradientFunction = (x: Float32Array, n: number) => Promise<{ grad: Float32Array; logits: Float32Array }>;
/** Per-image loss the attacker increases (e.g. the negative margin), from querying the model only. */
export type QueryLossFunction = (x: Float32Array, n: number) => Promise<Float64Array>;

export type AttackNorm = 'linf' | 'l2';

export interface Bounds {
  lo: number;
  hi: number;
}

function clampInto(x: Float32Array, b: Bounds | undefined): void {
  if (!b) return;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! < b.lo ? b.lo : x[i]! > b.hi ? b.hi : x[i]!;
}

function checkEps(eps: number): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new InputError('EPSILON_INVALID', `epsilon must be a finite number ≥ 0, got ${eps}`);
}

/**
 * FGSM: x + ε·sign(∇loss), clipped to the bounds.
 * @example const xAdv = await fgsm(gradFn, x, n, 2 / 255, { lo: 0, hi: 1 });
 */
export async function fgsm(gradFn: LossGradientFunction, x: Float32Array, n: number, eps: number, bounds?: Bounds): Promise<Float32Array> {
  checkEps(eps);
  const out = Float32Array.from(x);
  if (eps === 0) return out;
  const { grad } = await gradFn(x, n);
  for (let i = 0; i < out.length; i++) out[i] += eps * Math.sign(grad[i]!);
  clampInto(out, bounds);
  return out;
}

/** Projects each row of `adv` onto the ε-ball (L∞ or L2) around the matching row of `x`. */
function project(adv: Float32Array, x: Float32Array, n: number, eps: number, norm: AttackNorm): void {
  const per = x.length / n;
  for (let i = 0; i < n; i++) {
    const o = i * per;
    if (norm === 'linf') {
      for (let p = 0; p < per; p++) {
        const d = adv[o + p]! - x[o + p]!;
        adv[o + p] = x[o + p]! + (d > eps ? eps : d < -eps ? -eps : d);
      }
    } else {
      let s = 0;
      for (let p = 0; p < per; p++) s += (adv[o + p]! - x[o + p]!) ** 2;
      const len = Math.sqrt(s);
      if (len > eps) for (let p = 0; p < per; p++) adv[o + p] = x[o + p]! + ((adv[o + p]! - x[o + p]!) * eps) / len;
    }
  }
}

export interface PgdOptions {
  eps: number;
  norm?: AttackNorm;
  /** Default 10. */
  steps?: number;
  /** Default 2.5·ε/steps (Madry et al.). */
  stepSize?: number;
  /** Start from a uniform random point in the ball (default true). */
  randomStart?: boolean;
  seed?: number;
  bounds?: Bounds;
}

/**
 * Projected gradient ascent on the loss inside the ε-ball (L∞: signed steps; L2: normalised steps).
 * @example const xAdv = await pgd(gradFn, x, n, { eps: 2 / 255, norm: 'linf', steps: 10, bounds: { lo: 0, hi: 1 } });
 */
export async function pgd(gradFn: LossGradientFunction, x: Float32Array, n: number, o: PgdOptions): Promise<Float32Array> {
  checkEps(o.eps);
  const norm = o.norm ?? 'linf';
  const steps = o.steps ?? 10;
  const alpha = o.stepSize ?? (2.5 * o.eps) / steps;
  const adv = Float32Array.from(x);
  if (o.eps === 0) return adv;
  const per = x.length / n;
  const rng = new Rng(o.seed ?? 1);
  if (o.randomStart ?? true) {
    if (norm === 'linf') for (let i = 0; i < adv.length; i++) adv[i] += rng.uniform(-o.eps, o.eps);
    else {
      // Uniform in the L2 ball: a Gaussian direction with radius ε·u^(1/d).
      for (let i = 0; i < n; i++) {
        const d = Float64Array.from({ length: per }, () => rng.normal());
        const len = Math.sqrt(d.reduce((s, v) => s + v * v, 0)) || 1;
        const r = o.eps * Math.pow(rng.random(), 1 / per);
        for (let p = 0; p < per; p++) adv[i * per + p] += (d[p]! / len) * r;
      }
    }
    clampInto(adv, o.bounds);
  }
  for (let s = 0; s < steps; s++) {
    const { grad } = await gradFn(adv, n);
    if (norm === 'linf') for (let i = 0; i < adv.length; i++) adv[i] += alpha * Math.sign(grad[i]!);
    else {
      for (let i = 0; i < n; i++) {
        let g2 = 0;
        for (let p = 0; p < per; p++) g2 += grad[i * per + p]! ** 2;
        const g = Math.sqrt(g2);
        if (g > 0) for (let p = 0; p < per; p++) adv[i * per + p] += (alpha * grad[i * per + p]!) / g;
      }
    }
    project(adv, x, n, o.eps, norm);
    clampInto(adv, o.bounds);
  }
  return adv;
}

export interface SquareAttackOptions {
  eps: number;
  /** Queries per image (default 300). */
  queries?: number;
  /** Fraction of pixels in the first square (default 0.05), shrunk on the paper's schedule. */
  pInit?: number;
  seed?: number;
  bounds?: Bounds;
  /** Stop an image once its loss exceeds this (e.g. 0 for a negative margin: misclassified). */
  successLoss?: number;
}

/** Square Attack p-schedule, rescaled to the query budget as in the reference implementation (for 10 000). */
function squareFraction(pInit: number, it: number, budget: number): number {
  const i = Math.floor((it / budget) * 10000);
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let p = pInit;
  for (const c of cuts) if (i > c) p /= 2;
  return p;
}

/**
 * L∞ Square Attack on grey images [n, height·width]: random ±ε squares, kept when they raise the
 * query loss. Needs only model scores. Returns the adversarial images and queries used per image.
 */
export async function squareAttack(
  lossFn: QueryLossFunction, x: Float32Array, n: number, height: number, width: number, o: SquareAttackOptions,
): Promise<{ adversarial: Float32Array; queries: Int32Array }> {
  checkEps(o.eps);
  const per = height * width;
  if (x.length !== n * per) throw new InputError('BATCH_INVALID', `x has ${x.length} values, expected ${n} × ${height}×${width}`);
  const budget = o.queries ?? 300;
  const rng = new Rng(o.seed ?? 1);
  const pInit = o.pInit ?? 0.05;
  const success = o.successLoss ?? Infinity;
  const adv = Float32Array.from(x);
  const queries = new Int32Array(n);
  if (o.eps === 0) return { adversarial: adv, queries };
  // Vertical stripes of ±ε (the paper's initialisation).
  for (let i = 0; i < n; i++) for (let c = 0; c < width; c++) {
    const s = rng.random() < 0.5 ? -o.eps : o.eps;
    for (let r = 0; r < height; r++) adv[i * per + r * width + c] += s;
  }
  clampInto(adv, o.bounds);
  let best = await lossFn(adv, n);
  queries.fill(1);
  const cand = new Float32Array(n * per);
  for (let it = 1; it < budget; it++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (best[i]! < success) active.push(i);
    if (active.length === 0) break;
    const p = squareFraction(pInit, it, budget);
    const side = Math.max(1, Math.min(height - 1, Math.round(Math.sqrt(p * per))));
    active.forEach((i, j) => {
      const dst = cand.subarray(j * per, (j + 1) * per);
      dst.set(adv.subarray(i * per, (i + 1) * per));
      const r0 = rng.int(height - side + 1), c0 = rng.int(width - side + 1);
      const s = rng.random() < 0.5 ? -o.eps : o.eps;
      for (let r = r0; r < r0 + side; r++) for (let c = c0; c < c0 + side; c++) {
        let v = x[i * per + r * width + c]! + s;
        if (o.bounds) v = Math.min(o.bounds.hi, Math.max(o.bounds.lo, v));
        dst[r * width + c] = v;
      }
    });
    const l = await lossFn(cand.subarray(0, active.length * per), active.length);
    active.forEach((i, j) => {
      queries[i]!++;
      if (l[j]! > best[i]!) {
        best[i] = l[j]!;
        adv.set(cand.subarray(j * per, (j + 1) * per), i * per);
      }
    });
  }
  return { adversarial: adv, queries };
}

/** Per-image attack loss from logits: the negative margin (softmax) or the BCE (multi-label). */
export function attackLoss(logits: Float32Array, n: number, k: number, target: Float32Array, kind: 'softmax_ce' | 'bce_logits'): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 'softmax_ce') {
      let t = 0;
      for (let c = 1; c < k; c++) if (target[i * k + c]! > target[i * k + t]!) t = c;
      let other = -Infinity;
      for (let c = 0; c < k; c++) if (c !== t) other = Math.max(other, logits[i * k + c]!);
      out[i] = other - logits[i * k + t]!;
    } else {
      let s = 0;
      for (let c = 0; c < k; c++) {
        const z = logits[i * k + c]!, y = target[i * k + c]!;
        s += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      }
      out[i] = s / k;
    }
  }
  return out;
}

// ---- adversarial training

export interface AdversarialBatchOptions {
  method: 'fgsm' | 'pgd';
  norm?: AttackNorm;
  /** Radius in model-input units (after preprocessing; for z-score inputs, ε_intensity / std). */
  epsilon: number;
  steps?: number;
  stepSize?: number;
  seed?: number;
  /** Keep adversarial inputs inside these bounds (e.g. the z-scored image of 0 and 1). */
  bounds?: Bounds;
  /** bce_logits only: [N,K] 0 = ignore. */
  mask?: Float32Array;
}

/**
 * Input gradients of a training loss for CHANGING parameters (adversarial training): one ORT
 * session whose parameters are inputs (eval behaviour: BN running statistics, no dropout), so the
 * graph is compiled once and reused every step.
 *
 * @example
 *   const gen = await AdversarialGenerator.create(graph, { kind: 'softmax_ce' });
 *   const xAdv = await gen.batch(params, x, target, 32, { method: 'pgd', epsilon: 0.03, steps: 5 });
 */
export class AdversarialGenerator {
  private constructor(readonly graph: LayerGraph, readonly loss: LossSpec, private session: InputGradientSession) {}

  static async create(graph: LayerGraph, loss: LossSpec, opts: { threads?: number } = {}): Promise<AdversarialGenerator> {
    const c = compileGraph(graph, { mode: 'eval', params: 'inputs', objective: { kind: 'loss', loss }, paramGrads: false, inputGrad: true });
    return new AdversarialGenerator(graph, loss, await InputGradientSession.create(c.onnx, graph, opts));
  }

  /** d loss / d x at the given parameters. */
  async gradient(params: ParamSet, x: Float32Array, target: Float32Array, n: number, mask?: Float32Array): Promise<{ grad: Float32Array; logits: Float32Array; loss: number }> {
    const g = this.graph;
    const k = g.numOutputs;
    const per = g.inputShape.reduce((a, b) => a * b, 1);
    if (x.length !== n * per) throw new InputError('BATCH_INVALID', `x has ${x.length} values, expected ${n} × ${per}`);
    if (target.length !== n * k) throw new InputError('BATCH_INVALID', `target has ${target.length} values, expected ${n} × ${k}`);
    const r = await this.session.run(x, n, { target, ...(mask && { mask }) }, params);
    return { grad: r.inputGrad, logits: r.logits, loss: r.loss ?? NaN };
  }

  /** FGSM / PGD examples for one batch (model-input space). */
  async batch(params: ParamSet, x: Float32Array, target: Float32Array, n: number, o: AdversarialBatchOptions): Promise<Float32Array> {
    const gradFn: LossGradientFunction = (xx, nn) => this.gradient(params, xx, target, nn, o.mask);
    if (o.method === 'fgsm') return fgsm(gradFn, x, n, o.epsilon, o.bounds);
    return pgd(gradFn, x, n, { eps: o.epsilon, norm: o.norm ?? 'linf', steps: o.steps ?? 5, stepSize: o.stepSize, seed: o.seed, bounds: o.bounds });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * One-call form for the training loop: FGSM/PGD examples for a batch at the current parameters.
 * Pass a long-lived `generator` (AdversarialGenerator.create) to avoid recompiling every step.
 *
 * @example
 *   const xAdv = await adversarialBatch(graph, params, loss, x, target, n, { method: 'fgsm', epsilon: 0.05 }, gen);
 */
export async function adversarialBatch(
  graph: LayerGraph, params: ParamSet, loss: LossSpec, x: Float32Array, target: Float32Array, n: number,
  o: AdversarialBatchOptions, generator?: AdversarialGenerator,
): Promise<Float32Array> {
  const gen = generator ?? (await AdversarialGenerator.create(graph, loss));
  try {
    return await gen.batch(params, x, target, n, o);
  } finally {
    if (!generator) await gen.release();
  }
}
