/** Margin: the two most likely answers are closest. */
import { margin as measure } from '../measures.js';
import type { AcquisitionFunction } from '../types.js';

export const margin: AcquisitionFunction = {
  name: 'margin',
  description: '1 − (top − second probability) (multi-label: 1 − |2p − 1| per finding)',
  needs: 'probabilities',
  score: (x) => measure(x.probabilities, x.n, x.k, x.kind, x.aggregate),
  reason: (v) => `the two most likely answers are only ${(100 * (1 - v)).toFixed(0)} percentage points apart`,
};
