/** End-to-end evaluation behaviour: degenerate inputs, design (tuning vs evaluation), rules, multi-label, recalibration files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePredictions, applyCalibration, evaluationResultsSchema, chooseThreshold, confusionAt } from '../../src/evaluate/index.js';
import { renderReport } from '../../src/report/index.js';
import type { CsvTable } from '../../src/util/csv.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { bootstrapAuroc } from '../../src/evaluate/bootstrap.js';
import { rankScores } from '../../src/evaluate/ranking.js';
import { python, syntheticPredictions } from './helpers.js';
import { spawnSync } from 'node:child_process';

const hasSklearn = spawnSync('python3', ['-c', 'import sklearn, statsmodels'], { encoding: 'utf8' }).status === 0;

function table(header: string[], rows: (string | number)[][]): CsvTable {
  return { header, rows: rows.map((r) => Object.fromEntries(header.map((h, i) => [h, String(r[i] ?? '')]))), lines: rows.map((_, i) => i + 2) };
}

function noNaN(results: unknown, html: string) {
  const json = JSON.stringify(results);
  assert.ok(!/NaN|Infinity/.test(json), 'results carry no NaN/Infinity');
  assert.ok(!/\bNaN\b|Infinity/.test(html), 'report shows no NaN/Infinity');
  evaluationResultsSchema.parse(results);
}

test('one class only: clear message, nulls, no NaN, report renders', () => {
  const rows = Array.from({ length: 12 }, (_, i) => [`a${i}.png`, 'pneumonia', i < 6 ? 'val' : 'test', (i / 13).toFixed(3)]);
  const { results } = evaluatePredictions(table(['path', 'label', 'split', 'score_pneumonia'], rows), { positive: 'pneumonia', bootstrap: 50 });
  const c = results.classes['pneumonia']!;
  assert.equal(c.status, 'degenerate');
  assert.equal(c.auroc.estimate, null);
  assert.equal(c.auroc.ci95, null);
  assert.ok(c.messages.some((m) => /Only positive cases/.test(m)), c.messages.join('|'));
  assert.equal(c.operating_point.specificity.estimate, null);
  noNaN(results, renderReport(results));
});

test('all scores equal: AUROC 0.5 with an explicit message', () => {
  const rows = Array.from({ length: 20 }, (_, i) => [`a${i}.png`, i % 3 === 0 ? 'pneumonia' : 'normal', i < 8 ? 'val' : 'test', '0.4']);
  const { results } = evaluatePredictions(table(['path', 'label', 'split', 'score_pneumonia'], rows), { positive: 'pneumonia', bootstrap: 100 });
  const c = results.classes['pneumonia']!;
  assert.equal(c.auroc.estimate, 0.5);
  assert.deepEqual(c.auroc.ci95, [0.5, 0.5]);
  assert.ok(c.messages.some((m) => /All scores are equal/.test(m)));
  assert.equal(c.status, 'degenerate');
  noNaN(results, renderReport(results));
});

test('tiny input (n=3) and scores that are not probabilities', () => {
  const rows = [
    ['a.png', '1', 'test', '2.5'],
    ['b.png', '0', 'test', '-1.0'],
    ['c.png', '0', 'test', '0.3'],
  ];
  const { results } = evaluatePredictions(table(['path', 'label', 'split', 'score_1'], rows), { positive: '1', bootstrap: 20, sameData: true });
  const c = results.classes['1']!;
  assert.equal(c.auroc.estimate, 1);
  assert.equal(c.auroc.ci95, null, 'no DeLong interval with one positive');
  assert.ok(c.messages.some((m) => /at least 2 positives/.test(m)));
  assert.ok(c.messages.some((m) => /not all in \[0, 1\]/.test(m)));
  assert.equal(c.brier, null);
  assert.ok(results.design.same_data);
  assert.ok(results.messages.some((m) => /same rows/.test(m.text)));
  const html = renderReport(results);
  assert.match(html, /same cases they are evaluated on/);
  noNaN(results, html);
});

test('empty evaluation and a missing score column are clear input errors', () => {
  assert.throws(() => evaluatePredictions(table(['path', 'label'], [['a.png', 'x']])), (e: unknown) => e instanceof InputError && /no score_<class> column/.test(e.message));
  assert.throws(
    () => evaluatePredictions(table(['path', 'label', 'score_x'], [['a.png', 'x', '0.3']]), { positive: 'y' }),
    (e: unknown) => e instanceof InputError && /score_y/.test(e.message),
  );
  assert.throws(
    () => evaluatePredictions(table(['path', 'label', 'split', 'score_x'], [['a.png', 'x', 'val', '0.3']]), { positive: 'x', tuneSplit: 'val' }),
    (e: unknown) => e instanceof InputError && /no rows to evaluate/.test(e.message),
  );
});

test('thresholds are chosen on the tuning split and reported on the evaluation split', () => {
  const t = syntheticPredictions({ n: 800, seed: 21 });
  const { results } = evaluatePredictions(t, { targetSensitivity: 0.85, bootstrap: 0 });
  const c = results.classes['pneumonia']!;
  assert.equal(results.design.tuning, 'split = val');
  assert.equal(results.design.evaluation, 'split = test');
  assert.equal(c.operating_point.rule, 'sensitivity_0.85');
  const pick = (split: string) => {
    const rows = t.rows.filter((r) => r['split'] === split);
    return { s: rows.map((r) => Number(r['score_pneumonia'])), y: rows.map((r) => (r['label'] === 'pneumonia' ? 1 : 0)) };
  };
  const tune = pick('val');
  const ev = pick('test');
  // Brute-force reference: the highest candidate threshold whose tuning sensitivity reaches the target.
  const P = tune.y.reduce<number>((a, b) => a + b, 0);
  const candidates = [...new Set(tune.s)].sort((a, b) => b - a);
  const ref = candidates.find((th) => tune.s.filter((s, i) => s >= th && tune.y[i] === 1).length / P >= 0.85)!;
  assert.equal(c.operating_point.threshold, ref);
  const conf = confusionAt(ev.s, ev.y, ref);
  assert.deepEqual(c.operating_point.confusion, conf);
  assert.ok(c.operating_point.chosen_on.startsWith('split = val'));
});

test('F1, MCC, kappa and balanced accuracy get bootstrap intervals around their estimates', () => {
  const t = syntheticPredictions({ n: 800, seed: 22 });
  const { results } = evaluatePredictions(t, { bootstrap: 400 });
  for (const op of results.classes['pneumonia']!.operating_points) {
    for (const k of ['f1', 'mcc', 'cohen_kappa', 'balanced_accuracy'] as const) {
      const e = op[k];
      assert.ok(e.ci95 !== null && e.estimate !== null, `${op.rule} ${k} has an interval`);
      assert.ok(e.ci95[0] <= e.estimate + 1e-12 && e.estimate <= e.ci95[1] + 1e-12, `${op.rule} ${k}: ${e.estimate} in ${e.ci95}`);
      assert.ok(e.ci95[1] - e.ci95[0] > 0.01 && e.ci95[1] - e.ci95[0] < 0.3, `${op.rule} ${k}: plausible width ${e.ci95}`);
    }
  }
});

test('Youden, target specificity and minimum-cost rules match brute force', () => {
  const rng = new Rng(4);
  const s: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 300; i++) {
    const pos = rng.bernoulli(0.3) ? 1 : 0;
    y.push(pos);
    s.push(Number((1 / (1 + Math.exp(-(rng.normal() + pos * 1.3)))).toFixed(2)));
  }
  const P = y.reduce((a, b) => a + b, 0);
  const N = y.length - P;
  const cands = [...new Set(s)].sort((a, b) => b - a);
  const at = (t: number) => {
    const c = confusionAt(s, y, t);
    return { sens: c.tp / P, spec: c.tn / N };
  };
  let bestJ = -Infinity;
  let youden = NaN;
  for (const t of cands) if (at(t).sens + at(t).spec - 1 > bestJ + 1e-15) [bestJ, youden] = [at(t).sens + at(t).spec - 1, t];
  assert.equal(chooseThreshold({ kind: 'youden' }, s, y)!.threshold, youden);
  const spec = [...cands].reverse().find((t) => at(t).spec >= 0.8)!;
  assert.equal(chooseThreshold({ kind: 'specificity', target: 0.8 }, s, y)!.threshold, spec);
  const prev = 0.05;
  const cost = (t: number) => 10 * prev * (1 - at(t).sens) + 1 * (1 - prev) * (1 - at(t).spec);
  const all = [...cands].sort((a, b) => cost(a) - cost(b) || b - a);
  const chosen = chooseThreshold({ kind: 'cost', fn: 10, fp: 1, prevalence: prev }, s, y)!.threshold;
  assert.ok(Math.abs(cost(chosen) - Math.min(cost(all[0]!), 10 * prev)) < 1e-12, 'minimum expected cost reached');
});

test('multi-label: -1 and blank excluded per finding and counted; macro and micro averages', { skip: hasSklearn ? false : 'needs python3 with scikit-learn and statsmodels (test/requirements.txt)' }, () => {
  const rng = new Rng(9);
  const header = ['path', 'split', 'sex', 'effusion', 'nodule', 'score_effusion', 'score_nodule'];
  const rows: string[][] = [];
  for (let i = 0; i < 200; i++) {
    const e = rng.bernoulli(0.3) ? 1 : 0;
    const n = rng.bernoulli(0.2) ? 1 : 0;
    const eCell = i % 17 === 0 ? '-1' : i % 23 === 0 ? '' : String(e);
    rows.push([`x${i}.png`, i % 2 ? 'test' : 'val', i % 3 ? 'F' : 'M', eCell, String(n), String(1 / (1 + Math.exp(-(rng.normal() + 1.5 * e)))), String(1 / (1 + Math.exp(-(rng.normal() + n))))]);
  }
  const { results } = evaluatePredictions(table(header, rows), { groups: ['sex'], bootstrap: 100 });
  assert.equal(results.input.label_kind, 'multilabel');
  const eff = results.classes['effusion']!;
  const expectedExcluded = rows.filter((r) => r[1] === 'test' && (r[3] === '-1' || r[3] === '')).length;
  assert.equal(eff.n_excluded, expectedExcluded);
  assert.ok(eff.excluded_reasons['uncertain label (-1)']! > 0);
  assert.ok(eff.messages.some((m) => /excluded/.test(m)));
  assert.equal(results.classes['nodule']!.n_excluded, 0);
  const a = results.averages!;
  assert.ok(Math.abs(a.macro_auroc! - (eff.auroc.estimate! + results.classes['nodule']!.auroc.estimate!) / 2) < 1e-12);
  // Micro averages pool every (case, finding) pair: scikit-learn's roc_auc_score / average_precision_score
  // with average='micro' over the label-indicator matrix, restricted to the usable cells of the test rows.
  const usable = rows.filter((r) => r[1] === 'test');
  const cells = usable.flatMap((r) => [[r[3]!, r[5]!], [r[4]!, r[6]!]]).filter(([y]) => y === '0' || y === '1');
  const ref = python<{ auroc: number; ap: number }>(
    'import json,sys\nfrom sklearn.metrics import roc_auc_score, average_precision_score\nd=json.load(sys.stdin)\nprint(json.dumps({"auroc": roc_auc_score(d["y"], d["s"]), "ap": average_precision_score(d["y"], d["s"])}))',
    { y: cells.map(([y]) => Number(y)), s: cells.map(([, sc]) => Number(sc)) },
  );
  assert.ok(Math.abs(a.micro_auroc! - ref.auroc) < 1e-12, `micro AUROC ${a.micro_auroc} vs scikit-learn ${ref.auroc}`);
  assert.ok(Math.abs(a.micro_auprc! - ref.ap) < 1e-12, `micro AUPRC ${a.micro_auprc} vs scikit-learn ${ref.ap}`);
});

test('calibration.json maps apply at deployment exactly as fitted', { skip: hasSklearn ? false : 'needs python3 with scikit-learn and statsmodels (test/requirements.txt)' }, () => {
  const t = syntheticPredictions({ n: 600, seed: 2 });
  const { calibration, results } = evaluatePredictions(t, { bootstrap: 0 });
  const entry = calibration.classes['pneumonia']!;
  assert.equal(entry.recommended, 'platt');
  assert.deepEqual(entry.maps.map((m) => m.method).sort(), ['isotonic', 'platt', 'temperature']);
  const file = JSON.parse(JSON.stringify(calibration)) as unknown;
  const scores = [0.01, 0.2, 0.5, 0.77, 0.99];
  const iso = applyCalibration(file, 'pneumonia', scores, 'isotonic');
  for (let i = 1; i < iso.length; i++) assert.ok(iso[i]! >= iso[i - 1]!, 'isotonic map is monotone');
  // Independent reference: fit each recalibration on the same tuning rows (val) with scikit-learn /
  // statsmodels and apply it to the same scores; the saved file must reproduce those probabilities.
  const tune = t.rows.filter((r) => r['split'] === 'val');
  const ref = python<{ platt: number[]; temperature: number[]; isotonic: number[] }>(
    String.raw`
import json, sys
import numpy as np
import statsmodels.api as sm
from sklearn.isotonic import IsotonicRegression
d = json.load(sys.stdin)
p = np.array(d["p"]); y = np.array(d["y"]); s = np.array(d["s"])
lg = lambda q: np.log(q / (1 - q))
sig = lambda z: 1 / (1 + np.exp(-z))
platt = sm.GLM(y, sm.add_constant(lg(p)), family=sm.families.Binomial()).fit(tol=1e-14)
a, b = platt.params
temp = sm.GLM(y, lg(p)[:, None], family=sm.families.Binomial()).fit(tol=1e-14)
iso = IsotonicRegression(out_of_bounds="clip").fit(p, y)
print(json.dumps({"platt": list(sig(a + b * lg(s))), "temperature": list(sig(temp.params[0] * lg(s))), "isotonic": list(iso.predict(s))}))
`,
    { p: tune.map((r) => Number(r['score_pneumonia'])), y: tune.map((r) => (r['label'] === 'pneumonia' ? 1 : 0)), s: scores },
  );
  for (const method of ['platt', 'temperature', 'isotonic'] as const) {
    const got = applyCalibration(file, 'pneumonia', scores, method);
    got.forEach((v, i) => assert.ok(Math.abs(v - ref[method][i]!) < 1e-7, `${method}(${scores[i]}): ${v} vs reference ${ref[method][i]}`));
  }
  assert.ok(results.classes['pneumonia']!.recalibration['platt']!.brier !== null);
  assert.throws(() => applyCalibration({ format: 'nope' }, 'pneumonia', [0.5]), InputError);
  assert.throws(() => applyCalibration(file, 'effusion', [0.5]), /no class "effusion"/);
});

test('no tuning split: only the fixed threshold, with a warning', () => {
  const t = syntheticPredictions({ n: 200, seed: 8 });
  t.rows.forEach((r) => (r['split'] = 'test'));
  const { results, calibration } = evaluatePredictions(t, { bootstrap: 0 });
  const c = results.classes['pneumonia']!;
  assert.deepEqual(c.operating_points.map((o) => o.rule), ['fixed_0.5']);
  assert.ok(results.messages.some((m) => m.level === 'warning' && /No tuning split/.test(m.text)));
  assert.deepEqual(calibration.classes['pneumonia']!.maps, []);
});

test('bootstrap is reproducible from its seed and sites get leave-one-site-out and transport tables', () => {
  const t = syntheticPredictions({ n: 900, seed: 12 });
  const r = rankScores(t.rows.map((x) => Number(x['score_pneumonia'])), t.rows.map((x) => (x['label'] === 'pneumonia' ? 1 : 0)));
  assert.deepEqual(bootstrapAuroc(r, { resamples: 200, seed: 5 }).aurocCi, bootstrapAuroc(r, { resamples: 200, seed: 5 }).aurocCi);
  const { results } = evaluatePredictions(t, { bootstrap: 0, groups: ['site'] });
  const s = results.classes['pneumonia']!.sites!;
  assert.deepEqual(s.transport.sites, ['A', 'B', 'C']);
  assert.equal(s.leave_one_site_out.length, 3);
  assert.equal(s.transport.sensitivity.length, 3);
  for (const e of s.leave_one_site_out) assert.ok(e.threshold !== null && e.sensitivity.estimate !== null);
});

test('rows the out-of-distribution gate rejected are counted as such, not as missing scores', () => {
  const rows = Array.from({ length: 40 }, (_, i) => {
    const rejected = i % 10 === 9 ? 1 : 0;
    const score = rejected ? '' : i % 7 === 3 ? '' : ((i * 37) % 100 / 100).toFixed(2);
    return [`a${i}.png`, i % 2 ? 'pneumonia' : 'normal', i < 16 ? 'val' : 'test', score, rejected];
  });
  const { results } = evaluatePredictions(table(['path', 'label', 'split', 'score_pneumonia', 'rejected'], rows), { positive: 'pneumonia', bootstrap: 20 });
  const reasons = results.classes['pneumonia']!.excluded_reasons;
  // Test rows 16–39: gate rejections at 19, 29, 39; blank scores without a rejection at 17, 24, 31, 38.
  assert.equal(reasons['rejected by the out-of-distribution gate'], 3);
  assert.equal(reasons['missing or non-numeric score'], 4);
});
