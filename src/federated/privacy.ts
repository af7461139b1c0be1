/**
 * Client-level differential privacy for federated averaging (DP-FedAvg, McMahan et al. 2018; the
 * same mechanism as Flower's DifferentialPrivacyServerSideFixedClipping): each client's update is
 * clipped to L2 norm C, the clipped updates are averaged, and Gaussian noise with standard
 * deviation σ·C/m (m clients in the round) is added to the average.
 *
 * The accountant is Rényi DP for the sampled Gaussian mechanism (Mironov 2017; Mironov, Talwar &
 * Zhang 2019), composed over rounds and converted to (ε, δ) with the conversion of Canonne, Kamath
 * & Steinke (2020) — the computation of Google's dp-accounting RdpAccountant with its default
 * orders, which test/federated/privacy.test.ts checks it against.
 */
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Weights } from './strategies.js';

/** dp-accounting's DEFAULT_RDP_ORDERS. */
export const RDP_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 53 }, (_, x) => 11 + x),
  128, 256, 512, 1024,
];

function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === -Infinity) return -Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log erfc(x): Chebyshev fit (Numerical Recipes' erfcc, relative error < 1.2e-7) kept in log form for large x. */
export function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logPos = Math.log(t) + poly;
  return x >= 0 ? logPos : Math.log(2 - Math.exp(logPos));
}

function logBinomInt(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    const c = logBinomInt(alpha, i) + i * Math.log(q) + (alpha - i) * Math.log1p(-q);
    logA = logAdd(logA, c + (i * i - i) / (2 * sigma * sigma));
  }
  return logA;
}

/**
 * log A_α for fractional α (Sec. 3.3 of arXiv:1908.10530) as dp-accounting computes it: the terms'
 * magnitudes |binom(α, i)| are all added, which bounds A_α from above (a conservative ε).
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let a0 = -Infinity;
  let a1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const log1mq = Math.log1p(-q);
  let coef = 1;
  let last0 = -Infinity;
  let last1 = -Infinity;
  for (let i = 0; i < 1000; i++) {
    if (i > 0) coef *= (alpha - (i - 1)) / i;
    const logCoef = Math.log(Math.abs(coef));
    const j = alpha - i;
    const t0 = logCoef + i * Math.log(q) + j * log1mq;
    const t1 = logCoef + j * Math.log(q) + i * log1mq;
    const e0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const e1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const s0 = t0 + (i * i - i) / (2 * sigma * sigma) + e0;
    const s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1;
    a0 = logAdd(a0, s0);
    a1 = logAdd(a1, s1);
    const total = logAdd(a0, a1);
    if (s0 < last0 && s1 < last1 && Math.max(s0, s1) < total - 30) return total;
    last0 = s0;
    last1 = s1;
  }
  // Not converged: dp-accounting drops the order (infinite RDP) rather than report a wrong bound.
  return Infinity;
}

/**
 * RDP of one sampled Gaussian step at order α (sampling rate q, noise multiplier σ).
 *
 * @example sampledGaussianRdp(1, 1.0, 2) // α/(2σ²) = 1
 */
export function sampledGaussianRdp(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** (ε, δ) from RDP values at the given orders (dp-accounting's conversion). */
export function rdpToEpsilon(rdp: readonly number[], delta: number, orders: readonly number[] = RDP_ORDERS): { epsilon: number; order: number } {
  let best = Infinity;
  let order = NaN;
  orders.forEach((a, i) => {
    const r = rdp[i]!;
    let eps: number;
    if (delta * delta + Math.expm1(-r) > 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Infinity;
    if (eps < best) {
      best = eps;
      order = a;
    }
  });
  return { epsilon: Math.max(0, best), order };
}

/**
 * Privacy spent after `rounds` rounds of the sampled Gaussian mechanism.
 *
 * @example epsilonAfter({ samplingRate: 1, noiseMultiplier: 1.1, rounds: 10, delta: 1e-5 }).epsilon
 */
export function epsilonAfter(o: { samplingRate: number; noiseMultiplier: number; rounds: number; delta: number }): { epsilon: number; order: number } {
  if (!(o.samplingRate > 0 && o.samplingRate <= 1)) throw new InputError('FEDERATE_DP', `sampling rate must be in (0, 1] (got ${o.samplingRate})`);
  if (!(o.delta > 0 && o.delta < 1)) throw new InputError('FEDERATE_DP', `δ must be in (0, 1) (got ${o.delta})`);
  const rdp = RDP_ORDERS.map((a) => o.rounds * sampledGaussianRdp(o.samplingRate, o.noiseMultiplier, a));
  return rdpToEpsilon(rdp, o.delta);
}

/** L2 norm over every tensor of an update. */
export function l2Norm(w: Weights): number {
  let s = 0;
  for (const x of w.values()) for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** The update scaled to norm at most `clip` (unchanged when already inside). */
export function clipUpdate(delta: Weights, clip: number): { delta: Weights; norm: number; clipped: boolean } {
  const norm = l2Norm(delta);
  const f = norm > clip ? clip / norm : 1;
  const out: Weights = new Map([...delta].map(([k, x]) => [k, f === 1 ? Float32Array.from(x) : Float32Array.from(x, (v) => v * f)]));
  return { delta: out, norm, clipped: f < 1 };
}

/**
 * DP-FedAvg's server step: mean of the clipped client deltas plus N(0, (σC/m)²) noise per coordinate.
 *
 * @example const noisyMean = privateMean(deltas, { clip: 1, noiseMultiplier: 1.1 }, new Rng('round-3'));
 */
export function privateMean(deltas: Weights[], o: { clip: number; noiseMultiplier: number }, rng: Rng): { mean: Weights; clippedFraction: number } {
  if (!(o.clip > 0)) throw new InputError('FEDERATE_DP', `--dp-clip must be > 0 (got ${o.clip})`);
  if (!(o.noiseMultiplier >= 0)) throw new InputError('FEDERATE_DP', `--dp-noise must be ≥ 0 (got ${o.noiseMultiplier})`);
  const m = deltas.length;
  let clipped = 0;
  const cl = deltas.map((d) => {
    const c = clipUpdate(d, o.clip);
    if (c.clipped) clipped++;
    return c.delta;
  });
  const sd = (o.noiseMultiplier * o.clip) / m;
  const mean: Weights = new Map();
  for (const k of cl[0]!.keys()) {
    const n = cl[0]!.get(k)!.length;
    const r = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (const d of cl) s += d.get(k)![j]!;
      r[j] = s / m + (sd > 0 ? rng.normal(0, sd) : 0);
    }
    mean.set(k, r);
  }
  return { mean, clippedFraction: clipped / m };
}
