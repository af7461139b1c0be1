/**
 * Non-IID partitions of one dataset into simulated sites: by an existing column (e.g. `site`), by
 * Dirichlet label skew (Hsu et al. 2019: each class's rows spread over sites in Dir(α) proportions;
 * small α = strongly skewed), or by quantity skew (site sizes in Dir(α) proportions, labels IID).
 * Rows of one patient always stay together.
 */
import type { ManifestRecord } from '../data/manifest.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export type PartitionSpec =
  | { kind: 'column'; column: string }
  | { kind: 'dirichlet'; sites: number; alpha: number }
  | { kind: 'quantity'; sites: number; alpha: number };

export interface Partition {
  /** Site names in a stable order. */
  sites: string[];
  /** Row indices per site (same order as `sites`). */
  rows: number[][];
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 through the boost u^(1/shape). */
export function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(Math.max(rng.random(), 1e-300), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal(0, 1);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = rng.random();
    if (Math.log(Math.max(u, 1e-300)) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** One draw from Dirichlet(α, …, α) over k components. */
export function sampleDirichlet(k: number, alpha: number, rng: Rng): number[] {
  const g = Array.from({ length: k }, () => sampleGamma(alpha, rng));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((x) => x / s);
}

function columnValue(r: ManifestRecord, column: string): string | undefined {
  const v = r.columns[column];
  return v !== undefined && v.trim().length ? v.trim() : undefined;
}

/** Patient groups (or single rows without a patient id) with a label key for stratification. */
function groupsOf(records: ManifestRecord[], rows: number[], labelKey: (row: number) => string): { rows: number[]; key: string }[] {
  const by = new Map<string, number[]>();
  for (const i of rows) {
    const g = records[i]!.patientId !== undefined ? `p:${records[i]!.patientId}` : `r:${i}`;
    let l = by.get(g);
    if (!l) by.set(g, (l = []));
    l.push(i);
  }
  return [...by.values()].map((rs) => ({ rows: rs, key: labelKey(rs[0]!) }));
}

/**
 * Split `rows` of `records` into sites.
 *
 * @example partitionRows(ds.manifest.records, rows, { kind: 'dirichlet', sites: 4, alpha: 0.5 }, (i) => String(classIndex[i]), 1)
 */
export function partitionRows(records: ManifestRecord[], rows: number[], spec: PartitionSpec, labelKey: (row: number) => string, seed: number): Partition {
  if (spec.kind === 'column') {
    const by = new Map<string, number[]>();
    let missing = 0;
    for (const i of rows) {
      const v = columnValue(records[i]!, spec.column);
      if (v === undefined) { missing++; continue; }
      let l = by.get(v);
      if (!l) by.set(v, (l = []));
      l.push(i);
    }
    if (by.size < 2) throw new InputError('FEDERATE_PARTITION', `column "${spec.column}" names ${by.size} site(s); a federation needs at least 2${missing ? ` (${missing} rows have no value)` : ''}`);
    const sites = [...by.keys()].sort();
    return { sites, rows: sites.map((s) => by.get(s)!) };
  }
  if (!(spec.sites >= 2)) throw new InputError('FEDERATE_PARTITION', `a partition needs at least 2 sites (got ${spec.sites})`);
  if (!(spec.alpha > 0)) throw new InputError('FEDERATE_PARTITION', `the Dirichlet concentration α must be > 0 (got ${spec.alpha})`);
  const rng = new Rng(`${seed}:partition:${spec.kind}`);
  const groups = groupsOf(records, rows, labelKey);
  // Shuffle groups once (Fisher–Yates) so ties in allocation do not follow file order.
  for (let i = groups.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [groups[i], groups[j]] = [groups[j]!, groups[i]!];
  }
  const out: number[][] = Array.from({ length: spec.sites }, () => []);
  const deal = (gs: typeof groups, p: number[]): void => {
    // Cumulative proportions → contiguous slices of the shuffled groups.
    let acc = 0;
    let start = 0;
    p.forEach((pi, s) => {
      acc += pi;
      const end = s === p.length - 1 ? gs.length : Math.round(acc * gs.length);
      for (const g of gs.slice(start, end)) out[s]!.push(...g.rows);
      start = end;
    });
  };
  if (spec.kind === 'quantity') deal(groups, sampleDirichlet(spec.sites, spec.alpha, rng));
  else {
    const keys = [...new Set(groups.map((g) => g.key))].sort();
    for (const k of keys) deal(groups.filter((g) => g.key === k), sampleDirichlet(spec.sites, spec.alpha, rng));
  }
  const sites = out.map((_, s) => `site${s + 1}`);
  for (const r of out) r.sort((a, b) => a - b);
  return { sites, rows: out };
}
