/**
 * Patients and strata. Every split is made over patients, never over images, so no patient's
 * images can sit on both sides of an evaluation. A record without `patient_id` is its own patient
 * (keyed by `study_id` if present, else by its row).
 */
import type { ManifestRecord, Split } from '../manifest.js';
import { InputError } from '../../util/errors.js';

export interface PatientGroup {
  /** Internal key, never printed (it may carry a patient identifier). */
  key: string;
  /** Positions in the input records array. */
  members: number[];
  /** Stratification key of the group (see groupStratum). */
  stratum: string;
}

export const NO_FINDING = 'none';
export const UNLABELLED = '(unlabelled)';

/** The grouping key of a record: its patient, else its study, else itself. */
export function patientKey(rec: ManifestRecord, position: number): string {
  if (rec.patientId !== undefined) return 'p\u0000' + rec.patientId;
  if (rec.studyId !== undefined) return 's\u0000' + rec.studyId;
  return 'r\u0000' + position;
}

/**
 * Stratum of each record: the categorical label; for multi-label records the rarest positive
 * finding (rarest across the whole input), or "none" when nothing is positive. Uncertain (−1)
 * counts as not positive here. Records with neither are "(unlabelled)".
 * Returns also the global frequency of each stratum value, used to pick a patient's rarest.
 */
export function recordStrata(records: readonly ManifestRecord[]): { strata: string[]; frequency: Map<string, number> } {
  const positives = new Map<string, number>();
  for (const r of records) {
    if (r.findings) for (const [f, v] of Object.entries(r.findings)) if (v === 1) positives.set(f, (positives.get(f) ?? 0) + 1);
  }
  const strata = records.map((r) => {
    if (r.label !== undefined) return r.label;
    if (r.findings) {
      let best: string | undefined;
      let bestCount = Infinity;
      for (const [f, v] of Object.entries(r.findings)) {
        if (v !== 1) continue;
        const c = positives.get(f)!;
        if (c < bestCount || (c === bestCount && best !== undefined && f < best)) {
          best = f;
          bestCount = c;
        }
      }
      return best ?? NO_FINDING;
    }
    return UNLABELLED;
  });
  const frequency = new Map<string, number>();
  for (const s of strata) frequency.set(s, (frequency.get(s) ?? 0) + 1);
  return { strata, frequency };
}

/**
 * Group records (optionally only those at `positions`) by patient. A patient's stratum is the
 * rarest stratum among its records, so a patient with one rare finding counts toward that finding.
 * Groups come back sorted by key, so the result does not depend on row order.
 */
export function patientGroups(records: readonly ManifestRecord[], positions?: readonly number[]): PatientGroup[] {
  const { strata, frequency } = recordStrata(records);
  const byKey = new Map<string, number[]>();
  for (const i of positions ?? records.keys()) {
    const k = patientKey(records[i]!, i);
    const m = byKey.get(k);
    if (m) m.push(i);
    else byKey.set(k, [i]);
  }
  const groups: PatientGroup[] = [];
  for (const [key, members] of byKey) {
    let stratum = strata[members[0]!]!;
    for (const i of members) {
      const s = strata[i]!;
      const fs = frequency.get(s)!;
      const fb = frequency.get(stratum)!;
      if (fs < fb || (fs === fb && s < stratum)) stratum = s;
    }
    groups.push({ key, members, stratum });
  }
  return groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The split each patient already has in the manifest's `split` column. Throws when a patient's
 * records are already spread over several splits (that is leakage the user must resolve, or
 * override with force). Rows are named by line only, never by patient identifier.
 */
export function existingPatientSplits(records: readonly ManifestRecord[], groups: readonly PatientGroup[]): Map<string, Split> {
  const out = new Map<string, Split>();
  const conflicts: number[] = [];
  for (const g of groups) {
    const seen = new Set<Split>();
    for (const i of g.members) {
      const s = records[i]!.split;
      if (s) seen.add(s);
    }
    if (seen.size > 1) conflicts.push(records[g.members[0]!]!.line);
    else if (seen.size === 1) out.set(g.key, [...seen][0]!);
  }
  if (conflicts.length) {
    throw new InputError(
      'SPLIT_LEAKAGE',
      `${conflicts.length} patient(s) already have records in more than one split (first rows at lines ${conflicts.slice(0, 5).join(', ')}${conflicts.length > 5 ? ', …' : ''}); ` +
        'fix the split column or pass --force to reassign every record',
    );
  }
  return out;
}
