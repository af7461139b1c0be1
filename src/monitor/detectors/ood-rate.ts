/** Out-of-distribution rejection rate: exact binomial test of the window's rejections against the reference rate (one-sided, more rejections). */
import { binomialCdf } from '../../evaluate/stats.js';
import { type Detector, lastN, pct } from './types.js';

export const oodRateDetector: Detector = {
  name: 'ood-rate',
  kind: 'ood',
  description: 'share of studies the out-of-distribution gate rejects vs the reference share (exact binomial, one-sided)',
  run(ctx) {
    const ref = ctx.ref.oodRejected, win = ctx.window.oodRejected;
    if (!ref || !win || win.length < 10) return [];
    let rw = 0, tw = 0;
    ref.forEach((r, i) => { tw += ctx.refWeights[i]!; if (r) rw += ctx.refWeights[i]!; });
    // A reference without any rejection still has an uncertain rate: half a rejection as the floor.
    const p0 = Math.min(0.999, Math.max(rw, 0.5) / tw);
    const k = win.filter(Boolean).length, m = win.length;
    const p = k === 0 ? 1 : 1 - binomialCdf(k - 1, m, p0);
    return [{ detector: 'ood-rate', kind: 'ood' as const, feature: 'rejection-rate', statistic: k / m, pValue: Math.max(0, p), effect: k / m - p0, alarming: true, message: `the out-of-distribution gate rejected ${pct(k / m)} of ${lastN(m)} vs ${pct(rw / tw)} of reference studies` }];
  },
};
