/**
 * Greedy proportional allocation of patient groups to bins (splits or folds), stratified.
 *
 * Within each stratum (largest first), patients are shuffled with a seeded generator, then placed
 * largest first, each into the bin that is most under-filled relative to its target share of that
 * stratum (1 − count/target). Ties (e.g. a stratum's first patient, or strata of one patient)
 * go to the bin most under-filled over all strata, so many tiny strata still add up to the
 * requested fractions. This is proportional-representation apportionment applied per stratum, and
 * keeps every bin within about one patient of its target in every stratum.
 */
import { Rng } from '../../util/rng.js';
import type { PatientGroup } from './groups.js';

const EPS = 1e-9;

export interface AllocationState {
  /** Records already in each bin, per stratum (fixed assignments count toward the targets). */
  perStratum: Map<string, Float64Array>;
  total: Float64Array;
}

export function emptyState(bins: number): AllocationState {
  return { perStratum: new Map(), total: new Float64Array(bins) };
}

export function addToState(state: AllocationState, stratum: string, bin: number, records: number): void {
  let s = state.perStratum.get(stratum);
  if (!s) {
    s = new Float64Array(state.total.length);
    state.perStratum.set(stratum, s);
  }
  s[bin]! += records;
  state.total[bin]! += records;
}

/**
 * Assign each group to a bin. `fractions` sum to 1; a bin with fraction 0 receives nothing.
 * Returns a map from group key to bin index. `state` may hold fixed records already placed.
 */
export function allocateGroups(
  groups: readonly PatientGroup[],
  fractions: readonly number[],
  seed: number,
  state: AllocationState = emptyState(fractions.length),
): Map<string, number> {
  const bins = fractions.length;
  const byStratum = new Map<string, PatientGroup[]>();
  for (const g of groups) {
    const l = byStratum.get(g.stratum);
    if (l) l.push(g);
    else byStratum.set(g.stratum, [g]);
  }
  // Fixed records count toward each stratum's size as well.
  const stratumSize = (s: string, list: PatientGroup[]) => {
    let n = list.reduce((a, g) => a + g.members.length, 0);
    const fixed = state.perStratum.get(s);
    if (fixed) for (let b = 0; b < bins; b++) n += fixed[b]!;
    return n;
  };
  const order = [...byStratum.entries()]
    .map(([s, list]) => ({ s, list, n: stratumSize(s, list) }))
    .sort((a, b) => b.n - a.n || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  let grandTotal = 0;
  for (const o of order) grandTotal += o.list.reduce((a, g) => a + g.members.length, 0);
  for (let b = 0; b < bins; b++) grandTotal += state.total[b]!;

  const out = new Map<string, number>();
  const root = new Rng(seed);
  for (const { s, list, n } of order) {
    const rng = root.fork(s);
    const shuffled = rng.shuffle([...list]);
    // Stable sort keeps the shuffled order among patients of equal size.
    shuffled.sort((a, b) => b.members.length - a.members.length);
    for (const g of shuffled) {
      const counts = state.perStratum.get(s) ?? new Float64Array(bins);
      let best = -1;
      let bestLocal = -Infinity;
      let bestGlobal = -Infinity;
      for (let b = 0; b < bins; b++) {
        const f = fractions[b]!;
        if (f <= 0) continue;
        const local = 1 - counts[b]! / (f * n);
        const global = 1 - state.total[b]! / (f * grandTotal);
        if (local > bestLocal + EPS || (Math.abs(local - bestLocal) <= EPS && global > bestGlobal + EPS)) {
          best = b;
          bestLocal = local;
          bestGlobal = global;
        }
      }
      out.set(g.key, best);
      addToState(state, s, best, g.members.length);
    }
  }
  return out;
}
