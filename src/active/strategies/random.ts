/** Random acquisition: the baseline every other strategy must beat. */
import type { AcquisitionFunction } from '../types.js';

export const random: AcquisitionFunction = {
  name: 'random',
  description: 'uniformly at random (seeded): the baseline',
  needs: 'probabilities',
  select(input, count) {
    // Partial Fisher–Yates: the first `count` of a seeded shuffle.
    const idx = Array.from({ length: input.n }, (_, i) => i);
    const want = Math.min(count, input.n);
    for (let i = 0; i < want; i++) {
      const j = i + input.rng.int(input.n - i);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return { order: idx.slice(0, want), values: new Array<number>(want).fill(NaN) };
  },
  reason: () => 'drawn at random (baseline)',
};
