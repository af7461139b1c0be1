/**
 * Metrics against scikit-learn / statsmodels run in the same test on random, tied and tiny inputs:
 * AUROC, average precision, Brier, confusion-derived metrics, MCC, Cohen's kappa, calibration curve,
 * partial AUROC (McClish), Wilson intervals, logistic calibration fits, isotonic regression, McNemar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { auroc, averagePrecision, partialAuroc, rankScores } from '../../src/evaluate/ranking.js';
import { brierScore, calibrationSlopeIntercept, fitLogistic, fitIsotonic, interpolate, logit, reliabilityBins } from '../../src/evaluate/calibration.js';
import { confusionAt, operatingMetrics } from '../../src/evaluate/confusion.js';
import { wilsonInterval } from '../../src/evaluate/stats.js';
import { mcnemar } from '../../src/evaluate/compare.js';
import { python, randomCase } from './helpers.js';

const TOL = 1e-9;

function close(actual: number | null, expected: number | null, what: string, tol = TOL) {
  if (expected === null || (typeof expected === 'number' && Number.isNaN(expected))) {
    assert.equal(actual, null, `${what}: expected undefined, got ${actual}`);
    return;
  }
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs reference ${expected}`);
}

interface Case {
  name: string;
  scores: number[];
  labels: number[];
  thresholds: number[];
}

function cases(): Case[] {
  const rng = new Rng(20261127);
  const out: Case[] = [];
  const add = (name: string, c: { scores: number[]; labels: number[] }) => {
    const sorted = [...c.scores].sort((a, b) => a - b);
    out.push({ name, ...c, thresholds: [0.5, sorted[Math.floor(sorted.length / 2)]!, sorted[0]!, 0.3] });
  };
  add('random n=400', randomCase(rng, 400));
  add('random n=57', randomCase(rng, 57, { prevalence: 0.2 }));
  add('tied 1 decimal n=300', randomCase(rng, 300, { decimals: 1 }));
  add('tied 2 decimals n=150', randomCase(rng, 150, { decimals: 2 }));
  add('tiny n=5', { scores: [0.2, 0.8, 0.5, 0.5, 0.9], labels: [0, 1, 0, 1, 1] });
  add('tiny n=3', { scores: [0.4, 0.1, 0.4], labels: [1, 0, 0] });
  add('all scores equal', { scores: [0.3, 0.3, 0.3, 0.3], labels: [1, 0, 0, 1] });
  add('edges of bins', { scores: [0, 0.1, 0.2, 0.30000000000000004, 0.3, 0.5, 0.7, 1, 0.9, 0.6], labels: [0, 0, 1, 0, 1, 0, 1, 1, 1, 0] });
  return out;
}

const SCRIPT = String.raw`
import json, sys, warnings
import numpy as np
warnings.filterwarnings('ignore')
from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss, confusion_matrix, recall_score, precision_score, f1_score, accuracy_score, balanced_accuracy_score, matthews_corrcoef, cohen_kappa_score
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.contingency_tables import mcnemar
from scipy.stats import binom
inp = json.load(sys.stdin)
out = {'cases': [], 'wilson': [], 'mcnemar': []}
def f(x):
    x = float(x)
    return None if np.isnan(x) else x
for c in inp['cases']:
    y = np.array(c['labels']); s = np.array(c['scores'])
    r = {'auroc': f(roc_auc_score(y, s)), 'ap': f(average_precision_score(y, s)), 'brier': f(brier_score_loss(y, s)), 'at': []}
    r['pauc'] = {}
    for m in [0.2, 0.35]:
        try: r['pauc'][str(m)] = f(roc_auc_score(y, s, max_fpr=m))
        except Exception: r['pauc'][str(m)] = None
    for t in c['thresholds']:
        p = (s >= t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
        r['at'].append({'tp': int(tp), 'fp': int(fp), 'tn': int(tn), 'fn': int(fn),
          'sensitivity': f(recall_score(y, p, zero_division=np.nan)), 'specificity': f(recall_score(1 - y, 1 - p, zero_division=np.nan)),
          'ppv': f(precision_score(y, p, zero_division=np.nan)), 'npv': f(precision_score(1 - y, 1 - p, zero_division=np.nan)),
          'f1': f(f1_score(y, p, zero_division=np.nan)), 'accuracy': f(accuracy_score(y, p)), 'balanced': f(balanced_accuracy_score(y, p)),
          'mcc': f(matthews_corrcoef(y, p)), 'kappa': f(cohen_kappa_score(y, p))})
    pt, pp = calibration_curve(y, s, n_bins=10, strategy='uniform')
    r['cal_true'] = pt.tolist(); r['cal_pred'] = pp.tolist()
    ir = IsotonicRegression(out_of_bounds='clip').fit(s, y)
    grid = np.linspace(-0.1, 1.1, 37)
    r['iso'] = ir.predict(grid).tolist(); r['iso_grid'] = grid.tolist()
    if len(set(y.tolist())) == 2 and len(set(s.tolist())) > 2 and len(y) >= 50:
        lp = np.log(s.clip(1e-15, 1 - 1e-15) / (1 - s.clip(1e-15, 1 - 1e-15)))
        joint = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-13)
        citl = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-13)
        temp = sm.GLM(y, lp.reshape(-1, 1), family=sm.families.Binomial()).fit(tol=1e-13)
        r['slope'] = float(joint.params[1]); r['platt_a'] = float(joint.params[0]); r['citl'] = float(citl.params[0]); r['temp_b'] = float(temp.params[0])
    out['cases'].append(r)
for k, n in inp['wilson']:
    lo, hi = proportion_confint(k, n, alpha=0.05, method='wilson')
    out['wilson'].append([float(lo), float(hi)])
for b, c in inp['mcnemar']:
    res = mcnemar([[10, b], [c, 7]], exact=True)
    m = b + c; k = min(b, c)
    mid = min(1.0, 2 * binom.cdf(k, m, 0.5) - binom.pmf(k, m, 0.5)) if m > 0 else 1.0
    out['mcnemar'].append([float(res.pvalue), float(mid)])
print(json.dumps(out))
`;

interface Ref {
  cases: {
    auroc: number | null;
    ap: number | null;
    brier: number;
    pauc: Record<string, number | null>;
    at: Record<string, number | null>[];
    cal_true: number[];
    cal_pred: number[];
    iso: number[];
    iso_grid: number[];
    slope?: number;
    platt_a?: number;
    citl?: number;
    temp_b?: number;
  }[];
  wilson: [number, number][];
  mcnemar: [number, number][];
}

test('metrics match scikit-learn and statsmodels on random, tied and tiny inputs', () => {
  const cs = cases();
  const wilsonInputs: [number, number][] = [[0, 10], [10, 10], [3, 7], [45, 50], [1, 1], [500, 1234], [17, 20]];
  const mcnemarInputs: [number, number][] = [[0, 0], [5, 5], [12, 4], [0, 9], [30, 18], [1, 0]];
  const ref = python<Ref>(SCRIPT, { cases: cs, wilson: wilsonInputs, mcnemar: mcnemarInputs });
  cs.forEach((c, ci) => {
    const R = ref.cases[ci]!;
    const r = rankScores(c.scores, c.labels);
    close(auroc(r), R.auroc, `${c.name} AUROC`);
    close(averagePrecision(r), R.ap, `${c.name} AP`);
    close(brierScore(c.scores, c.labels), R.brier, `${c.name} Brier`);
    for (const m of ['0.2', '0.35']) {
      if (R.pauc[m] === null || R.pauc[m] === undefined) continue;
      close(partialAuroc(r, Number(m)).standardized, R.pauc[m]!, `${c.name} partial AUROC max_fpr=${m}`);
    }
    c.thresholds.forEach((t, ti) => {
      const A = R.at[ti]!;
      const conf = confusionAt(c.scores, c.labels, t);
      assert.deepEqual(conf, { tp: A['tp'], fp: A['fp'], tn: A['tn'], fn: A['fn'] }, `${c.name} confusion at ${t}`);
      const m = operatingMetrics(conf);
      const w = `${c.name} @${t}`;
      close(m.sensitivity.estimate, A['sensitivity']!, `${w} sensitivity`);
      close(m.specificity.estimate, A['specificity']!, `${w} specificity`);
      close(m.ppv.estimate, A['ppv']!, `${w} PPV`);
      close(m.npv.estimate, A['npv']!, `${w} NPV`);
      close(m.f1.estimate, A['f1']!, `${w} F1`);
      close(m.accuracy.estimate, A['accuracy']!, `${w} accuracy`);
      close(m.balanced_accuracy.estimate, A['balanced']!, `${w} balanced accuracy`);
      close(m.mcc.estimate, A['mcc']!, `${w} MCC`);
      close(m.cohen_kappa.estimate, A['kappa']!, `${w} kappa`);
    });
    const bins = reliabilityBins(c.scores, c.labels, 10);
    assert.equal(bins.length, R.cal_true.length, `${c.name} calibration bins`);
    bins.forEach((b, k) => {
      close(b.observed_rate, R.cal_true[k]!, `${c.name} calibration_curve prob_true[${k}]`);
      close(b.mean_predicted, R.cal_pred[k]!, `${c.name} calibration_curve prob_pred[${k}]`);
    });
    const iso = fitIsotonic(c.scores, c.labels);
    R.iso_grid.forEach((g, k) => close(interpolate(g, iso.x, iso.y), R.iso[k]!, `${c.name} isotonic at ${g}`));
    if (R.slope !== undefined) {
      const si = calibrationSlopeIntercept(c.scores, c.labels);
      close(si.slope, R.slope, `${c.name} calibration slope`, 1e-7);
      close(si.intercept, R.citl!, `${c.name} calibration-in-the-large`, 1e-7);
      const lp = c.scores.map(logit);
      close(fitLogistic(lp, c.labels).intercept, R.platt_a!, `${c.name} Platt intercept`, 1e-7);
      close(fitLogistic(lp, c.labels, { noIntercept: true }).slope, R.temp_b!, `${c.name} temperature 1/T`, 1e-7);
    }
  });
  // The oracle really covered the fitted quantities and partial AUROC, not just skipped them.
  assert.ok(ref.cases.filter((c) => c.slope !== undefined).length >= 3, 'calibration fits compared on at least 3 cases');
  assert.ok(ref.cases.filter((c) => c.pauc['0.2'] !== null).length >= 6, 'partial AUROC compared on at least 6 cases');
  wilsonInputs.forEach(([k, n], i) => {
    const w = wilsonInterval(k, n)!;
    close(w[0], ref.wilson[i]![0], `Wilson ${k}/${n} lower`);
    close(w[1], ref.wilson[i]![1], `Wilson ${k}/${n} upper`);
  });
  mcnemarInputs.forEach(([b, c], i) => {
    const m = mcnemar(b, c);
    close(m.p_exact, ref.mcnemar[i]![0], `McNemar exact ${b},${c}`);
    close(m.p_mid, ref.mcnemar[i]![1], `McNemar mid-p ${b},${c}`);
  });
});
