/** Per-class prediction drift: KS test of each class's score distribution, window vs (prior-corrected) reference. */
import { weightedMoments } from '../math.js';
import { compareNumeric, referenceColumn } from './numeric.js';
import { type Detector, lastN } from './types.js';

export const predictionDetector: Detector = {
  name: 'prediction-drift',
  kind: 'prediction',
  description: 'KS test of the score distribution per class (after correcting the reference for an estimated prevalence shift)',
  run(ctx) {
    return ctx.profile.classes.flatMap((name, c) => {
      const r = ctx.ref.scores[c]!, w = ctx.window.scores[c]!;
      if (w.length < 10) return [];
      const cmp = compareNumeric(r, Array.from(ctx.refWeights), w, referenceColumn(r).order);
      const mr = weightedMoments(r, ctx.refWeights).mean, mw = weightedMoments(w).mean;
      return [{
        detector: 'prediction-drift', kind: 'prediction' as const, feature: name, statistic: cmp.ks, pValue: cmp.pValue, effect: cmp.ks, alarming: true,
        message: `scores for ${name}: mean ${mw.toFixed(2)} in ${lastN(w.length)} vs ${mr.toFixed(2)} in the reference${ctx.estimatedPrevalence.some((e) => e !== null) ? ' (corrected for case mix)' : ''} (KS D = ${cmp.ks.toFixed(2)})`,
      }];
    });
  },
};
