/**
 * Simulated readers: each reads every study and calls each finding with a known, per-reader,
 * per-finding sensitivity and specificity (one reader is clearly weaker), so agreement statistics and
 * consensus methods (majority, Dawid–Skene) can be checked against the truth.
 */
import { Rng } from '../../util/rng.js';
import type { Finding, Labels, ReaderProfile } from './types.js';
import { FINDINGS } from './types.js';

const rec = (c: number, e: number, n: number, d: number, p: number): Record<Finding, number> => ({ Cardiomegaly: c, Effusion: e, Consolidation: n, Nodule: d, Pneumothorax: p });

/** The readers and their true operating characteristics (recorded in cohort.json). */
export const READERS: readonly ReaderProfile[] = [
  { reader: 'R1', sensitivity: rec(0.93, 0.9, 0.88, 0.8, 0.9), specificity: rec(0.96, 0.97, 0.95, 0.98, 0.99) },
  { reader: 'R2', sensitivity: rec(0.88, 0.86, 0.9, 0.72, 0.85), specificity: rec(0.94, 0.95, 0.92, 0.97, 0.98) },
  { reader: 'R3', sensitivity: rec(0.9, 0.82, 0.8, 0.65, 0.8), specificity: rec(0.9, 0.96, 0.96, 0.95, 0.99) },
  { reader: 'R4', sensitivity: rec(0.7, 0.62, 0.6, 0.45, 0.55), specificity: rec(0.85, 0.88, 0.84, 0.9, 0.95) },
];

export interface ReaderRead {
  id: string;
  reader: string;
  labels: Labels;
}

/**
 * Every reader's reads of every study, in study order then reader order. Each (study, reader) pair
 * has its own seeded stream, so a study's reads do not depend on which other studies are in the cohort.
 *
 * @example simulateReads([{ studyId: 'ST00001', labels }], READERS, 1).length // 4
 */
export function simulateReads(studies: readonly { studyId: string; labels: Labels }[], readers: readonly ReaderProfile[], seed: number): ReaderRead[] {
  const out: ReaderRead[] = [];
  for (const s of studies) {
    for (const r of readers) {
      const rng = new Rng(`synth-read:${seed}:${r.reader}:${s.studyId}`);
      const labels = {} as Labels;
      for (const f of FINDINGS) {
        const u = rng.random();
        labels[f] = s.labels[f] === 1 ? (u < r.sensitivity[f] ? 1 : 0) : u < r.specificity[f] ? 0 : 1;
      }
      out.push({ id: s.studyId, reader: r.reader, labels });
    }
  }
  return out;
}
