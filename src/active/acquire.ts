/**
 * Choosing a batch: the strategy's own ranking, optionally made diverse (k-center greedy among the
 * top candidates) or class-balanced (round-robin over predicted classes), and optionally weighed by
 * label cost (value per unit cost, stopping at a budget).
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { kCenterGreedy } from './geometry.js';
import { bald } from './strategies/bald.js';
import { badge } from './strategies/badge.js';
import { coreset } from './strategies/coreset.js';
import { entropy } from './strategies/entropy.js';
import { leastConfidence } from './strategies/least-confidence.js';
import { margin } from './strategies/margin.js';
import { random } from './strategies/random.js';
import { variationRatio } from './strategies/variation-ratio.js';
import type { AcquisitionFunction, AcquisitionInput } from './types.js';

export const STRATEGIES: Record<string, AcquisitionFunction> = Object.fromEntries(
  [random, leastConfidence, margin, entropy, bald, variationRatio, coreset, badge].map((s) => [s.name, s]),
);
export const STRATEGY_NAMES = Object.keys(STRATEGIES);

/** @example strategy('entropy').needs // 'probabilities' */
export function strategy(name: string): AcquisitionFunction {
  const s = STRATEGIES[name];
  if (!s) throw new InputError('CLI_ARGS', `unknown acquisition strategy "${name}" (one of ${STRATEGY_NAMES.join(', ')})${didYouMean(name, STRATEGY_NAMES)}`);
  return s;
}

export const acquireOptionsSchema = z.object({
  /** Cases to pick (fewer when a budget runs out first, or the pool is smaller). */
  count: z.number().int().min(1),
  /** Score-based strategies: pick spread-out cases among the top `diversityPool`·count (needs embeddings). */
  diversity: z.boolean().default(false),
  diversityPool: z.number().min(1).default(5),
  /** Score-based strategies: round-robin over predicted classes, so rare classes get their share. */
  balance: z.boolean().default(false),
  /** Label cost per candidate (same order as the input); score-based strategies rank by value / cost. */
  costs: z.array(z.number().positive()).optional(),
  /** Stop when the next case would take the total cost over this. */
  budget: z.number().positive().optional(),
});
export type AcquireOptions = z.input<typeof acquireOptionsSchema>;

export interface Acquired {
  /** Candidate index (0-based, in the input's order). */
  index: number;
  /** 1-based position in the queue. */
  rank: number;
  /** The strategy's value when the case was picked (NaN when it has none, e.g. random). */
  value: number;
  cost: number;
  reason: string;
}

/** The predicted class of each case (categorical: argmax; multi-label: the most likely finding). */
function predictedClass(x: AcquisitionInput, i: number): number {
  let top = 0;
  for (let c = 1; c < x.k; c++) if (x.probabilities[i * x.k + c]! > x.probabilities[i * x.k + top]!) top = c;
  return top;
}

/**
 * Rank candidates and pick a batch.
 *
 * @example
 *   const picks = acquire('entropy', { kind: 'categorical', n, k: 2, probabilities, rng: new Rng(1) }, { count: 50, balance: true });
 *   picks[0] // { index: 1234, rank: 1, value: 0.693, cost: 1, reason: 'uncertain prediction: …' }
 */
export function acquire(name: string, x: AcquisitionInput, options: AcquireOptions): Acquired[] {
  const s = strategy(name);
  const o = acquireOptionsSchema.parse(options);
  if (o.costs && o.costs.length !== x.n) throw new InputError('ACTIVE_COSTS', `${o.costs.length} label costs for ${x.n} candidates`);
  if (x.probabilities.length !== x.n * x.k) throw new InputError('ACTIVE_SHAPE', `probabilities have ${x.probabilities.length} values, expected ${x.n} × ${x.k}`);
  const cost = (i: number) => o.costs?.[i] ?? 1;
  if (o.diversity && o.balance) throw new InputError('CLI_ARGS', 'choose batch diversity or class balance, not both');
  let order: number[];
  let values: number[];
  if (s.select) {
    if (o.diversity || o.balance) throw new InputError('CLI_ARGS', `${name} chooses its own set; --diversity and --balance apply to score-based strategies (${STRATEGY_NAMES.filter((n) => STRATEGIES[n]!.score).join(', ')})`);
    // With a budget, cases too dear for what is left are passed over, so pick a few spares.
    const r = s.select(x, o.budget !== undefined ? Math.min(x.n, 4 * o.count) : o.count);
    order = r.order;
    values = r.values;
  } else {
    const v = s.score!(x);
    const key = (i: number) => v[i]! / cost(i);
    // Highest value (per unit cost) first; ties by index for a stable queue.
    let ranked = Array.from({ length: x.n }, (_, i) => i).sort((a, b) => key(b) - key(a) || a - b);
    if (o.balance) {
      const groups = new Map<number, number[]>();
      for (const i of ranked) {
        const c = predictedClass(x, i);
        if (!groups.has(c)) groups.set(c, []);
        groups.get(c)!.push(i);
      }
      const lists = [...groups.values()];
      const out: number[] = [];
      for (let r = 0; out.length < ranked.length; r++) for (const l of lists) if (r < l.length) out.push(l[r]!);
      ranked = out;
    }
    if (o.diversity) {
      if (!x.embeddings) throw new InputError('ACTIVE_NEEDS_EMBEDDINGS', '--diversity needs penultimate embeddings, which this model does not expose');
      const m = Math.min(x.n, Math.ceil(o.count * o.diversityPool));
      const top = ranked.slice(0, m);
      const dim = x.embeddings.dim;
      const sub = new Float32Array(m * dim);
      top.forEach((i, j) => sub.set(x.embeddings!.data.subarray(i * dim, (i + 1) * dim), j * dim));
      const l = x.labelledEmbeddings;
      // Start from the single most valuable candidate when nothing is labelled.
      const kc = kCenterGreedy(sub, m, dim, o.budget !== undefined ? m : o.count, l && l.data.length ? { labelled: l.data, labelledCount: l.data.length / l.dim } : { first: 0 });
      ranked = kc.order.map((j) => top[j]!);
    }
    order = ranked;
    values = ranked.map((i) => v[i]!);
  }
  const out: Acquired[] = [];
  let spent = 0;
  for (let j = 0; j < order.length && out.length < o.count; j++) {
    const i = order[j]!;
    if (o.budget !== undefined && spent + cost(i) > o.budget + 1e-9) continue;
    spent += cost(i);
    let reason = s.reason(values[j]!, x, i);
    if (o.costs) reason += ` (label cost ${cost(i)})`;
    out.push({ index: i, rank: out.length + 1, value: values[j]!, cost: cost(i), reason });
  }
  return out;
}
