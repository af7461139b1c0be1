/**
 * Which images train and which validate. The manifest's `split` column wins when it names any
 * `val` images (train = `train` or blank, `test` is never touched). Otherwise a seeded,
 * patient-level, stratified hold-out from src/data/splits: a patient's images all land on one
 * side, so validation never sees a training patient.
 */
import type { ManifestRecord } from '../data/manifest.js';
import { holdoutSplit } from '../data/splits/index.js';
import type { Targets } from './targets.js';

export interface SplitInfo {
  method: 'manifest' | 'patient-holdout';
  train: number;
  val: number;
  trainPatients: number;
  valPatients: number;
}

export interface ValidationChoice {
  trainRows: number[];
  valRows: number[];
  info: SplitInfo;
}

function patients(records: ManifestRecord[], rows: number[]): number {
  const s = new Set<string>();
  for (const r of rows) if (records[r]!.patientId !== undefined) s.add(records[r]!.patientId!);
  return s.size;
}

/**
 * @example const { trainRows, valRows } = chooseValidation(ds.manifest.records, targets, { seed: 1, valFraction: 0.15 });
 */
export function chooseValidation(records: ManifestRecord[], t: Pick<Targets, 'labelled'>, o: { seed: number; valFraction: number }): ValidationChoice {
  const labelled = records.map((_, i) => i).filter((i) => t.labelled[i] === 1 && records[i]!.split !== 'test');
  let trainRows: number[];
  let valRows: number[];
  let method: SplitInfo['method'];
  if (labelled.some((i) => records[i]!.split === 'val')) {
    method = 'manifest';
    valRows = labelled.filter((i) => records[i]!.split === 'val');
    trainRows = labelled.filter((i) => records[i]!.split !== 'val');
  } else {
    method = 'patient-holdout';
    const subset = labelled.map((i) => records[i]!);
    const a = holdoutSplit(subset, { fractions: [1 - o.valFraction, o.valFraction, 0], seed: o.seed, force: true });
    trainRows = [];
    valRows = [];
    a.values.forEach((v, j) => (v === 'val' ? valRows : trainRows).push(labelled[j]!));
  }
  return {
    trainRows,
    valRows,
    info: { method, train: trainRows.length, val: valRows.length, trainPatients: patients(records, trainRows), valPatients: patients(records, valRows) },
  };
}
