/** BADGE (Ash et al. 2020): uncertain and diverse at once, by k-means++ on gradient embeddings. */
import { gradientEmbeddings, kMeansPlusPlus } from '../geometry.js';
import type { AcquisitionFunction, AcquisitionInput } from '../types.js';
import { requireEmbeddings } from './needs.js';

export const badge: AcquisitionFunction = {
  name: 'badge',
  description: 'k-means++ seeding on last-layer gradient embeddings (uncertainty × diversity)',
  needs: 'embeddings',
  select(x: AcquisitionInput, count: number) {
    const e = requireEmbeddings(x, 'badge');
    const g = gradientEmbeddings(x.probabilities, e.data, x.n, x.k, e.dim, x.kind);
    return kMeansPlusPlus(g, x.n, x.k * e.dim, count, () => x.rng.random());
  },
  reason: (v) => `its last-layer gradient is large and unlike those of the cases queued before it (distance ${v.toFixed(3)}; the first pick has the largest gradient), so its label would move the model most`,
};
