/**
 * Two-sample tests of a categorical feature (window vs weighted reference) on a 2×K table:
 * Pearson chi-square and the G-test, with small-count handling — categories whose expected count
 * is below 5 in either row are pooled, and a pool still below 1 is merged into the rarest other
 * category (Cochran's rule). Reference counts are weighted and scaled to their effective size.
 * Also Jensen–Shannon divergence and PSI on the same proportions.
 */
import { chiSquareSf, effectiveSize } from '../math.js';

export interface CategoricalTable {
  categories: string[];
  /** Reference counts (weighted, scaled to the effective sample size) and window counts. */
  ref: number[];
  win: number[];
}

/** Build the table of one feature, ignoring blank values on both sides. */
export function categoricalTable(refValues: string[], refWeights: ArrayLike<number>, winValues: string[]): CategoricalTable {
  const wsum = new Map<string, number>();
  const kept: number[] = [];
  refValues.forEach((v, i) => { if (v !== '') { wsum.set(v, (wsum.get(v) ?? 0) + refWeights[i]!); kept.push(refWeights[i]!); } });
  const neff = effectiveSize(kept);
  const total = kept.reduce((s, w) => s + w, 0);
  const wc = new Map<string, number>();
  for (const v of winValues) if (v !== '') wc.set(v, (wc.get(v) ?? 0) + 1);
  const categories = [...new Set([...wsum.keys(), ...wc.keys()])].sort();
  return { categories, ref: categories.map((c) => total > 0 ? ((wsum.get(c) ?? 0) / total) * neff : 0), win: categories.map((c) => wc.get(c) ?? 0) };
}

/** Pool sparse categories (see the file header). Returns the pooled table; pooled names joined by '|'. */
export function poolSparse(t: CategoricalTable, minExpected = 5): CategoricalTable {
  const R = t.ref.reduce((a, b) => a + b, 0), W = t.win.reduce((a, b) => a + b, 0), N = R + W;
  if (N === 0) return t;
  const cats: string[] = [], ref: number[] = [], win: number[] = [];
  const pool = { names: [] as string[], ref: 0, win: 0 };
  t.categories.forEach((c, i) => {
    const col = t.ref[i]! + t.win[i]!;
    if (Math.min((R * col) / N, (W * col) / N) < minExpected) { pool.names.push(c); pool.ref += t.ref[i]!; pool.win += t.win[i]!; }
    else { cats.push(c); ref.push(t.ref[i]!); win.push(t.win[i]!); }
  });
  if (pool.names.length) {
    const col = pool.ref + pool.win;
    if (Math.min((R * col) / N, (W * col) / N) >= 1 || cats.length === 0) { cats.push(pool.names.join('|')); ref.push(pool.ref); win.push(pool.win); }
    else {
      let j = 0;
      for (let i = 1; i < cats.length; i++) if (ref[i]! + win[i]! < ref[j]! + win[j]!) j = i;
      cats[j] = `${cats[j]}|${pool.names.join('|')}`; ref[j]! += pool.ref; win[j]! += pool.win;
    }
  }
  return { categories: cats, ref, win };
}

/**
 * Pearson chi-square (or G when `g`) of a 2×K table; df = K − 1 (scipy `chi2_contingency(correction=False)`).
 * @example chiSquareTable({ categories: ['a','b'], ref: [30, 70], win: [50, 50] }).pValue
 */
export function chiSquareTable(t: CategoricalTable, g = false): { statistic: number; df: number; pValue: number } {
  const R = t.ref.reduce((a, b) => a + b, 0), W = t.win.reduce((a, b) => a + b, 0), N = R + W;
  const K = t.categories.length;
  if (K < 2 || R === 0 || W === 0) return { statistic: 0, df: 0, pValue: 1 };
  let s = 0;
  for (let i = 0; i < K; i++) {
    const col = t.ref[i]! + t.win[i]!;
    for (const [obs, row] of [[t.ref[i]!, R], [t.win[i]!, W]] as const) {
      const e = (row * col) / N;
      if (e <= 0) continue;
      s += g ? (obs > 0 ? 2 * obs * Math.log(obs / e) : 0) : (obs - e) ** 2 / e;
    }
  }
  return { statistic: s, df: K - 1, pValue: chiSquareSf(s, K - 1) };
}

/** Jensen–Shannon divergence (nats) of the two rows' proportions, equal weights. */
export function jensenShannon(t: CategoricalTable): number {
  const R = t.ref.reduce((a, b) => a + b, 0), W = t.win.reduce((a, b) => a + b, 0);
  let js = 0;
  t.categories.forEach((_, i) => {
    const p = t.ref[i]! / R, q = t.win[i]! / W, m = (p + q) / 2;
    if (p > 0) js += 0.5 * p * Math.log(p / m);
    if (q > 0) js += 0.5 * q * Math.log(q / m);
  });
  return js;
}

/**
 * Population stability index Σ (q − p) ln(q / p) with proportions floored at `eps` (a category
 * absent on one side would make it infinite).
 * @example psi([0.25, 0.25, 0.5], [0.2, 0.3, 0.5]) // 0.0203
 */
export function psi(expected: number[], actual: number[], eps = 1e-4): number {
  let s = 0;
  for (let i = 0; i < expected.length; i++) {
    const p = Math.max(eps, expected[i]!), q = Math.max(eps, actual[i]!);
    s += (q - p) * Math.log(q / p);
  }
  return s;
}
