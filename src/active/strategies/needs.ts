/** Clear errors when a strategy is asked for without what it needs. */
import { InputError } from '../../util/errors.js';
import type { AcquisitionInput, Embeddings, ProbabilitySamples } from '../types.js';

export function requireSamples(x: AcquisitionInput, name: string): ProbabilitySamples {
  if (!x.samples || x.samples.count < 2) throw new InputError('ACTIVE_NEEDS_SAMPLES', `strategy ${name} needs at least 2 probability samples per case (MC dropout, an ensemble of models, or test-time augmentation)`);
  return x.samples;
}

export function requireEmbeddings(x: AcquisitionInput, name: string): Embeddings {
  if (!x.embeddings) throw new InputError('ACTIVE_NEEDS_EMBEDDINGS', `strategy ${name} needs penultimate embeddings, which this model does not expose (radml reads them from models it can rebuild as a layer graph ending in a linear layer)`);
  return x.embeddings;
}
