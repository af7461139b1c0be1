/** Subgroup metrics and disparity measures against Fairlearn (MetricFrame, equalized_odds_difference), same test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePredictions } from '../../src/evaluate/index.js';
import { python, syntheticPredictions } from './helpers.js';

const SCRIPT = String.raw`
import json, sys, warnings
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd
from fairlearn.metrics import MetricFrame, equalized_odds_difference, true_positive_rate, false_positive_rate, selection_rate, count
from sklearn.metrics import accuracy_score, roc_auc_score
d = json.load(sys.stdin)
y = np.array(d['y']); s = np.array(d['score']); p = (s >= d['threshold']).astype(int)
out = {}
for name, cols in [('sex', ['sex']), ('site', ['site']), ('sex × site', ['sex', 'site'])]:
    sf = pd.DataFrame({c: d[c] for c in cols})
    mf = MetricFrame(metrics={'tpr': true_positive_rate, 'fpr': false_positive_rate, 'sel': selection_rate, 'acc': accuracy_score, 'n': count}, y_true=y, y_pred=p, sensitive_features=sf)
    auc = MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=s, sensitive_features=sf)
    g = {}
    for key, row in mf.by_group.iterrows():
        k = ' & '.join(key) if isinstance(key, tuple) else key
        g[k] = {m: float(row[m]) for m in ['tpr', 'fpr', 'sel', 'acc', 'n']}
        g[k]['auc'] = float(auc.by_group.loc[key])
    diff = mf.difference(method='between_groups')
    out[name] = {'groups': g, 'eod': float(equalized_odds_difference(y, p, sensitive_features=sf)), 'tpr_diff': float(diff['tpr']), 'fpr_diff': float(diff['fpr']), 'auc_diff': float(auc.difference(method='between_groups'))}
print(json.dumps(out))
`;

test('subgroup metrics and disparities match Fairlearn', () => {
  const table = syntheticPredictions({ n: 1200, seed: 11 });
  const { results } = evaluatePredictions(table, { groups: ['sex', 'site'], intersections: true, minGroupN: 0, bootstrap: 0 });
  const c = results.classes['pneumonia']!;
  const threshold = c.operating_point.threshold!;
  assert.ok(threshold !== null);
  // The evaluation rows are the test split.
  const rows = table.rows.filter((r) => r['split'] === 'test');
  const ref = python<Record<string, { groups: Record<string, Record<string, number>>; eod: number; tpr_diff: number; fpr_diff: number; auc_diff: number }>>(SCRIPT, {
    y: rows.map((r) => (r['label'] === 'pneumonia' ? 1 : 0)),
    score: rows.map((r) => Number(r['score_pneumonia'])),
    sex: rows.map((r) => r['sex']),
    site: rows.map((r) => r['site']),
    threshold,
  });
  const near = (a: number | null, b: number, what: string) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} vs Fairlearn ${b}`);
  for (const col of ['sex', 'site', 'sex × site']) {
    const R = ref[col]!;
    const ours = c.groups[col]!;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(R.groups).sort(), `${col}: same groups`);
    for (const [k, g] of Object.entries(R.groups)) {
      const o = ours[k]!;
      assert.equal(o.n, g['n'], `${col}=${k} n`);
      near(o.operating_point.sensitivity.estimate, g['tpr']!, `${col}=${k} TPR`);
      near(o.operating_point.false_positive_rate.estimate, g['fpr']!, `${col}=${k} FPR`);
      near(o.operating_point.accuracy.estimate, g['acc']!, `${col}=${k} accuracy`);
      const c2 = o.operating_point.confusion;
      near((c2.tp + c2.fp) / o.n, g['sel']!, `${col}=${k} selection rate`);
      near(o.auroc.estimate, g['auc']!, `${col}=${k} AUROC`);
    }
    const d = c.disparities[col]!;
    near(d.equalized_odds_difference, R.eod, `${col} equalized odds difference`);
    near(d.equal_opportunity_difference, R.tpr_diff, `${col} equal opportunity difference`);
    near(d.fpr_gap, R.fpr_diff, `${col} FPR gap`);
    near(d.auroc_gap, R.auc_diff, `${col} AUROC gap`);
  }
});

test('minimum-n guard keeps small groups out of disparities and says so', () => {
  const table = syntheticPredictions({ n: 300, seed: 5 });
  const { results } = evaluatePredictions(table, { groups: ['site', 'age_band'], minGroupN: 60, bootstrap: 0 });
  const c = results.classes['pneumonia']!;
  const small = Object.entries(c.groups['age_band']!).filter(([, g]) => g.n < 60);
  assert.ok(small.length > 0);
  for (const [k, g] of small) {
    assert.equal(g.sufficient, false);
    assert.match(g.note ?? '', /below the minimum of 60/);
    assert.ok(!c.disparities['age_band']!.groups_compared.includes(k));
  }
  assert.ok(c.flags.some((f) => f.severity === 'info' && /Too few cases to judge age_band/.test(f.text)));
});
