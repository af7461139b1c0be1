/**
 * Alarm rules and the false-alarm budget.
 *
 * Budget: at most `budget` false alarms per 10,000 in-distribution studies over all detectors and
 * features (default 1). It is split between two rules that catch different drifts:
 *  - windowed tests (sudden shifts): every `step` studies the last `window` studies are tested and
 *    Holm's step-down (or Benjamini–Hochberg) is applied over every alarming test of that
 *    evaluation at level α = 0.75 · budget · step / 10,000, so the expected number of evaluations
 *    with any false rejection per 10,000 studies is ≤ 0.75 · budget;
 *  - CUSUM (slow drifts): on non-overlapping blocks of `window` studies each test's p-value becomes
 *    z = Φ⁻¹(1 − p) (N(0, 1) under no drift); S ← max(0, S + z − k), alarm when S > h, with k = 0.5
 *    and h set from Siegmund's approximation of the in-control run length so that all features
 *    together stay within the remaining 0.25 · budget.
 * Consecutive rejections of the same detector and feature are one alarm (an episode), which ends
 * after `window` studies without a rejection.
 */
import { normalQuantile } from '../util/normal.js';

export const HOLM_SHARE = 0.75;
export const CUSUM_K = 0.5;

/** Siegmund's approximation of the in-control average run length of a one-sided CUSUM on N(0,1). */
export function cusumArl0(h: number, k = CUSUM_K): number {
  const b = h + 1.166, d = -k;
  return (Math.exp(-2 * d * b) + 2 * d * b - 1) / (2 * d * d);
}

/** Smallest h whose in-control run length is at least `arl` blocks. */
export function cusumThreshold(arl: number, k = CUSUM_K): number {
  let lo = 0, hi = 50;
  for (let i = 0; i < 60; i++) { const mid = (lo + hi) / 2; if (cusumArl0(mid, k) >= arl) hi = mid; else lo = mid; }
  return hi;
}

/** Per-evaluation family-wise level of the windowed tests. */
export function windowAlpha(budget: number, step: number): number {
  return (HOLM_SHARE * budget * step) / 10000;
}

/** CUSUM threshold for `features` tests on blocks of `window` studies within the budget's CUSUM share. */
export function cusumThresholdFor(budget: number, window: number, features: number): number {
  const blocksPer10k = 10000 / window;
  // Expected false alarms per 10k studies ≈ features · blocks / ARL0 ≤ (1 − HOLM_SHARE) · budget.
  return cusumThreshold((Math.max(1, features) * blocksPer10k) / ((1 - HOLM_SHARE) * budget));
}

/** CUSUM increment of one p-value. */
export function cusumZ(p: number): number {
  return Math.max(-3, Math.min(6, normalQuantile(1 - Math.min(1 - 1e-12, Math.max(1e-12, p)))));
}
