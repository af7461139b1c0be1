/**
 * Optimizers (SGD with momentum / Nesterov, Adam, AdamW), learning-rate schedules and BatchNorm
 * running statistics — pure JS, updating ParamSet tensors in place with PyTorch's formulas.
 */
import { InputError } from '../util/errors.js';
import type { NamedTensor, ParamSet } from './graph.js';

export type OptimizerSpec =
  | { kind: 'sgd'; momentum?: number; nesterov?: boolean; weightDecay?: number }
  | { kind: 'adam'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
  | { kind: 'adamw'; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

export interface Optimizer {
  /** One update; a parameter whose gradient is empty (frozen) is left untouched. */
  step(params: ParamSet, grads: Float32Array[], lr: number): void;
  /** JSON-safe state (numbers arrays), for checkpoints. */
  state(): unknown;
  loadState(s: unknown): void;
}

interface SavedState {
  kind: string;
  t: number;
  slots: Record<string, number[][]>;
}

/**
 * Creates an optimizer whose state is shaped like `params.trainable`.
 *
 * @example
 *   const opt = createOptimizer({ kind: 'adamw', weightDecay: 1e-4 }, params);
 *   opt.step(params, out.grads, learningRate(1e-3, { kind: 'cosine' }, epoch, epochs, 1, frac));
 */
export function createOptimizer(spec: OptimizerSpec, params: ParamSet): Optimizer {
  const wd = spec.weightDecay ?? 0;
  if (!(wd >= 0)) throw new InputError('OPTIMIZER_INVALID', `weightDecay must be ≥ 0, got ${wd}`);
  const sizes = params.trainable.map((t) => t.data.length);
  const zeros = (): Float64Array[] => sizes.map((n) => new Float64Array(n));
  let t = 0;
  const check = (p: ParamSet, grads: Float32Array[], lr: number) => {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new InputError('OPTIMIZER_INVALID', `learning rate must be finite and ≥ 0, got ${lr}`);
    if (grads.length !== p.trainable.length || p.trainable.length !== sizes.length) {
      throw new InputError('OPTIMIZER_INVALID', `got ${grads.length} gradients for ${p.trainable.length} parameters (optimizer made for ${sizes.length})`);
    }
    grads.forEach((g, i) => {
      if (g.length !== 0 && g.length !== sizes[i]) throw new InputError('OPTIMIZER_INVALID', `gradient ${i} has ${g.length} values, expected ${sizes[i]}`);
    });
  };

  if (spec.kind === 'sgd') {
    const momentum = spec.momentum ?? 0;
    const nesterov = spec.nesterov ?? false;
    if (nesterov && momentum <= 0) throw new InputError('OPTIMIZER_INVALID', 'Nesterov needs momentum > 0');
    let buf = zeros();
    return {
      step(p, grads, lr) {
        check(p, grads, lr);
        t++;
        p.trainable.forEach((param, i) => {
          const g = grads[i]!;
          if (g.length === 0) return;
          const w = param.data, b = buf[i]!;
          for (let j = 0; j < w.length; j++) {
            let d = g[j]! + wd * w[j]!;
            if (momentum > 0) {
              // PyTorch: the first step initialises the buffer with the gradient itself.
              b[j] = t === 1 ? d : momentum * b[j]! + d;
              d = nesterov ? d + momentum * b[j]! : b[j]!;
            }
            w[j] = w[j]! - lr * d;
          }
        });
      },
      state: (): SavedState => ({ kind: 'sgd', t, slots: { momentum: buf.map((a) => Array.from(a)) } }),
      loadState(s) {
        const st = readState(s, 'sgd', sizes, ['momentum']);
        t = st.t;
        buf = st.slots.momentum!;
      },
    };
  }
  if (spec.kind !== 'adam' && spec.kind !== 'adamw') {
    throw new InputError('OPTIMIZER_INVALID', `unknown optimizer "${(spec as { kind: string }).kind}"`);
  }
  const b1 = spec.beta1 ?? 0.9, b2 = spec.beta2 ?? 0.999, eps = spec.eps ?? 1e-8;
  const decoupled = spec.kind === 'adamw';
  let m = zeros(), v = zeros();
  return {
    step(p, grads, lr) {
      check(p, grads, lr);
      t++;
      const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
      p.trainable.forEach((param, i) => {
        const g = grads[i]!;
        if (g.length === 0) return;
        const w = param.data, mi = m[i]!, vi = v[i]!;
        for (let j = 0; j < w.length; j++) {
          let wj = w[j]!;
          let d = g[j]!;
          if (decoupled) wj *= 1 - lr * wd;
          else d += wd * wj;
          mi[j] = b1 * mi[j]! + (1 - b1) * d;
          vi[j] = b2 * vi[j]! + (1 - b2) * d * d;
          w[j] = wj - (lr * (mi[j]! / c1)) / (Math.sqrt(vi[j]! / c2) + eps);
        }
      });
    },
    state: (): SavedState => ({ kind: spec.kind, t, slots: { m: m.map((a) => Array.from(a)), v: v.map((a) => Array.from(a)) } }),
    loadState(s) {
      const st = readState(s, spec.kind, sizes, ['m', 'v']);
      t = st.t;
      m = st.slots.m!;
      v = st.slots.v!;
    },
  };
}

function readState(s: unknown, kind: string, sizes: number[], slots: string[]): { t: number; slots: Record<string, Float64Array[]> } {
  const st = s as SavedState;
  const bad = (why: string): never => {
    throw new InputError('OPTIMIZER_STATE_INVALID', `optimizer state does not fit: ${why}`);
  };
  if (!st || typeof st !== 'object' || st.kind !== kind) bad(`expected a "${kind}" state`);
  if (!Number.isInteger(st.t) || st.t < 0) bad('step count missing');
  const out: Record<string, Float64Array[]> = {};
  for (const name of slots) {
    const arrs = st.slots?.[name];
    if (!Array.isArray(arrs) || arrs.length !== sizes.length) bad(`slot "${name}" has the wrong number of tensors`);
    out[name] = arrs!.map((a, i) => {
      if (!Array.isArray(a) || a.length !== sizes[i]) bad(`slot "${name}" tensor ${i} has the wrong size`);
      return Float64Array.from(a);
    });
  }
  return { t: st.t, slots: out };
}

export type ScheduleSpec = { kind: 'constant' } | { kind: 'step'; stepSize: number; gamma: number } | { kind: 'cosine'; minLr?: number };

/**
 * Learning rate at a (fractional) epoch: linear warm-up from 1% of base to base over the first
 * `warmupEpochs`, then the schedule. `fracOfEpoch` ∈ [0,1) is progress within `epoch` (0-based).
 * Cosine anneals from base (end of warm-up) to minLr at totalEpochs; step multiplies by gamma every
 * stepSize epochs (counted from 0, like PyTorch's StepLR).
 *
 * @example learningRate(0.1, { kind: 'cosine' }, 5, 10) // 0.05
 */
export function learningRate(base: number, schedule: ScheduleSpec, epoch: number, totalEpochs: number, warmupEpochs = 0, fracOfEpoch = 0): number {
  const e = epoch + fracOfEpoch;
  if (warmupEpochs > 0 && e < warmupEpochs) return base * (0.01 + (0.99 * Math.max(e, 0)) / warmupEpochs);
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      if (!(schedule.stepSize > 0)) throw new InputError('SCHEDULE_INVALID', `stepSize must be > 0, got ${schedule.stepSize}`);
      return base * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const span = Math.max(totalEpochs - warmupEpochs, 1e-9);
      const prog = Math.min(1, Math.max(0, (e - warmupEpochs) / span));
      return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * prog));
    }
  }
}

/**
 * PyTorch's running-statistics update: running = (1−m)·running + m·batch, with the variance made
 * unbiased by count/(count−1) (count = N·H·W values per channel; taken from each stat's `count`,
 * else from `batch`).
 */
export function updateRunningStats(
  params: ParamSet, batchStats: (NamedTensor & { count?: number })[], momentum = 0.1, batch?: number,
): void {
  const buf = new Map(params.buffers.map((b) => [b.name, b]));
  for (const s of batchStats) {
    const m = /^(.*)\.batch_(mean|var)$/.exec(s.name);
    if (!m) throw new InputError('BATCH_STATS_INVALID', `"${s.name}" is not a batch statistic`);
    const target = buf.get(`${m[1]}.running_${m[2]}`);
    if (!target || target.data.length !== s.data.length) throw new InputError('BATCH_STATS_INVALID', `no buffer fits "${s.name}"`);
    const count = s.count ?? batch ?? 0;
    const unbias = m[2] === 'var' && count > 1 ? count / (count - 1) : 1;
    for (let i = 0; i < target.data.length; i++) {
      target.data[i] = (1 - momentum) * target.data[i]! + momentum * s.data[i]! * unbias;
    }
  }
}
