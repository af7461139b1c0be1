/** Core-set: cover the embedding space, so the labelled set represents the whole pool. */
import { kCenterGreedy } from '../geometry.js';
import type { AcquisitionFunction, AcquisitionInput } from '../types.js';
import { requireEmbeddings } from './needs.js';

export const coreset: AcquisitionFunction = {
  name: 'coreset',
  description: 'k-center greedy on penultimate embeddings (farthest from every labelled case)',
  needs: 'embeddings',
  select(x: AcquisitionInput, count: number) {
    const e = requireEmbeddings(x, 'coreset');
    const l = x.labelledEmbeddings;
    const first = l && l.data.length ? undefined : x.rng.int(x.n);
    return kCenterGreedy(e.data, x.n, e.dim, count, { ...(l && l.data.length && { labelled: l.data, labelledCount: l.data.length / l.dim }), ...(first !== undefined && { first }) });
  },
  reason: (v) => (Number.isFinite(v) ? `far from every labelled case in the model's feature space (distance ${v.toFixed(3)})` : 'first centre: nothing is labelled yet, picked at random'),
};
