/**
 * Label-free performance estimation (CBPE) against NannyML's CBPE on a shared binary example
 * (NannyML from bench/monitor/.venv-nannyml, skipped when absent: it pulls ~150 MB of dependencies,
 * so it is not in the test requirements) and against a numpy implementation of the same formulas;
 * and the estimate's accuracy against realized performance under pure covariate shift.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { python } from '../evaluate/helpers.js';
import { recalibrate } from '../../src/evaluate/calibration.js';
import { estimatePerformance } from '../../src/monitor/cbpe.js';
import { fitCalibrationMap } from '../../src/monitor/profile.js';
import { realizedPerformance } from '../../src/monitor/realized.js';
import { Rng } from '../../src/util/rng.js';

const NANNYML = join(import.meta.dirname, '../../bench/monitor/.venv-nannyml/bin/python');

function cohort(n: number, shift: number, seed: number) {
  const rng = new Rng(seed);
  const s: number[] = [], y: (0 | 1)[] = [];
  for (let i = 0; i < n; i++) {
    const x = rng.normal(shift, 1);
    // Scores are a miscalibrated but monotone function of the true risk, so calibration matters.
    const risk = 1 / (1 + Math.exp(-(1.5 * x - 1)));
    s.push(Number((1 / (1 + Math.exp(-(0.7 * (1.5 * x - 1) + 0.4)))).toFixed(6)));
    y.push(rng.random() < risk ? 1 : 0);
  }
  return { s, y };
}

const ref = cohort(5000, 0, 1);
const ana = cohort(2000, 0.7, 2); // covariate shift: P(y|x) unchanged
const map = fitCalibrationMap(ref.s, ref.y);
const cal = ana.s.map((v) => recalibrate(map, v));
const ours = estimatePerformance(ana.s, cal, 0.5);

test('CBPE formulas equal a numpy implementation (expected confusion, trapezoid AUROC of cumulative probabilities)', () => {
  const py = python<{ sens: number; spec: number; auc: number }>(`
import json, sys
import numpy as np
d = json.load(sys.stdin); s = np.array(d['s']); q = np.array(d['q']); t = d['t']
pos = s >= t
tp = q[pos].sum(); fn = q[~pos].sum(); tn = (1 - q[~pos]).sum(); fp = (1 - q[pos]).sum()
o = np.argsort(-s, kind='stable'); qs = q[o]
tpr = np.concatenate([[0], np.cumsum(qs) / qs.sum()]); fpr = np.concatenate([[0], np.cumsum(1 - qs) / (1 - qs).sum()])
print(json.dumps({'sens': tp / (tp + fn), 'spec': tn / (tn + fp), 'auc': float(np.trapezoid(tpr, fpr))}))`, { s: ana.s, q: cal, t: 0.5 });
  assert.ok(Math.abs(ours.sensitivity! - py.sens) < 1e-9, `sens ${ours.sensitivity} vs ${py.sens}`);
  assert.ok(Math.abs(ours.specificity! - py.spec) < 1e-9, `spec ${ours.specificity} vs ${py.spec}`);
  // Tied scores (6 decimals) are ordered arbitrarily by the trapezoid, counted one half by Mann–Whitney.
  assert.ok(Math.abs(ours.auroc! - py.auc) < 2e-4, `auroc ${ours.auroc} vs ${py.auc}`);
});

test('CBPE agrees with NannyML on the shared binary example', { skip: existsSync(NANNYML) ? false : 'NannyML not installed (python3 -m venv bench/monitor/.venv-nannyml && bench/monitor/.venv-nannyml/bin/pip install nannyml statsmodels)' }, (t) => {
  const script = `
import json, sys, warnings
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd
import nannyml as nml
d = json.load(sys.stdin)
ref = pd.DataFrame({'p': d['rs'], 'y': d['ry']}); ref['yp'] = (ref.p >= 0.5).astype(int)
ana = pd.DataFrame({'p': d['as']}); ana['yp'] = (ana.p >= 0.5).astype(int)
est = nml.CBPE(y_pred_proba='p', y_pred='yp', y_true='y', problem_type='classification_binary', metrics=['roc_auc', 'recall', 'specificity'], chunk_number=1)
est.fit(ref)
r = est.estimate(ana).filter(period='analysis').to_df().iloc[-1]
print(json.dumps({'auc': float(r[('roc_auc', 'value')]), 'sens': float(r[('recall', 'value')]), 'spec': float(r[('specificity', 'value')]), 'version': nml.__version__}))`;
  const r = spawnSync(NANNYML, ['-c', script], { input: JSON.stringify({ rs: ref.s, ry: ref.y, as: ana.s }), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const nml = JSON.parse(r.stdout.trim().split('\n').pop()!) as { auc: number; sens: number; spec: number; version: string };
  t.diagnostic(`radml sensitivity ${ours.sensitivity!.toFixed(4)} specificity ${ours.specificity!.toFixed(4)} AUROC ${ours.auroc!.toFixed(4)}; NannyML ${nml.version}: ${nml.sens.toFixed(4)} ${nml.spec.toFixed(4)} ${nml.auc.toFixed(4)}`);
  // Both calibrate with isotonic regression on the reference; remaining differences are interpolation details.
  assert.ok(Math.abs(ours.sensitivity! - nml.sens) < 0.002, `sensitivity ${ours.sensitivity} vs NannyML ${nml.version} ${nml.sens}`);
  assert.ok(Math.abs(ours.specificity! - nml.spec) < 0.002, `specificity ${ours.specificity} vs NannyML ${nml.spec}`);
  assert.ok(Math.abs(ours.auroc! - nml.auc) < 0.002, `AUROC ${ours.auroc} vs NannyML ${nml.auc}`);
});

test('under pure covariate shift the label-free estimate is within 0.03 of realized performance', () => {
  const real = realizedPerformance(ana.s, ana.y, 0.5);
  for (const [k, e, r] of [['sensitivity', ours.sensitivity!, real.sensitivity.estimate!], ['specificity', ours.specificity!, real.specificity.estimate!], ['auroc', ours.auroc!, real.auroc.estimate!]] as const) {
    assert.ok(Math.abs(e - r) < 0.03, `${k}: estimated ${e.toFixed(3)} vs realized ${r.toFixed(3)}`);
  }
  // And the shift is big enough that the reference's own performance would be a poor guess.
  const refReal = realizedPerformance(ref.s, ref.y, 0.5);
  assert.ok(Math.abs(refReal.sensitivity.estimate! - real.sensitivity.estimate!) > 0.1);
});
