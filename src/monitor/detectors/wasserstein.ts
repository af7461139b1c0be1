/** Wasserstein-1 distance per numeric feature, in units of the reference's standard deviation (effect size; reported, never alarms). */
import { weightedMoments } from '../math.js';
import { numericComparisons } from './numeric.js';
import { type Detector, lastN } from './types.js';

export const wassersteinDetector: Detector = {
  name: 'wasserstein',
  kind: 'covariate',
  description: 'Wasserstein-1 distance per numeric feature, divided by the reference standard deviation (effect size)',
  run(ctx) {
    return numericComparisons(ctx).map(({ feature: f, ref: r, window: w, comparison: c }) => {
      const sd = Math.sqrt(weightedMoments(r.x, r.w).variance);
      const effect = sd > 0 ? c.wasserstein / sd : 0;
      return { detector: 'wasserstein', kind: 'covariate' as const, feature: f, statistic: c.wasserstein, pValue: null, effect, alarming: false, message: `${f.replace(/_/g, ' ')}: distribution moved by ${effect.toFixed(2)} reference SD over ${lastN(w.x.length)}` };
    });
  },
};
