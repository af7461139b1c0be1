/**
 * A synthetic monitoring table for the benchmark: header fields, image statistics, 32-d
 * embeddings, five multilabel scores with labels — drawn i.i.d. from one fixed distribution, so a
 * stream from it is in-distribution by construction (every alarm on it is a false alarm).
 */
import type { Observation } from '../../src/monitor/observation.js';
import { Rng } from '../../src/util/rng.js';

export const CLASSES = ['a', 'b', 'c', 'd', 'e'];
const PREV = [0.12, 0.06, 0.07, 0.05, 0.04];
const VENDORS = [['NORTHWIND', 'NW-DR 500', 'DX', 'MONOCHROME2', '12', '120-129'], ['HELIX', 'HX CR-2', 'CR', 'MONOCHROME1', '12', '110-119'], ['ORION', 'ORION DX', 'DX', 'MONOCHROME2', '16', '120-129']] as const;
export const EMBEDDING_DIM = 32;

export function observations(n: number, seed: number): Observation[] {
  const rng = new Rng(`bench-monitor:${seed}`);
  const out: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const v = VENDORS[rng.random() < 0.4 ? 0 : rng.random() < 0.55 ? 1 : 2]!;
    const labels = PREV.map((p) => (rng.random() < p ? 1 : 0)) as (0 | 1)[];
    const scores = labels.map((y, c) => 1 / (1 + Math.exp(-(rng.normal(y ? 1.5 : -1.5, 1) - 0.3 * c))));
    const embedding = Array.from({ length: EMBEDDING_DIM }, (_, k) => rng.normal(k < 5 ? 0.8 * labels[k]! : 0, 1 + 0.02 * k));
    out.push({
      categorical: { manufacturer: v[0], model: v[1], modality: v[2], photometric: v[3], bits_stored: v[4], kvp: v[5], view: rng.random() < 0.15 ? 'AP' : 'PA', body_part: 'CHEST' },
      numeric: { rows: 2048 + 16 * rng.int(8), columns: 2048, intensity_p01: rng.normal(0.04, 0.01), intensity_p50: rng.normal(0.55, 0.05), intensity_p99: rng.normal(0.95, 0.02), intensity_mean: rng.normal(0.52, 0.05), contrast: rng.normal(0.6, 0.06), noise: Math.abs(rng.normal(0.02, 0.004)), sharpness: rng.normal(0.35, 0.05) },
      scores, embedding, oodRejected: null, labels,
    });
  }
  return out;
}

/** CSV of the same table (the embedding as emb_0…), for the peer. */
export function toCsv(obs: Observation[]): string {
  const cat = Object.keys(obs[0]!.categorical), num = Object.keys(obs[0]!.numeric);
  const head = [...cat, ...num, ...Array.from({ length: EMBEDDING_DIM }, (_, k) => `emb_${k}`), ...CLASSES.map((c) => `score_${c}`)];
  const lines = obs.map((o) => [...cat.map((k) => o.categorical[k]), ...num.map((k) => o.numeric[k]), ...o.embedding!.map((x) => x.toFixed(5)), ...o.scores.map((x) => x.toFixed(5))].join(','));
  return [head.join(','), ...lines].join('\n') + '\n';
}
