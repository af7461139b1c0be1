/** Variation ratio: the share of samples that do not vote for the most common answer. */
import { variationRatio as measure } from '../measures.js';
import type { AcquisitionFunction, AcquisitionInput } from '../types.js';
import { requireSamples } from './needs.js';

export const variationRatio: AcquisitionFunction = {
  name: 'variation-ratio',
  description: '1 − share of samples voting for the modal answer (MC dropout, ensemble or TTA samples)',
  needs: 'samples',
  score(x: AcquisitionInput) {
    const s = requireSamples(x, 'variation-ratio');
    return measure(s.data, s.count, x.n, x.k, x.kind, x.aggregate);
  },
  reason: (v, x) => `${(100 * v).toFixed(0)}% of the ${x.samples?.count ?? ''} ${x.samples?.source ?? ''} samples disagree with the majority answer`,
};
