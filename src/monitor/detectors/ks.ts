/** Kolmogorov–Smirnov test on every numeric feature (header rows/columns, image statistics). */
import { weightedQuantile } from '../math.js';
import { numericComparisons } from './numeric.js';
import { type Detector, lastN } from './types.js';

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

export const ksDetector: Detector = {
  name: 'ks',
  kind: 'covariate',
  description: 'Kolmogorov–Smirnov two-sample test per numeric header field and image statistic',
  run(ctx) {
    return numericComparisons(ctx).map(({ feature: f, ref: r, refOrder, window: w, comparison: c }) => {
      // Weighted median of the reference from its cached order (the message only).
      let half = r.w.reduce((a, b) => a + b, 0) / 2, mr = r.x[refOrder[refOrder.length - 1]!]!;
      for (const i of refOrder) { half -= r.w[i]!; if (half <= 0) { mr = r.x[i]!; break; } }
      const mw = weightedQuantile(w.x, undefined, 0.5);
      return {
        detector: 'ks', kind: 'covariate' as const, feature: f, statistic: c.ks, pValue: c.pValue, effect: c.ks, alarming: true,
        message: `${f.replace(/_/g, ' ')}: median ${fmt(mw)} in ${lastN(w.x.length)} vs ${fmt(mr)} in the reference (KS D = ${c.ks.toFixed(2)})`,
      };
    });
  },
};
