/**
 * The three ways of dividing a manifest: a stratified train/val/test hold-out, stratified k-fold
 * cross-validation, and leave-one-site-out. All are patient-grouped and reproducible from a seed.
 */
import type { ManifestRecord, Split } from '../manifest.js';
import { InputError } from '../../util/errors.js';
import { allocateGroups, addToState, emptyState } from './allocate.js';
import { existingPatientSplits, patientGroups, type PatientGroup } from './groups.js';

export const SPLIT_NAMES: readonly Split[] = ['train', 'val', 'test'];
export const DEFAULT_FRACTIONS: readonly [number, number, number] = [0.7, 0.15, 0.15];

export interface SplitAssignment {
  method: 'holdout' | 'kfold' | 'loso';
  /** The manifest column the values belong in. */
  column: 'split' | 'fold';
  /** One value per input record, same order; undefined = left out (e.g. already in the test split). */
  values: (string | undefined)[];
  /** The possible values, in order: split names, fold numbers or site names. */
  bins: string[];
  /** Records whose value came from the manifest's existing `split` column. */
  kept: number;
  /** Plain-language remarks for the user (no identifiers). */
  notes: string[];
}

export interface HoldoutOptions {
  /** train, val, test fractions; must sum to 1. */
  fractions?: readonly number[];
  seed?: number;
  /** Ignore an existing `split` column and reassign every record. */
  force?: boolean;
}

function checkFractions(f: readonly number[]): number[] {
  if (f.length !== 3 || f.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new InputError('SPLIT_FRACTIONS', `fractions must be three non-negative numbers (train,val,test), got ${f.join(',')}`);
  }
  const s = f[0]! + f[1]! + f[2]!;
  if (Math.abs(s - 1) > 1e-6) throw new InputError('SPLIT_FRACTIONS', `fractions must sum to 1, got ${f.join(',')} (sum ${s})`);
  if (f[0]! <= 0) throw new InputError('SPLIT_FRACTIONS', 'the train fraction must be above 0');
  return f.map((x) => x / s);
}

function checkNotEmpty(records: readonly ManifestRecord[]): void {
  if (records.length === 0) throw new InputError('SPLIT_EMPTY', 'there are no records to split');
}

/**
 * Patient-level stratified train/val/test split. Records that already have a `split` keep it
 * (and a patient's other records follow it) unless `force`; the rest are allocated so that each
 * split approaches its fraction within every stratum, counting the kept records.
 * @example const a = holdoutSplit(manifest.records, { fractions: [0.7, 0.15, 0.15], seed: 1 });
 */
export function holdoutSplit(records: readonly ManifestRecord[], opts: HoldoutOptions = {}): SplitAssignment {
  checkNotEmpty(records);
  const fractions = checkFractions(opts.fractions ?? DEFAULT_FRACTIONS);
  const groups = patientGroups(records);
  const existing = opts.force ? new Map<string, Split>() : existingPatientSplits(records, groups);
  const values: (string | undefined)[] = new Array(records.length).fill(undefined);
  const state = emptyState(3);
  let kept = 0;
  let inherited = 0;
  const free: PatientGroup[] = [];
  for (const g of groups) {
    const s = existing.get(g.key);
    if (!s) {
      free.push(g);
      continue;
    }
    for (const i of g.members) {
      values[i] = s;
      if (records[i]!.split) kept++;
      else inherited++;
    }
    addToState(state, g.stratum, SPLIT_NAMES.indexOf(s), g.members.length);
  }
  const bins = allocateGroups(free, fractions, opts.seed ?? 1, state);
  for (const g of free) for (const i of g.members) values[i] = SPLIT_NAMES[bins.get(g.key)!];
  const notes: string[] = [];
  if (kept) notes.push(`${kept} record(s) kept the split already in the manifest (use --force to reassign)`);
  if (inherited) notes.push(`${inherited} record(s) without a split joined their patient's existing split`);
  return { method: 'holdout', column: 'split', values, bins: [...SPLIT_NAMES], kept, notes };
}

export interface FoldOptions {
  seed?: number;
  /** Use every record, ignoring an existing `split`/`fold` column. */
  force?: boolean;
}

/**
 * Records taking part in cross-validation: unless forced, patients already in the test split stay
 * out (the test set is not to be touched while choosing a model), and an existing `fold` column
 * is not silently overwritten.
 */
function crossValidationGroups(records: readonly ManifestRecord[], force: boolean, notes: string[]): PatientGroup[] {
  const groups = patientGroups(records);
  if (force) return groups;
  if (records.some((r) => (r.columns['fold'] ?? '').trim() !== '')) {
    throw new InputError('SPLIT_EXISTS', 'the manifest already has a fold column; pass --force to overwrite it');
  }
  const existing = existingPatientSplits(records, groups);
  const kept = groups.filter((g) => existing.get(g.key) !== 'test');
  const left = groups.length - kept.length;
  if (left) {
    const n = groups.filter((g) => existing.get(g.key) === 'test').reduce((a, g) => a + g.members.length, 0);
    notes.push(`${n} record(s) of ${left} patient(s) already in the test split are left out of the folds (use --force to include them)`);
  }
  return kept;
}

/**
 * Stratified, patient-grouped k-fold: every included record gets exactly one fold "0".."k−1".
 * @example const a = kFoldSplit(manifest.records, 5, { seed: 1 }); // a.values[i] === '3' → record i is in fold 3
 */
export function kFoldSplit(records: readonly ManifestRecord[], folds = 5, opts: FoldOptions = {}): SplitAssignment {
  checkNotEmpty(records);
  if (!Number.isInteger(folds) || folds < 2) throw new InputError('SPLIT_FOLDS', `folds must be a whole number of at least 2, got ${folds}`);
  const notes: string[] = [];
  const groups = crossValidationGroups(records, opts.force ?? false, notes);
  if (groups.length < folds) {
    throw new InputError('SPLIT_FOLDS', `${folds} folds need at least ${folds} patients, but there are ${groups.length}`);
  }
  const fractions = new Array<number>(folds).fill(1 / folds);
  const bins = allocateGroups(groups, fractions, opts.seed ?? 1);
  const values: (string | undefined)[] = new Array(records.length).fill(undefined);
  for (const g of groups) for (const i of g.members) values[i] = String(bins.get(g.key));
  return { method: 'kfold', column: 'fold', values, bins: fractions.map((_, i) => String(i)), kept: 0, notes };
}

/**
 * Leave-one-site-out: the fold of a record is its site; fold s trains on every other site and
 * tests on s. A patient seen at several sites is kept whole at the site holding most of their
 * records (so no patient straddles train and test). Records without a site get no fold: they are
 * never held out, only used for training.
 * @example const a = leaveOneSiteOut(manifest.records); // a.bins = ['site-a', 'site-b', …]
 */
export function leaveOneSiteOut(records: readonly ManifestRecord[], opts: FoldOptions = {}): SplitAssignment {
  checkNotEmpty(records);
  const notes: string[] = [];
  const groups = crossValidationGroups(records, opts.force ?? false, notes);
  const values: (string | undefined)[] = new Array(records.length).fill(undefined);
  let noSite = 0;
  let multiSite = 0;
  for (const g of groups) {
    const counts = new Map<string, number>();
    for (const i of g.members) {
      const s = records[i]!.site;
      if (s !== undefined) counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    if (counts.size === 0) {
      noSite += g.members.length;
      continue;
    }
    if (counts.size > 1) multiSite++;
    const site = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
    for (const i of g.members) values[i] = site;
  }
  const sites = [...new Set(values.filter((v): v is string => v !== undefined))].sort();
  if (sites.length < 2) {
    throw new InputError('SPLIT_SITES', `leave-one-site-out needs at least two sites in the "site" column, found ${sites.length}`);
  }
  if (noSite) notes.push(`${noSite} record(s) have no site: they get no fold and are only ever used for training`);
  if (multiSite) notes.push(`${multiSite} patient(s) appear at more than one site; each is kept whole at the site with most of their records`);
  return { method: 'loso', column: 'fold', values, bins: sites, kept: 0, notes };
}
