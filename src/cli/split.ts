/** `radml split`: patient-level stratified hold-out, k-fold or leave-one-site-out, written as a manifest column. */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { datasetLabelOptions, datasetMetaSchema, isDatasetDir } from '../data/dataset.js';
import { manifestSource } from '../data/ingest/sources.js';
import { type Manifest, type ManifestOptions, manifestFromTable, readManifest } from '../data/manifest.js';
import { readJsonWithSchema } from '../util/json.js';
import { MANIFEST_READING_OPTIONS, type ManifestReading, manifestReading } from './lib/columns.js';
import type { CommandIO } from './lib/command.js';
import { restClassName } from '../train/build-targets.js';
import { didYouMean } from '../util/suggest.js';
import {
  DEFAULT_FRACTIONS, formatCountTable, holdoutSplit, kFoldSplit, leaveOneSiteOut, summariseSplit, writeSplitManifest,
  type SplitAssignment,
} from '../data/splits/index.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, choice, list, num, requireStr, str } from './lib/command.js';

export const command: Command = {
  name: 'split',
  summary: 'split a manifest by patient into train/val/test, k folds, or leave-one-site-out folds',
  usage: '--manifest <csv|dataset-dir> --out <csv> [--method holdout|kfold|loso] [--columns to=from,…]',
  help: `
Every split is by patient (patient_id; else study_id; else the row), so no patient's images are on
two sides. Hold-out and k-fold are stratified on the label (multi-label: the rarest positive finding,
or "none"). The output is a copy of the manifest with every column kept, plus:
  holdout  a "split" column (train / val / test)
  kfold    a "fold" column (0 … k−1); patients already in the test split are left out
  loso     a "fold" column holding the site each record is held out with
An existing split column is respected (and leakage in it reported) unless --force.

A CSV with its own column names is read as \`radml ingest\` reads it (--columns, --image-root,
--label-column, --findings); the copy is written with the contract's names, so it can be ingested
or trained on directly. Image paths are rewritten relative to the copy's folder when it is elsewhere.
--manifest may also be a dataset folder from \`radml ingest\` (its index.csv, with the labels it
recorded); --out <dataset-dir>/index.csv then writes the split into the dataset itself.

Examples:
  radml split --manifest labels.csv --out labels.split.csv
  radml split --manifest metadata.csv --image-root images --columns path=filename,label=finding,patient_id=patientid --out covid/split.csv
  radml split --manifest covid-ds --out covid-ds/index.csv --fractions 0.6,0.2,0.2
  radml split --manifest labels.csv --out folds.csv --method kfold --folds 5 --seed 7
  radml split --manifest multi-site.csv --out loso.csv --method loso`,
  options: {
    manifest: { type: 'string', arg: '<csv|dataset-dir>', description: 'input manifest (or a dataset folder from `radml ingest`)' },
    out: { type: 'string', arg: '<csv>', description: 'where to write the manifest copy with the split/fold column' },
    ...MANIFEST_READING_OPTIONS,
    method: { type: 'string', arg: 'holdout|kfold|loso', description: 'how to split', default: 'holdout' },
    fractions: { type: 'string', arg: 'T,V,T', description: 'train,val,test fractions for holdout', default: DEFAULT_FRACTIONS.join(',') },
    folds: { type: 'string', arg: 'K', description: 'number of folds for kfold', default: '5' },
    seed: { type: 'string', arg: 'N', description: 'random seed', default: '1' },
    force: { type: 'boolean', description: 'ignore an existing split/fold column and reassign every record' },
    positive: { type: 'string', arg: '<class>', description: 'stratify on this class against all others (as `radml train --positive` trains it), not on every class' },
  },
  async run(args, io) {
    const manifestPath = requireStr(args, 'manifest', 'split');
    const out = requireStr(args, 'out', 'split');
    const method = choice(args, 'method', ['holdout', 'kfold', 'loso']) ?? 'holdout';
    const seed = num(args, 'seed', { integer: true, min: 0 }) ?? 1;
    const force = bool(args, 'force');
    const manifest = stratifyOn(readSplitInput(manifestPath, manifestReading(args), out, io), str(args, 'positive'));
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
    io.out(formatCountTable(`${title} × class`, s.bins, s.classes, (b, c) => s.byClass[b]?.[c] ?? 0, (b) => s.records[b] ?? 0));
    io.out('');
    io.out(formatCountTable(`${title} × site`, s.bins, s.sites, (b, c) => s.bySite[b]?.[c] ?? 0));
    io.out('');
    io.out(`patients: ${s.bins.map((b) => `${b} ${s.patients[b] ?? 0}`).join(', ')}`);
    if (s.unassigned) io.out(`left out: ${s.unassigned} record(s)`);
    for (const n of a.notes) io.err(`note: ${n}`);
    return 0;
  },
};

/** With --positive: records labelled as that class or its "rest", so every bin gets its share of both. */
function stratifyOn(m: Manifest, positive: string | undefined): Manifest {
  if (positive === undefined) return m;
  if (m.labelKind !== 'categorical') throw new InputError('CLI_ARGS', `--positive applies to a categorical label column; ${m.file} has ${m.labelKind === 'multilabel' ? `finding columns (${m.classes.join(', ')})` : 'no labels'}`);
  if (!m.classes.includes(positive)) throw new InputError('CLI_ARGS', `--positive "${positive}" is not one of the classes (${m.classes.join(', ')})${didYouMean(positive, m.classes, (c) => `"${c}"`)}`);
  const rest = restClassName(positive, m.classes);
  const records = m.records.map((r) => (r.label === undefined || r.label === positive ? r : { ...r, label: rest }));
  return { ...m, classes: [rest, positive], records };
}

const labelOptions = (r: ManifestReading): ManifestOptions => ({ ...(r.labelColumn && { labelColumn: r.labelColumn }), ...(r.findings && { findings: r.findings }) });

/**
 * The manifest to split: a dataset folder's index.csv (labels as ingest recorded them), or a CSV read
 * with the column mapping. Paths are rewritten so they still point at the images from `out`'s folder.
 */
function readSplitInput(path: string, reading: ManifestReading, out: string, io: CommandIO): Manifest {
  if (!existsSync(path)) throw new InputError('FILE_UNREADABLE', `${path}: no such manifest or dataset folder`, { file: path });
  let m: Manifest;
  let root: string;
  if (isDatasetDir(path)) {
    if (reading.columns || reading.imageRoot) throw new InputError('CLI_ARGS', `${path}: --columns and --image-root apply to a CSV; a dataset folder already uses the contract's names`);
    const meta = readJsonWithSchema(join(path, 'dataset.json'), datasetMetaSchema, 'DATASET_CORRUPT');
    const labels = labelOptions(reading);
    m = readManifest(join(path, 'index.csv'), labels.labelColumn || labels.findings ? labels : datasetLabelOptions(meta));
    root = resolve(path);
  } else {
    const src = manifestSource(path, reading);
    m = manifestFromTable(src.table, src.file, labelOptions(reading));
    root = src.root;
    for (const r of m.records) r.absPath = isAbsolute(r.path) ? r.path : resolve(root, r.path);
  }
  for (const n of m.notes ?? []) io.err(`note: ${n}`);
  const outDir = dirname(resolve(out));
  if (outDir !== root) {
    // Paths in a manifest are relative to its own folder: keep them pointing at the same images.
    for (const r of m.records) if (!isAbsolute(r.path)) r.columns = { ...r.columns, path: relative(outDir, r.absPath).split('\\').join('/') };
    io.err(`note: image paths rewritten relative to ${outDir}`);
  }
  return m;
}
