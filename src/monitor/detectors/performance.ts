/**
 * Label-free performance estimate per class (CBPE, see ../cbpe.ts) compared with the reference's
 * realized sensitivity, specificity and AUROC: a one-sided z-test for a drop, with the binomial
 * (or Hanley–McNeil) standard errors of both.
 */
import { normalCdf } from '../../util/normal.js';
import { aurocStandardError, estimatePerformance } from '../cbpe.js';
import { type Detector, type TestResult, lastN } from './types.js';

export const performanceDetector: Detector = {
  name: 'estimated-performance',
  kind: 'performance',
  description: 'sensitivity, specificity and AUROC per class estimated without labels (CBPE) vs the reference',
  run(ctx) {
    const out: TestResult[] = [];
    ctx.profile.classes.forEach((name, c) => {
      const ref = ctx.profile.performance[name];
      if (!ref || ctx.window.scores[c]!.length < 20) return;
      const q = ctx.adjusted[c] ?? ctx.calibrated[c]!;
      const est = estimatePerformance(ctx.window.scores[c]!, q, ctx.profile.thresholds[name] ?? 0.5);
      const P = est.expectedPositives, N = est.expectedNegatives;
      const add = (metric: string, e: number | null, r: number | null, seEst: number, seRef: number) => {
        if (e === null || r === null) return;
        const se = Math.sqrt(seEst ** 2 + seRef ** 2);
        const z = se > 0 ? (e - r) / se : 0;
        out.push({
          detector: 'estimated-performance', kind: 'performance', feature: `${metric}:${name}`, statistic: e, pValue: normalCdf(z), effect: e - r, alarming: true,
          message: `estimated ${metric} for ${name} ${e.toFixed(2)} over ${lastN(ctx.window.n)} without labels (reference ${r.toFixed(2)})`,
        });
      };
      const binSe = (p: number, n: number) => Math.sqrt(Math.max(p * (1 - p), 1e-4) / Math.max(n, 1));
      if (P >= 5) add('sensitivity', est.sensitivity, ref.sensitivity, binSe(est.sensitivity ?? 0, P), binSe(ref.sensitivity ?? 0, ref.positives));
      if (N >= 5) add('specificity', est.specificity, ref.specificity, binSe(est.specificity ?? 0, N), binSe(ref.specificity ?? 0, ref.negatives));
      if (P >= 5 && N >= 5 && est.auroc !== null) add('auroc', est.auroc, ref.auroc, aurocStandardError(est.auroc, P, N), ref.auroc !== null ? aurocStandardError(ref.auroc, ref.positives, ref.negatives) : 0);
    });
    return out;
  },
};
