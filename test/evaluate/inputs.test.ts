/**
 * Reading predictions strictly and numerics at their edges: decimal-only scores, short rows, the
 * column reader against util/csv, the logistic fit's convergence (against statsmodels), AUPRC ≤ 1,
 * the exact binomial sampler of the bootstrap (against scipy) and its resample counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { evaluatePredictions, parsePredictions } from '../../src/evaluate/index.js';
import { fitLogistic, calibrationSlopeIntercept, logit } from '../../src/evaluate/calibration.js';
import { averagePrecision, averagePrecisionFromGroups, rankScores } from '../../src/evaluate/ranking.js';
import { binomialInverse, bootstrapAuroc } from '../../src/evaluate/bootstrap.js';
import { parseDecimal, readDecimalCell } from '../../src/util/number.js';
import { parseCsv } from '../../src/util/csv.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { python } from './helpers.js';

const hasScipy = spawnSync('python3', ['-c', 'import scipy, statsmodels'], { encoding: 'utf8' }).status === 0;
const NEEDS = 'needs python3 with scipy and statsmodels (test/requirements.txt)';

test('only decimal numbers are numbers', () => {
  for (const [text, want] of [['0.25', 0.25], [' 1e-3 ', 0.001], ['.5', 0.5], ['5.', 5], ['-0.2', -0.2], ['+3', 3], ['7.3E-1', 0.73]] as const) assert.equal(parseDecimal(text), want, text);
  for (const text of ['0x1F', '0b1', '0o7', 'Infinity', '-Infinity', 'NaN', '', ' ', '1e999', '1,5', '0.5.1', '1e', 'e5', '--1', '١']) assert.equal(parseDecimal(text), null, JSON.stringify(text));
  assert.deepEqual(readDecimalCell('NaN'), { kind: 'missing' });
  assert.deepEqual(readDecimalCell(' NA '), { kind: 'missing' });
  assert.deepEqual(readDecimalCell('0b1'), { kind: 'invalid' });
});

test('a hexadecimal, binary or octal score is an error naming file, line, column and value', () => {
  for (const bad of ['0x1F', '0b1', '0o7', 'high']) {
    const text = `path,label,split,score_pneumonia\na.png,pneumonia,test,0.9\nb.png,normal,test,${bad}\nc.png,normal,test,0.2\n`;
    assert.throws(
      () => evaluatePredictions(parsePredictions(text, 'preds.csv'), { bootstrap: 0 }),
      (e: unknown) => e instanceof InputError && e.code === 'PREDICTIONS_SCORE' && e.message.includes('preds.csv: line 3, column "score_pneumonia"') && e.message.includes(`"${bad}"`),
      bad,
    );
  }
  // Blank and missing-value markers stay missing scores: excluded and counted, not errors.
  const ok = `path,label,split,score_pneumonia\na.png,pneumonia,test,0.9\nb.png,normal,test,\nc.png,normal,test,NaN\nd.png,normal,test,0.1\n`;
  const { results } = evaluatePredictions(parsePredictions(ok, 'p.csv'), { bootstrap: 0 });
  assert.equal(results.classes['pneumonia']!.excluded_reasons['missing or non-numeric score'], 2);
  // The paired comparison reads its columns the same way.
  const cmp = `path,label,split,score_a,score_b\na.png,a,test,0.9,0x10\nb.png,b,test,0.1,0.2\n`;
  assert.throws(() => evaluatePredictions(parsePredictions(cmp, 'c.csv'), { positive: 'a', bootstrap: 0, compare: ['score_a', 'score_b'] }), /line 2, column "score_b": "0x10"/);
});

test('a short row is an error naming its line; the column reader matches util/csv on quoted, multi-line input', () => {
  assert.throws(
    () => parsePredictions('path,label,split,score_x\na.png,x,test,0.4\nb.png,x,test\n', 'short.csv'),
    (e: unknown) => e instanceof InputError && e.code === 'CSV_ROW_SHORT' && /short\.csv: line 3 has 3 cell\(s\) but the header has 4 \(missing: score_x\)/.test(e.message),
  );
  assert.throws(() => parsePredictions('a,b\n1,2,3\n', 'long.csv'), /long\.csv: line 2 has 3 cells but the header has 2/);
  assert.throws(() => parsePredictions('a,b\n"1,2\n', 'q.csv'), /never closed/);
  const rng = new Rng(4);
  const cell = () => rng.pick(['', 'plain', 'with,comma', 'with "quotes"', 'two\nlines', ' padded ', '0.125', 'é ü']);
  const q = (v: string) => (/[",\n]/.test(v) || /^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const header = ['path', 'note', 'score_x'];
  const lines = [header.join(',')];
  // 700 distinct paths: past the interning limit, so that column is re-read from the text.
  for (let i = 0; i < 700; i++) lines.push([`p${i}`, cell(), cell()].map(q).join(","));
  const text = '\ufeff' + lines.join('\r\n') + '\r\n\r\n';
  const mine = parsePredictions(text, 'x.csv');
  const ref = parseCsv(text, 'x.csv');
  assert.equal(mine.rowCount, ref.rows.length);
  for (const h of header) assert.deepEqual(mine.column(h), ref.rows.map((r) => r[h]), h);
  for (let i = 0; i < mine.rowCount; i++) assert.equal(mine.line(i), ref.lines[i], `line of row ${i}`);
});

test('logistic fits converge where they should, match statsmodels, and report separation', { skip: hasScipy ? false : NEEDS }, () => {
  const rng = new Rng(3);
  const sets: { x: number[]; y: number[]; offset?: number[] }[] = [];
  // Scores squeezed near logit 3 with a 50% event rate: an absolute-tolerance Newton without step
  // control oscillated here and stopped with a wrong intercept and a "did not converge" warning.
  const p = Array.from({ length: 50 }, () => 1 / (1 + Math.exp(-(3 + 0.2 * rng.normal()))));
  const y = p.map(() => (rng.bernoulli(0.5) ? 1 : 0));
  const lp = p.map(logit);
  sets.push({ x: lp, y });
  // Large n far from zero.
  const big = Array.from({ length: 20000 }, () => rng.normal() * 3 + 40);
  sets.push({ x: big, y: big.map((v) => (rng.random() < 1 / (1 + Math.exp(-(v - 40) * 0.7)) ? 1 : 0)) });
  const ref = python<{ a: number; b: number }[]>(
    String.raw`
import json, sys
import numpy as np, statsmodels.api as sm
d = json.load(sys.stdin)
out = []
for s in d:
    x, y = np.array(s["x"]), np.array(s["y"])
    f = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial()).fit(tol=1e-14)
    out.append({"a": f.params[0], "b": f.params[1]})
print(json.dumps(out))`,
    sets,
  );
  sets.forEach((s, i) => {
    const f = fitLogistic(s.x, s.y);
    assert.equal(f.converged, true, `set ${i}`);
    assert.ok(Math.abs(f.intercept - ref[i]!.a) < 1e-6 * Math.max(1, Math.abs(ref[i]!.a)) && Math.abs(f.slope - ref[i]!.b) < 1e-6 * Math.max(1, Math.abs(ref[i]!.b)), `set ${i}: ${f.intercept}, ${f.slope} vs ${ref[i]!.a}, ${ref[i]!.b}`);
  });
  // Calibration-in-the-large on the squeezed scores: intercept ≈ logit(mean y) − mean logit p, not 0.
  const si = calibrationSlopeIntercept(p, y);
  assert.equal(si.converged, true);
  assert.ok(si.intercept < -2, `intercept ${si.intercept}`);
  // Perfect separation: no maximum-likelihood fit exists, and the fit says so.
  const sep = fitLogistic([-2, -1, -0.5, 0.5, 1, 2], [0, 0, 0, 1, 1, 1]);
  assert.equal(sep.converged, false);
});

test('average precision never rounds above 1', () => {
  // Nine positives in nine groups above every negative: nine additions of 1/9 give 1.0000000000000002.
  const scores = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.1, 0.05];
  const labels = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
  let naive = 0;
  for (let i = 0; i < 9; i++) naive += (1 / 9) * 1;
  assert.ok(naive > 1, 'the rounding this guards against');
  const r = rankScores(scores, labels);
  assert.equal(averagePrecision(r), 1);
  assert.equal(averagePrecisionFromGroups(r.groupPositives, r.groupNegatives), 1);
  const b = bootstrapAuroc(r, { resamples: 200, seed: 1, averagePrecision: true });
  assert.ok(b.averagePrecision!.every((v) => v <= 1));
});

test('the bootstrap binomial sampler inverts the exact binomial distribution (scipy)', { skip: hasScipy ? false : NEEDS }, () => {
  const cases = [[30, 0.3], [1000, 1024 / 5000], [7, 0.95], [4000, 0.001]] as const;
  const maxN = 4000;
  const lf = new Float64Array(maxN + 1);
  for (let k = 2; k <= maxN; k++) lf[k] = lf[k - 1]! + Math.log(k);
  const G = 200000;
  const ref = python<number[][]>('import json,sys\nfrom scipy.stats import binom\nd=json.load(sys.stdin)\nprint(json.dumps([list(binom.pmf(range(n+1), n, p)) for n,p in d]))', cases);
  cases.forEach(([N, p], c) => {
    // Inversion of an evenly spaced grid of u: each outcome's share of the grid is its probability.
    const counts = new Float64Array(N + 1);
    for (let g = 0; g < G; g++) counts[binomialInverse(N, p, (g + 0.5) / G, lf)]!++;
    let worst = 0;
    for (let k = 0; k <= N; k++) worst = Math.max(worst, Math.abs(counts[k]! / G - ref[c]![k]!));
    assert.ok(worst <= 1.5 / G + 1e-12, `Binomial(${N}, ${p}): worst pmf error ${worst}`);
  });
});

test('each bootstrap resample draws every class exactly n times, uniformly over its cases', () => {
  // 2,500 distinct negatives (two full 1,024-blocks and a partial one) and 3 positives.
  const n = 2500;
  const scores = [...Array.from({ length: n }, (_, i) => i / n), 2, 3, 4];
  const labels = [...Array.from({ length: n }, () => 0), 1, 1, 1];
  const r = rankScores(scores, labels);
  const B = 400;
  const b = bootstrapAuroc(r, { resamples: B, seed: 9, thresholds: [0.5, 0.9] });
  // Positives all outrank negatives: every resample's AUROC is exactly 1.
  assert.ok(b.auroc.every((v) => v === 1));
  // FP at threshold t counts negatives drawn with score ≥ t: its mean is n·P(score ≥ t) and its
  // variance n·q(1−q) (binomial), whatever the block structure of the sampler.
  for (const at of b.atThreshold!) {
    const q = scores.slice(0, n).filter((s) => s >= at.threshold).length / n;
    const fp = Array.from(at.fp);
    const mean = fp.reduce((s, v) => s + v, 0) / B;
    const variance = fp.reduce((s, v) => s + (v - mean) ** 2, 0) / (B - 1);
    const sd = Math.sqrt(n * q * (1 - q));
    assert.ok(Math.abs(mean - n * q) < 4 * sd / Math.sqrt(B), `threshold ${at.threshold}: mean FP ${mean} vs ${n * q}`);
    assert.ok(variance > 0.75 * sd * sd && variance < 1.3 * sd * sd, `threshold ${at.threshold}: FP variance ${variance} vs ${sd * sd}`);
    assert.ok(Array.from(at.tp).every((v) => v === 3), 'all three positives are called at both thresholds');
  }
});
