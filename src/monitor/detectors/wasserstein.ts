/** Wasserstein-1 distance per numeric feature, in units of the reference's standard deviation (effect size; reported, never alarms). */
import { weightedMoments } from '../math.js';
import { compareNumeric, finite, referenceColumn } from './numeric.js';
import { type Detector, lastN } from './types.js';

export const wassersteinDetector: Detector = {
  name: 'wasserstein',
  kind: 'covariate',
  description: 'Wasserstein-1 distance per numeric feature, divided by the reference standard deviation (effect size)',
  run(ctx) {
    const out = [];
    for (const [f, refVals] of Object.entries(ctx.ref.numeric)) {
      const col = referenceColumn(refVals);
      const r = { x: col.x, w: col.idx.map((i) => ctx.refWeights[i]!) };
      const w = finite(ctx.window.numeric[f] ?? [], undefined);
      if (r.x.length < 10 || w.x.length < 10) continue;
      const c = compareNumeric(r.x, r.w, w.x, col.order);
      const sd = Math.sqrt(weightedMoments(r.x, r.w).variance);
      const effect = sd > 0 ? c.wasserstein / sd : 0;
      out.push({ detector: 'wasserstein', kind: 'covariate' as const, feature: f, statistic: c.wasserstein, pValue: null, effect, alarming: false, message: `${f.replace(/_/g, ' ')}: distribution moved by ${effect.toFixed(2)} reference SD over ${lastN(w.x.length)}` });
    }
    return out;
  },
};
