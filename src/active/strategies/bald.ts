/** BALD: the samples disagree with each other while each is confident (epistemic uncertainty). */
import { bald as measure } from '../measures.js';
import type { AcquisitionFunction, AcquisitionInput } from '../types.js';
import { requireSamples } from './needs.js';

export const bald: AcquisitionFunction = {
  name: 'bald',
  description: 'mutual information between label and model (MC dropout, ensemble or TTA samples)',
  needs: 'samples',
  score(x: AcquisitionInput) {
    const s = requireSamples(x, 'bald');
    return measure(s.data, s.count, x.n, x.k, x.kind, x.aggregate);
  },
  reason: (v, x) => `the ${x.samples?.count ?? ''} ${x.samples?.source ?? ''} samples disagree: mutual information ${v.toFixed(3)} nats`,
};
