/**
 * Uncertainty-label policies for training (Irvin et al. 2019, CheXpert; Pham et al. 2021, LSR):
 * pure functions that turn finding values (1 / 0 / -1 uncertain / null not mentioned) or soft
 * labels into a target and a mask for masked binary cross-entropy
 * (loss = Σ mask·BCE(pred, target) / Σ mask).
 *
 * - `u-ignore`: uncertain → masked out;      - `u-zeros`: uncertain → 0;   - `u-ones`: uncertain → 1;
 * - `u-lsr`: uncertain → a draw from U(low, high) (seeded), or a fixed `value`;
 * - `soft`: numeric soft labels (e.g. `soft_<finding>` from `radml consensus`) are the target,
 *   hard 1/0 as they are, uncertain masked out.
 * Every policy also takes `blank` (not mentioned → `negative` 0, the CheXpert convention, or
 * `ignore`) and `epsilon` (label smoothing of the final targets: t·(1−ε) + ε/2).
 *
 * The schema accepts the CLI shorthand too: "u-ones", "u-lsr" (U(0.55, 0.85)), "u-lsr:0.6,0.9",
 * "u-lsr:0.7" (fixed), "soft", with optional "+eps=0.1" and "+blank=ignore", e.g. "u-zeros+eps=0.05".
 */
import { z } from 'zod';
import type { FindingValue } from '../data/manifest.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

const common = {
  blank: z.enum(['negative', 'ignore']).default('negative'),
  epsilon: z.number().min(0).max(0.5).default(0),
};

const policyObjectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('u-ignore'), ...common }),
  z.object({ kind: z.literal('u-zeros'), ...common }),
  z.object({ kind: z.literal('u-ones'), ...common }),
  z
    .object({
      kind: z.literal('u-lsr'),
      low: z.number().min(0).max(1).default(0.55),
      high: z.number().min(0).max(1).default(0.85),
      /** A fixed target for uncertain labels instead of a uniform draw. */
      value: z.number().min(0).max(1).optional(),
      ...common,
    })
    .refine((p) => p.low <= p.high, 'u-lsr: low must not exceed high'),
  z.object({ kind: z.literal('soft'), ...common }),
]);

/** Parse the "u-lsr:0.6,0.9+eps=0.1+blank=ignore" shorthand into a policy object. */
function parseShorthand(s: string): unknown {
  const [head, ...mods] = s.trim().toLowerCase().split('+');
  const [kind, arg] = head!.split(':');
  const out: Record<string, unknown> = { kind };
  if (arg !== undefined) {
    const nums = arg.split(',').map(Number);
    if (kind !== 'u-lsr' || nums.some((n) => !Number.isFinite(n)) || nums.length > 2) return { kind: `invalid "${s}"` };
    if (nums.length === 1) out['value'] = nums[0];
    else [out['low'], out['high']] = nums;
  }
  for (const m of mods) {
    const [k, v] = m.split('=');
    if (k === 'eps' || k === 'epsilon') out['epsilon'] = Number(v);
    else if (k === 'blank') out['blank'] = v;
    else return { kind: `invalid "${s}"` };
  }
  return out;
}

/** A policy as an object or its CLI shorthand string. */
export const uncertaintyPolicySchema = z.preprocess((v) => (typeof v === 'string' ? parseShorthand(v) : v), policyObjectSchema);
export type UncertaintyPolicy = z.output<typeof policyObjectSchema>;
export type UncertaintyPolicyInput = z.input<typeof policyObjectSchema> | string;

/**
 * Validate a policy (object or shorthand) with a clear error.
 *
 * @example parseUncertaintyPolicy('u-ones') // { kind: 'u-ones', blank: 'negative', epsilon: 0 }
 */
export function parseUncertaintyPolicy(input: UncertaintyPolicyInput): UncertaintyPolicy {
  const r = uncertaintyPolicySchema.safeParse(input);
  if (!r.success)
    throw new InputError(
      'UNCERTAINTY_POLICY',
      `uncertainty policy ${JSON.stringify(input)} is not valid (u-ignore, u-zeros, u-ones, u-lsr[:low,high | :value], soft; +eps=ε; +blank=ignore): ${r.error.issues.map((i) => i.message).join('; ')}`,
    );
  return r.data;
}

export interface PolicyTargets {
  target: Float32Array;
  mask: Float32Array;
}

/**
 * Targets and mask for a vector of labels (one finding over cases, or one case over findings).
 * Numbers other than 1/0/-1 are soft labels in [0, 1] (used by `soft`; other policies round them).
 * `u-lsr` without a fixed value needs `rng` (seeded) so runs are reproducible.
 *
 * @example
 * policyTargets([1, 0, -1, null], parseUncertaintyPolicy('u-ignore'))
 * // target [1, 0, 0, 0], mask [1, 1, 0, 1]
 */
export function policyTargets(values: readonly (FindingValue | number)[], policy: UncertaintyPolicy, rng?: Rng): PolicyTargets {
  const n = values.length;
  const target = new Float32Array(n);
  const mask = new Float32Array(n);
  const eps = policy.epsilon;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let t = 0;
    let m = 1;
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
      if (policy.blank === 'ignore') m = 0;
      t = 0;
    } else if (v === 1 || v === 0) {
      t = v;
    } else if (v === -1) {
      switch (policy.kind) {
        case 'u-ignore':
        case 'soft':
          m = 0;
          break;
        case 'u-zeros':
          t = 0;
          break;
        case 'u-ones':
          t = 1;
          break;
        case 'u-lsr':
          if (policy.value !== undefined) t = policy.value;
          else {
            if (!rng) throw new RangeError('policyTargets: u-lsr with a uniform draw needs a seeded rng');
            t = rng.uniform(policy.low, policy.high);
          }
          break;
      }
    } else {
      if (v < 0 || v > 1) throw new RangeError(`policyTargets: value ${v} at ${i} is not 1/0/-1/null or a soft label in [0, 1]`);
      t = policy.kind === 'soft' ? v : v >= 0.5 ? 1 : 0;
    }
    target[i] = m === 0 ? 0 : t * (1 - eps) + eps / 2;
    mask[i] = m;
  }
  return { target, mask };
}

/**
 * Row-major targets and masks for a cases × findings table (the shape a multi-label batch needs).
 *
 * @example policyTargetsMatrix([[1, -1], [0, null]], parseUncertaintyPolicy('u-ones'))
 */
export function policyTargetsMatrix(rows: readonly (readonly (FindingValue | number)[])[], policy: UncertaintyPolicy, rng?: Rng): PolicyTargets & { findings: number } {
  const f = rows[0]?.length ?? 0;
  const target = new Float32Array(rows.length * f);
  const mask = new Float32Array(rows.length * f);
  rows.forEach((row, i) => {
    if (row.length !== f) throw new RangeError(`policyTargetsMatrix: row ${i} has ${row.length} values, expected ${f}`);
    const r = policyTargets(row, policy, rng);
    target.set(r.target, i * f);
    mask.set(r.mask, i * f);
  });
  return { target, mask, findings: f };
}

/** Mean masked binary cross-entropy (a reference for the engine's loss; probabilities in (0, 1)). */
export function maskedBce(probabilities: ArrayLike<number>, t: PolicyTargets): number {
  let sum = 0;
  let w = 0;
  for (let i = 0; i < t.target.length; i++) {
    const m = t.mask[i]!;
    if (m === 0) continue;
    const p = Math.min(1 - 1e-7, Math.max(1e-7, probabilities[i]!));
    const y = t.target[i]!;
    sum += -m * (y * Math.log(p) + (1 - y) * Math.log(1 - p));
    w += m;
  }
  return w === 0 ? 0 : sum / w;
}

