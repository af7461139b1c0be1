/** Least confidence: the model's top probability is lowest. */
import { leastConfidence as measure } from '../measures.js';
import type { AcquisitionFunction } from '../types.js';

export const leastConfidence: AcquisitionFunction = {
  name: 'least-confidence',
  description: '1 − top probability (multi-label: per finding, mean or max)',
  needs: 'probabilities',
  score: (x) => measure(x.probabilities, x.n, x.k, x.kind, x.aggregate),
  reason: (v) => `the model's most likely answer has only ${(100 * (1 - v)).toFixed(0)}% probability`,
};
