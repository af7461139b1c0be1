/** `radml split`: patient-level stratified hold-out, k-fold or leave-one-site-out, written as a manifest column. */
import { readManifest } from '../data/manifest.js';
import {
  DEFAULT_FRACTIONS, formatCountTable, holdoutSplit, kFoldSplit, leaveOneSiteOut, summariseSplit, writeSplitManifest,
  type SplitAssignment,
} from '../data/splits/index.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, list, num, requireStr, str } from './lib/command.js';

export const command: Command = {
  name: 'split',
  summary: 'split a manifest by patient into train/val/test, k folds, or leave-one-site-out folds',
  usage: '--manifest <csv> --out <csv> [--method holdout|kfold|loso]',
  help: `
Every split is by patient (patient_id; else study_id; else the row), so no patient's images are on
two sides. Hold-out and k-fold are stratified on the label (multi-label: the rarest positive finding,
or "none"). The output is a copy of the manifest with every column kept, plus:
  holdout  a "split" column (train / val / test)
  kfold    a "fold" column (0 … k−1); patients already in the test split are left out
  loso     a "fold" column holding the site each record is held out with
An existing split column is respected (and leakage in it reported) unless --force.

Examples:
  radml split --manifest labels.csv --out labels.split.csv
  radml split --manifest labels.csv --out folds.csv --method kfold --folds 5 --seed 7
  radml split --manifest multi-site.csv --out loso.csv --method loso`,
  options: {
    manifest: { type: 'string', arg: '<csv>', description: 'input manifest' },
    out: { type: 'string', arg: '<csv>', description: 'where to write the manifest copy with the split/fold column' },
    method: { type: 'string', arg: 'holdout|kfold|loso', description: 'how to split', default: 'holdout' },
    fractions: { type: 'string', arg: 'T,V,T', description: 'train,val,test fractions for holdout', default: DEFAULT_FRACTIONS.join(',') },
    folds: { type: 'string', arg: 'K', description: 'number of folds for kfold', default: '5' },
    seed: { type: 'string', arg: 'N', description: 'random seed', default: '1' },
    force: { type: 'boolean', description: 'ignore an existing split/fold column and reassign every record' },
  },
  async run(args, io) {
    const manifestPath = requireStr(args, 'manifest', 'split');
    const out = requireStr(args, 'out', 'split');
    const method = str(args, 'method') ?? 'holdout';
    const seed = num(args, 'seed', { integer: true, min: 0 }) ?? 1;
    const force = bool(args, 'force');
    const manifest = readManifest(manifestPath);
    let a: SplitAssignment;
    switch (method) {
      case 'holdout': {
        const fr = (list(args, 'fractions') ?? []).map(Number);
        if (fr.length !== 3 || fr.some((x) => !Number.isFinite(x))) {
          throw new InputError('CLI_ARGS', `--fractions must be three numbers like 0.7,0.15,0.15, got "${str(args, 'fractions')}"`);
        }
        a = holdoutSplit(manifest.records, { fractions: fr, seed, force });
        break;
      }
      case 'kfold':
        a = kFoldSplit(manifest.records, num(args, 'folds', { integer: true, min: 2 }) ?? 5, { seed, force });
        break;
      case 'loso':
        a = leaveOneSiteOut(manifest.records, { force });
        break;
      default:
        throw new InputError('CLI_ARGS', `--method must be holdout, kfold or loso, got "${method}"`);
    }
    writeSplitManifest(out, manifest, a);
    const s = summariseSplit(manifest, a);
    const title = a.column === 'split' ? 'split' : a.method === 'loso' ? 'held-out site' : 'fold';
    io.out(`${manifest.records.length} records → ${out} (${a.method}, column "${a.column}"${a.method === 'loso' ? '' : `, seed ${seed}`})`);
    io.out('');
    io.out(formatCountTable(`${title} × class`, s.bins, s.classes, (b, c) => s.byClass[b]?.[c] ?? 0));
    io.out('');
    io.out(formatCountTable(`${title} × site`, s.bins, s.sites, (b, c) => s.bySite[b]?.[c] ?? 0));
    io.out('');
    io.out(`patients: ${s.bins.map((b) => `${b} ${s.patients[b] ?? 0}`).join(', ')}`);
    if (s.unassigned) io.out(`left out: ${s.unassigned} record(s)`);
    for (const n of a.notes) io.err(`note: ${n}`);
    return 0;
  },
};
