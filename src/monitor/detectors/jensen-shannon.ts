/** Jensen–Shannon divergence per categorical field (effect size, reported; the chi-square test alarms). */
import { categoricalTable, jensenShannon } from './categorical.js';
import { type Detector, lastN } from './types.js';

export const jensenShannonDetector: Detector = {
  name: 'jensen-shannon',
  kind: 'covariate',
  description: 'Jensen–Shannon divergence (nats) per categorical header field (effect size)',
  run(ctx) {
    const out = [];
    for (const [f, refVals] of Object.entries(ctx.ref.categorical)) {
      const t = categoricalTable(refVals, ctx.refWeights, ctx.window.categorical[f] ?? []);
      const n = t.win.reduce((a, b) => a + b, 0);
      if (t.categories.length < 2 || n < 10) continue;
      const js = jensenShannon(t);
      out.push({ detector: 'jensen-shannon', kind: 'covariate' as const, feature: f, statistic: js, pValue: null, effect: js, alarming: false, message: `${f.replace(/_/g, ' ')}: Jensen–Shannon divergence ${js.toFixed(3)} over ${lastN(n)}` });
    }
    return out;
  },
};
