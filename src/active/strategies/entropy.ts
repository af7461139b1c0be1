/** Entropy: the predictive distribution is most spread out. */
import { entropy as measure } from '../measures.js';
import type { AcquisitionFunction } from '../types.js';

export const entropy: AcquisitionFunction = {
  name: 'entropy',
  description: 'predictive entropy in nats (multi-label: binary entropy per finding, mean or max)',
  needs: 'probabilities',
  score: (x) => measure(x.probabilities, x.n, x.k, x.kind, x.aggregate),
  reason: (v, x) => `uncertain prediction: entropy ${v.toFixed(3)} nats (maximum ${(x.kind === 'categorical' ? Math.log(x.k) : Math.log(2)).toFixed(3)})`,
};
