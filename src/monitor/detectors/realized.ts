/**
 * Realized performance from feedback labels in the window: sensitivity and specificity at the
 * operating point and AUROC, compared with the reference (one-sided z-test for a drop). Intervals
 * (Wilson, DeLong) are computed by ../realized.ts for reports.
 */
import { normalCdf } from '../../util/normal.js';
import { aurocStandardError } from '../cbpe.js';
import { realizedPerformance } from '../realized.js';
import { type Detector, type TestResult, lastN } from './types.js';

export const realizedDetector: Detector = {
  name: 'realized-performance',
  kind: 'performance',
  description: 'sensitivity, specificity and AUROC per class from feedback labels vs the reference',
  run(ctx) {
    const out: TestResult[] = [];
    if (!ctx.window.labels) return out;
    ctx.profile.classes.forEach((name, c) => {
      const ref = ctx.profile.performance[name];
      if (!ref) return;
      const r = realizedPerformance(ctx.window.scores[c]!, ctx.window.labels![c]!, ctx.profile.thresholds[name] ?? 0.5);
      const add = (metric: string, e: number | null, rv: number | null, se: number, n: number) => {
        // Below 30 labelled cases the normal approximation of a proportion is too rough for an alarm.
        if (e === null || rv === null || n < 30) return;
        const z = se > 0 ? (e - rv) / se : 0;
        out.push({ detector: 'realized-performance', kind: 'performance', feature: `${metric}:${name}`, statistic: e, pValue: normalCdf(z), effect: e - rv, alarming: true, message: `${metric} for ${name} ${e.toFixed(2)} on ${n} labelled studies of ${lastN(ctx.window.n)} (reference ${rv.toFixed(2)})` });
      };
      const bse = (p: number, n: number, p0: number, n0: number) => Math.sqrt(Math.max(p * (1 - p), 1e-4) / Math.max(1, n) + Math.max(p0 * (1 - p0), 1e-4) / Math.max(1, n0));
      add('sensitivity', r.sensitivity.estimate, ref.sensitivity, bse(r.sensitivity.estimate ?? 0, r.positives, ref.sensitivity ?? 0, ref.positives), r.positives);
      add('specificity', r.specificity.estimate, ref.specificity, bse(r.specificity.estimate ?? 0, r.negatives, ref.specificity ?? 0, ref.negatives), r.negatives);
      if (r.auroc.estimate !== null && ref.auroc !== null) add('auroc', r.auroc.estimate, ref.auroc, Math.hypot(r.auroc.se ?? aurocStandardError(r.auroc.estimate, r.positives, r.negatives), aurocStandardError(ref.auroc, ref.positives, ref.negatives)), Math.min(r.positives, r.negatives) * 2);
    });
    return out;
  },
};
