/**
 * Detector maths against independent references: KS, Wasserstein and chi-square / G against scipy,
 * the MMD permutation test against a numpy implementation fed the same permutations, PSI against a
 * worked example, the chi-square tail against tabulated values, Holm / BH against statsmodels.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { python } from '../evaluate/helpers.js';
import { Rng } from '../../src/util/rng.js';
import { chiSquareSf, kolmogorovSf, holm, benjaminiHochberg } from '../../src/monitor/math.js';
import { compareNumeric } from '../../src/monitor/detectors/numeric.js';
import { categoricalTable, chiSquareTable, jensenShannon, poolSparse, psi } from '../../src/monitor/detectors/categorical.js';
import { mmdTest, permutations } from '../../src/monitor/detectors/mmd.js';
import { cusumArl0, cusumThreshold } from '../../src/monitor/alarms.js';


// Inputs shared with the Python oracle, which runs once for all tests (scipy's import is slow).
const rng5 = new Rng(5);
const cases = [
  { a: Array.from({ length: 300 }, () => rng5.normal(0, 1)), b: Array.from({ length: 120 }, () => rng5.normal(0.3, 1)) },
  { a: Array.from({ length: 500 }, () => Math.round(rng5.normal(5, 2))), b: Array.from({ length: 200 }, () => Math.round(rng5.normal(5.5, 2))) }, // ties
  { a: Array.from({ length: 80 }, () => rng5.random()), b: Array.from({ length: 90 }, () => rng5.random()) },
];
const tables = [
  { ref: [120, 80, 40, 10], win: [30, 40, 20, 10] },
  { ref: [500, 300], win: [60, 140] },
  { ref: [200, 0, 50], win: [50, 68, 20] }, // a category never seen in the reference
];
const rng9 = new Rng(9);
const x = Array.from({ length: 60 }, () => [rng9.normal(0, 1), rng9.normal(0, 1), rng9.normal(0, 1)]);
const yNull = Array.from({ length: 40 }, () => [rng9.normal(0, 1), rng9.normal(0, 1), rng9.normal(0, 1)]);
const yShift = Array.from({ length: 40 }, () => [rng9.normal(0.6, 1), rng9.normal(0, 1), rng9.normal(0, 1)]);
const PERMS: Record<string, Int32Array[]> = { null: permutations(100, 300, 'null'), shift: permutations(100, 300, 'shift') };
const HOLM_P = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216];

interface Oracle {
  ks: { d: number; p: number; w: number; ww: number }[];
  chi: { chi: number; p: number; g: number; pg: number }[];
  mmd: { stat: number; p: number; bw: number; perm: number[] }[];
  holm: { holm: boolean[]; bh: boolean[] };
}
let cached: Oracle | undefined;
function oracle(): Oracle {
  cached ??= python<Oracle>(ORACLE_PY, {
    ks: cases, chi: tables, holm: HOLM_P,
    mmd: [{ x, y: yNull, perms: PERMS['null']!.map((p) => Array.from(p)) }, { x, y: yShift, perms: PERMS['shift']!.map((p) => Array.from(p)) }],
  });
  return cached;
}

const ORACLE_PY = `
import json, sys
import numpy as np
from scipy import stats
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests
inp = json.load(sys.stdin)
out = {'ks': [], 'chi': [], 'mmd': []}
for c in inp['ks']:
    r = stats.ks_2samp(c['a'], c['b'], method='asymp')
    wts = [1 + (i % 3) for i in range(len(c['a']))]
    out['ks'].append({'d': float(r.statistic), 'p': float(r.pvalue), 'w': float(stats.wasserstein_distance(c['a'], c['b'])),
                      'ww': float(stats.wasserstein_distance(c['a'], c['b'], u_weights=wts))})
for t in inp['chi']:
    c = chi2_contingency([t['ref'], t['win']], correction=False)
    g = chi2_contingency([t['ref'], t['win']], correction=False, lambda_='log-likelihood')
    out['chi'].append({'chi': float(c[0]), 'p': float(c[1]), 'g': float(g[0]), 'pg': float(g[1])})
for d in inp['mmd']:
    x = np.array(d['x']); y = np.array(d['y']); z = np.vstack([x, y]); n = len(x); m = len(y)
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    iu = np.triu_indices(n, 1); v = np.sort(sq[iu]); bw = v[(len(v) - 1) // 2]
    K = np.exp(-((z[:, None, :] - z[None, :, :]) ** 2).sum(-1) / (2 * bw))
    def stat(perm):
        a = np.empty(n + m); lab = np.where(np.arange(n + m) < n, 1.0 / n, -1.0 / m); a[perm] = lab
        return float(a @ K @ a)
    obs = stat(np.arange(n + m))
    perm = [stat(np.array(p)) for p in d['perms']]
    p = (1 + sum(1 for s in perm if s >= obs)) / (len(perm) + 1)
    out['mmd'].append({'stat': obs, 'p': p, 'bw': float(bw), 'perm': perm[:5]})
p = inp['holm']
out['holm'] = {'holm': [bool(v) for v in multipletests(p, 0.05, 'holm')[0]], 'bh': [bool(v) for v in multipletests(p, 0.05, 'fdr_bh')[0]]}
print(json.dumps(out))
`;

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

test('chi-square and Kolmogorov tails match tabulated values', () => {
  close(chiSquareSf(3.841458820694124, 1), 0.05, 1e-9, 'chi2(1) 95%');
  close(chiSquareSf(18.307038053275146, 10), 0.05, 1e-9, 'chi2(10) 95%');
  close(chiSquareSf(100, 3), 1.5541594313896026e-21, 1e-30, 'far tail (scipy chi2.sf(100, 3))');
  close(kolmogorovSf(1.3580986393225505), 0.05, 1e-6, 'Kolmogorov 95%');
});

test('KS statistic, p-value and Wasserstein match scipy', () => {
  const ref = oracle().ks;
  cases.forEach((c, i) => {
    const r = compareNumeric(c.a, c.a.map(() => 1), c.b);
    close(r.ks, ref[i]!.d, 1e-12, `KS D case ${i}`);
    // scipy's asymp uses the exact one-sample distribution at round(n·m/(n+m)); ours the limiting one.
    close(r.pValue, ref[i]!.p, 0.01 + 0.1 * ref[i]!.p, `KS p case ${i}`);
    close(r.wasserstein, ref[i]!.w, 1e-10, `Wasserstein case ${i}`);
    const rw = compareNumeric(c.a, c.a.map((_, k) => 1 + (k % 3)), c.b);
    close(rw.wasserstein, ref[i]!.ww, 1e-10, `weighted Wasserstein case ${i}`);
  });
});

test('chi-square and G-test of a 2×K table match scipy chi2_contingency; JS relates to G', () => {
  const ref = oracle().chi;
  tables.forEach((t, i) => {
    const tab = { categories: t.ref.map((_, k) => `c${k}`), ref: t.ref, win: t.win };
    const c = chiSquareTable(tab), g = chiSquareTable(tab, true);
    close(c.statistic, ref[i]!.chi, 1e-9 * ref[i]!.chi, `chi2 ${i}`);
    close(c.pValue, ref[i]!.p, 1e-12 + 1e-8 * ref[i]!.p, `chi2 p ${i}`);
    close(g.statistic, ref[i]!.g, 1e-9 * ref[i]!.g, `G ${i}`);
    close(g.pValue, ref[i]!.pg, 1e-12 + 1e-8 * ref[i]!.pg, `G p ${i}`);
    // With equal row totals, G = 4·N_row·JS (JS in nats with equal weights).
    if (t.ref.reduce((a, b) => a + b) === t.win.reduce((a, b) => a + b)) close(g.statistic, 4 * 200 * jensenShannon(tab), 1e-9, 'G vs JS');
  });
});

test('sparse categories are pooled so every expected count is at least 1, weighted counts scale to the effective size', () => {
  const refValues = [...Array(300).fill('A'), ...Array(150).fill('B'), 'C', 'D'];
  const win = [...Array(60).fill('A'), ...Array(38).fill('B'), 'E', 'E'];
  const raw = categoricalTable(refValues, refValues.map(() => 1), win);
  assert.deepEqual(raw.categories, ['A', 'B', 'C', 'D', 'E']);
  const pooled = poolSparse(raw);
  assert.ok(pooled.categories.length < raw.categories.length);
  const R = pooled.ref.reduce((a, b) => a + b), W = pooled.win.reduce((a, b) => a + b);
  pooled.categories.forEach((_, k) => assert.ok(Math.min((R * (pooled.ref[k]! + pooled.win[k]!)) / (R + W), (W * (pooled.ref[k]! + pooled.win[k]!)) / (R + W)) >= 1));
  const weighted = categoricalTable(['A', 'B', 'A', 'B'], [3, 1, 3, 1], ['A']);
  close(weighted.ref.reduce((a, b) => a + b), (8 * 8) / 20, 1e-12, 'Kish effective size');
  close(weighted.ref[0]! / weighted.ref[1]!, 3, 1e-12, 'weighted proportions');
});

test('PSI matches a worked example', () => {
  // Worked by hand: shares in 4 score bands, expected 10/20/30/40 %, actual 15/25/30/30 %:
  // 0.05·ln 1.5 + 0.05·ln 1.25 + 0 + (−0.10)·ln 0.75 = 0.020273 + 0.011157 + 0.028768 = 0.060199.
  const expected = [0.1, 0.2, 0.3, 0.4], actual = [0.15, 0.25, 0.3, 0.3];
  close(psi(expected, actual), 0.060199, 1e-6, 'PSI');
  // A band empty on one side is floored (ε = 1e-4), not infinite.
  assert.ok(Number.isFinite(psi([0.5, 0.5, 0], [0.4, 0.4, 0.2])));
  close(psi([0.25, 0.25, 0.5], [0.2, 0.3, 0.5]), 0.05 * Math.log(1.25) + 0.05 * Math.log(1.2), 1e-15, 'PSI doc example (0.0203)');
});

test('MMD permutation p-values equal a numpy implementation fed the same permutations', () => {
  for (const [name, y] of [['null', yNull], ['shift', yShift]] as const) {
    const perms = PERMS[name]!;
    const r = mmdTest(x, y, { permutations: perms });
    const py = oracle().mmd[name === 'null' ? 0 : 1]!;
    close(r.bandwidth, py.bw, 1e-12, `${name} bandwidth`);
    close(r.statistic, py.stat, 1e-12, `${name} MMD²`);
    assert.equal(r.pPermutation, py.p, `${name} permutation p`);
    py.perm.forEach((v, i) => close(r.permuted[i]!, v, 1e-12, `${name} permuted ${i}`));
    if (name === 'null') assert.ok(r.pValue > 0.05, `null p ${r.pValue}`);
    else assert.ok(r.pValue < 0.01, `shift p ${r.pValue}`);
  }
});

test('Holm and Benjamini–Hochberg match statsmodels multipletests', () => {
  const ref = oracle().holm;
  assert.deepEqual(holm(HOLM_P, 0.05), ref.holm);
  assert.deepEqual(benjaminiHochberg(HOLM_P, 0.05), ref.bh);
});

test('CUSUM threshold gives the in-control run length it is set for (simulation)', () => {
  const h = cusumThreshold(200);
  close(cusumArl0(h), 200, 1, 'solved ARL');
  const rng = new Rng(3);
  let total = 0;
  const runs = 300;
  for (let r = 0; r < runs; r++) {
    let s = 0, t = 0;
    for (;;) { t++; s = Math.max(0, s + rng.normal() - 0.5); if (s > h) break; }
    total += t;
  }
  // Siegmund's approximation is accurate to ~10 % here; the mean of 300 runs has ~6 % sampling error.
  close(total / runs, 200, 50, 'simulated ARL0');
});
