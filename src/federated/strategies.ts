/**
 * Server-side aggregation, one function per rule, on named float32 tensors (the ArrayRecord view of
 * a model). Every rule follows the definition Flower ships (flwr.server.strategy.aggregate and
 * flwr.serverapp.strategy), and test/federated/strategies.test.ts checks each against it:
 *
 *   FedAvg (McMahan et al. 2017): Σ nᵢwᵢ / Σ nᵢ (or the plain mean).
 *   FedProx (Li et al. 2020): FedAvg on the server; the proximal term lives in local training (local.ts).
 *   FedAdam / FedYogi (Reddi et al. 2021): the averaged update Δ drives a server Adam/Yogi step
 *     (flwr's FedAdam bias-corrects η; its FedYogi does not — mirrored here).
 *   FedBN (Li et al. 2021): BatchNorm affine parameters and statistics stay at each site (`isBatchNorm`).
 *   Coordinate median, trimmed mean (β cut from each end), Krum / multi-Krum (Blanchard et al. 2017).
 */
import { InputError } from '../util/errors.js';

export type Weights = Map<string, Float32Array>;

export interface ClientUpdate {
  weights: Weights;
  /** Training examples behind the update (the FedAvg weight). */
  examples: number;
}

function names(updates: ClientUpdate[]): string[] {
  if (updates.length === 0) throw new InputError('FEDERATE_AGGREGATE', 'nothing to aggregate: no client updates');
  const first = [...updates[0]!.weights.keys()];
  for (const u of updates) {
    if (u.weights.size !== first.length || first.some((k) => u.weights.get(k)?.length !== updates[0]!.weights.get(k)!.length)) {
      throw new InputError('FEDERATE_AGGREGATE', 'client updates disagree on tensor names or sizes');
    }
  }
  return first;
}

/**
 * Weighted (by examples) or plain mean of the updates, tensor by tensor, in float64.
 *
 * @example const global = fedAvg([{ weights: a, examples: 30 }, { weights: b, examples: 10 }]);
 */
export function fedAvg(updates: ClientUpdate[], weighting: 'examples' | 'uniform' = 'examples'): Weights {
  const ks = names(updates);
  const w = updates.map((u) => (weighting === 'examples' ? u.examples : 1));
  const total = w.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new InputError('FEDERATE_AGGREGATE', 'the updates carry no examples to weight by');
  const out: Weights = new Map();
  for (const k of ks) {
    const n = updates[0]!.weights.get(k)!.length;
    const acc = new Float64Array(n);
    updates.forEach((u, i) => {
      const x = u.weights.get(k)!;
      const wi = w[i]!;
      for (let j = 0; j < n; j++) acc[j] = acc[j]! + wi * x[j]!;
    });
    const r = new Float32Array(n);
    for (let j = 0; j < n; j++) r[j] = acc[j]! / total;
    out.set(k, r);
  }
  return out;
}

/** Coordinate-wise median (numpy's: mean of the two middle values for an even count). */
export function coordinateMedian(updates: ClientUpdate[]): Weights {
  const ks = names(updates);
  const out: Weights = new Map();
  const col = new Float64Array(updates.length);
  for (const k of ks) {
    const n = updates[0]!.weights.get(k)!.length;
    const r = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < updates.length; i++) col[i] = updates[i]!.weights.get(k)![j]!;
      col.sort();
      const m = col.length >> 1;
      r[j] = col.length % 2 ? col[m]! : (col[m - 1]! + col[m]!) / 2;
    }
    out.set(k, r);
  }
  return out;
}

/** Coordinate-wise trimmed mean: the ⌊β·n⌋ lowest and highest values dropped (scipy.stats.trim_mean). */
export function trimmedMean(updates: ClientUpdate[], beta: number): Weights {
  if (!(beta >= 0 && beta < 0.5)) throw new InputError('FEDERATE_AGGREGATE', `trimmed mean: the fraction cut from each end must be in [0, 0.5) (got ${beta})`);
  const ks = names(updates);
  const cut = Math.floor(beta * updates.length);
  const out: Weights = new Map();
  const col = new Float64Array(updates.length);
  for (const k of ks) {
    const n = updates[0]!.weights.get(k)!.length;
    const r = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < updates.length; i++) col[i] = updates[i]!.weights.get(k)![j]!;
      col.sort();
      let s = 0;
      for (let i = cut; i < col.length - cut; i++) s += col[i]!;
      r[j] = s / (col.length - 2 * cut);
    }
    out.set(k, r);
  }
  return out;
}

function flatDistances(updates: ClientUpdate[], ks: string[]): Float64Array[] {
  const n = updates.length;
  const d = Array.from({ length: n }, () => new Float64Array(n));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      let s = 0;
      for (const k of ks) {
        const x = updates[a]!.weights.get(k)!;
        const y = updates[b]!.weights.get(k)!;
        for (let j = 0; j < x.length; j++) {
          const t = x[j]! - y[j]!;
          s += t * t;
        }
      }
      d[a]![b] = s;
      d[b]![a] = s;
    }
  }
  return d;
}

/**
 * Krum scores (sum of squared distances to the n − f − 2 nearest others) and the chosen clients:
 * Krum keeps the lowest score's weights; multi-Krum (`keep` > 0) averages the `keep` lowest by examples.
 */
export function krum(updates: ClientUpdate[], byzantine: number, keep = 0): { weights: Weights; selected: number[]; scores: number[] } {
  const ks = names(updates);
  const d = flatDistances(updates, ks);
  const closest = Math.max(1, updates.length - byzantine - 2);
  const scores = d.map((row, i) => {
    const others = [...row].map((v, j) => [v, j] as const).filter(([, j]) => j !== i).map(([v]) => v).sort((a, b) => a - b);
    return others.slice(0, closest).reduce((a, b) => a + b, 0);
  });
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
  if (keep > 0) {
    const selected = order.slice(0, keep);
    return { weights: fedAvg(selected.map((i) => updates[i]!)), selected, scores };
  }
  const best = order[0]!;
  return { weights: new Map([...updates[best]!.weights].map(([k, v]) => [k, Float32Array.from(v)])), selected: [best], scores };
}

export type AggregationRule = 'mean' | 'median' | 'trimmed' | 'krum' | 'multikrum';

export interface AggregationOptions {
  rule: AggregationRule;
  /** Trimmed mean: fraction cut from each end (default 0.2). */
  trimFraction?: number;
  /** Krum: assumed number of Byzantine clients (default 1). */
  byzantine?: number;
  /** Multi-Krum: clients kept (default n − f). */
  keep?: number;
  weighting?: 'examples' | 'uniform';
}

/** Aggregate by the named rule (the robust ones ignore example counts, as Flower's do). */
export function aggregate(updates: ClientUpdate[], o: AggregationOptions): Weights {
  switch (o.rule) {
    case 'mean': return fedAvg(updates, o.weighting ?? 'examples');
    case 'median': return coordinateMedian(updates);
    case 'trimmed': return trimmedMean(updates, o.trimFraction ?? 0.2);
    case 'krum': return krum(updates, o.byzantine ?? 1).weights;
    case 'multikrum': return krum(updates, o.byzantine ?? 1, o.keep ?? Math.max(1, updates.length - (o.byzantine ?? 1))).weights;
  }
}

export interface ServerOptimizerOptions {
  kind: 'adam' | 'yogi';
  /** Server learning rate η (flwr default 0.1). */
  eta?: number;
  beta1?: number;
  beta2?: number;
  /** Adaptivity τ (flwr default 1e-3). */
  tau?: number;
}

/**
 * FedAdam / FedYogi server optimiser state (flwr.serverapp.strategy.FedAdam / FedYogi).
 *
 * @example
 *   const opt = new ServerOptimizer({ kind: 'adam', eta: 0.01 });
 *   global = opt.step(global, fedAvg(updates), round);
 */
export class ServerOptimizer {
  private m: Weights | null = null;
  private v: Weights | null = null;
  constructor(readonly o: ServerOptimizerOptions) {}

  /** New global weights from the current ones and the aggregate of the clients' weights, at `round` (1-based). */
  step(current: Weights, aggregated: Weights, round: number): Weights {
    const eta = this.o.eta ?? 0.1;
    const b1 = this.o.beta1 ?? 0.9;
    const b2 = this.o.beta2 ?? 0.99;
    const tau = this.o.tau ?? 1e-3;
    const etaNorm = this.o.kind === 'adam' ? (eta * Math.sqrt(1 - b2 ** (round + 1))) / (1 - b1 ** (round + 1)) : eta;
    const m = this.m ?? new Map([...current].map(([k, x]) => [k, new Float32Array(x.length)]));
    const v = this.v ?? new Map([...current].map(([k, x]) => [k, new Float32Array(x.length)]));
    const out: Weights = new Map();
    for (const [k, x] of current) {
      const a = aggregated.get(k);
      if (!a || a.length !== x.length) throw new InputError('FEDERATE_AGGREGATE', `server optimiser: tensor "${k}" missing from the aggregate`);
      const mk = m.get(k)!;
      const vk = v.get(k)!;
      const r = new Float32Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const delta = a[j]! - x[j]!;
        mk[j] = b1 * mk[j]! + (1 - b1) * delta;
        const d2 = delta * delta;
        vk[j] = this.o.kind === 'adam' ? b2 * vk[j]! + (1 - b2) * d2 : vk[j]! - (1 - b2) * d2 * Math.sign(vk[j]! - d2);
        r[j] = x[j]! + (etaNorm * mk[j]!) / (Math.sqrt(vk[j]!) + tau);
      }
      out.set(k, r);
    }
    this.m = m;
    this.v = v;
    return out;
  }
}

/** FedBN: tensors that stay at each site (BatchNorm weight, bias, running statistics). */
export function isBatchNorm(name: string, bnLayers: ReadonlySet<string>): boolean {
  const layer = name.slice(0, name.lastIndexOf('.'));
  return bnLayers.has(layer);
}
