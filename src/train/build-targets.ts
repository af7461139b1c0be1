/**
 * Which labels training learns, and their loss targets (targets.ts). The choice is explicit and told:
 * an asked-for label column or finding list wins over a column that happens to be called `label`;
 * without one, what `radml ingest` recorded in dataset.json; `positive` with more than two classes
 * trains that class against the rest; a positive class chosen by default is named; a validation
 * split too small to judge a class is warned about.
 */
import type { Dataset, DatasetMeta } from '../data/dataset.js';
import { type LabelKind, type Manifest, type ManifestOptions, NEGATIVE_CLASS_NAMES, relabelManifest } from '../data/manifest.js';
import { InputError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { categoricalTargets, multilabelTargets, type Targets } from './targets.js';
import type { TrainOptions } from './options.js';

function multilabelPositiveError(m: Manifest): InputError {
  return new InputError('CLI_ARGS', `--positive applies to a categorical label column; these labels are multi-label (finding columns ${m.classes.join(', ')}); to train one finding give --findings ${m.classes[0] ?? '<name>'}`);
}

/**
 * Loss targets for the labels of `m` (categorical one-hot, or multi-label with masks).
 *
 * @example buildTargets(manifest, 'categorical', { positive: 'pneumonia', uncertainty: 'u-ignore', seed: 1 }).positiveIndex // 1
 */
export function buildTargets(m: Manifest, kind: LabelKind, o: Pick<TrainOptions, 'positive' | 'uncertainty' | 'seed'>): Targets {
  if (kind === 'categorical') return categoricalTargets(m.records, m.classes, o.positive);
  if (kind === 'multilabel') {
    if (o.positive !== undefined) throw multilabelPositiveError(m);
    return multilabelTargets(m.records, m.classes, o.uncertainty, o.seed);
  }
  const why = m.notes?.find((n) => n.startsWith('no labels: '))?.slice('no labels: '.length);
  throw new InputError('TRAIN_LABELS', `${m.file}: no labels to train on: ${why ?? 'it needs a `label` column, --label-column <col>, or finding columns coded 1/0/-1/blank'}`, { file: m.file });
}

export interface LabelChoice {
  /** The manifest with the chosen labels (one-vs-rest: two classes, the rest merged). */
  manifest: Manifest;
  labelKind: LabelKind;
  /** Categorical binary: the positive class (asked for or chosen by default); else undefined. */
  positive?: string;
  /** One-vs-rest: the name given to every class but the positive. */
  restClass?: string;
  /** What the user should be told (choices made by default, columns or options not used). */
  notes: string[];
}

/** The name of the merged "everything else" class in one-vs-rest training. */
export function restClassName(positive: string, classes: readonly string[]): string {
  let name = `not_${positive}`;
  while (classes.includes(name)) name = `not_${name}`;
  return name;
}

function describe(meta: Pick<DatasetMeta, 'labelKind' | 'classes' | 'labelColumn'>): string {
  if (meta.labelKind === 'multilabel') return `finding columns ${meta.classes.join(', ')}`;
  if (meta.labelKind === 'categorical') return `label column "${meta.labelColumn ?? 'label'}"`;
  return 'no labels';
}

const counts = (m: Manifest) => {
  const c = new Map<string, number>();
  for (const r of m.records) if (r.label !== undefined) c.set(r.label, (c.get(r.label) ?? 0) + 1);
  return c;
};

/**
 * Choose the labels to train on: `labelColumn` / `findings` when given (re-read from the rows'
 * verbatim cells), else those the dataset was ingested with; then the positive class.
 *
 * @example selectTrainingLabels(ds, { positive: 'COVID-19' }).manifest.classes // ['not_COVID-19', 'COVID-19']
 */
export function selectTrainingLabels(ds: Pick<Dataset, 'manifest'> & { meta: Pick<DatasetMeta, 'labelKind' | 'classes' | 'labelColumn'> }, o: Pick<TrainOptions, 'labelColumn' | 'findings' | 'positive'>): LabelChoice {
  const notes: string[] = [];
  let m = ds.manifest;
  const asked: ManifestOptions = {
    ...(o.labelColumn !== undefined && { labelColumn: o.labelColumn }),
    ...(o.findings !== undefined && { findings: o.findings }),
  };
  if (asked.labelColumn !== undefined || asked.findings !== undefined) {
    const same = asked.labelColumn !== undefined
      ? ds.meta.labelKind === 'categorical' && (ds.meta.labelColumn ?? m.labelColumn ?? 'label') === asked.labelColumn
      : ds.meta.labelKind === 'multilabel' && ds.meta.classes.join('\0') === asked.findings!.join('\0');
    if (!same) {
      m = relabelManifest(m, asked);
      if (ds.meta.labelKind !== 'none') notes.push(`the data was prepared with ${describe(ds.meta)}; training on ${asked.labelColumn !== undefined ? `label column "${asked.labelColumn}"` : `finding columns ${asked.findings!.join(', ')}`} as asked`);
    }
  }
  // "no labels" is part of the error buildTargets raises; the other notes are the user's to read.
  notes.push(...(m.notes ?? []).filter((n) => !n.startsWith('no labels')));
  const kind = m.labelKind;
  if (kind === 'multilabel' && o.positive !== undefined) throw multilabelPositiveError(m);
  if (kind !== 'categorical') return { manifest: m, labelKind: kind, notes, ...(o.positive !== undefined && { positive: o.positive }) };

  const classes = m.classes;
  const n = counts(m);
  const column = m.labelColumn ?? 'label';
  if (o.positive !== undefined && !classes.includes(o.positive)) {
    throw new InputError('CLI_ARGS', `--positive "${o.positive}" is not one of the classes in column "${column}" (${classes.join(', ')})${didYouMean(o.positive, classes, (c) => `"${c}"`)}`);
  }
  // One class is not trainable, with or without --positive: categoricalTargets says so.
  if (classes.length < 2) return { manifest: m, labelKind: kind, notes };
  if (classes.length === 2) {
    if (o.positive !== undefined) return { manifest: m, labelKind: kind, positive: o.positive, notes };
    const named = classes.filter((c) => !NEGATIVE_CLASS_NAMES.has(c.toLowerCase()));
    const positive = named.length === 1 ? named[0]! : classes[1]!;
    const why = named.length === 1 ? `"${classes.find((c) => c !== positive)}" reads as the negative class` : 'the second class in sorted order';
    notes.push(`positive class: "${positive}" (${n.get(positive) ?? 0} images) against "${classes.find((c) => c !== positive)}" — chosen by default because ${why}; give --positive to choose`);
    return { manifest: m, labelKind: kind, positive, notes };
  }
  if (o.positive === undefined) {
    if (classes.length > 2) notes.push(`${classes.length} classes in column "${column}" (${classes.join(', ')}) trained together (softmax); to train one class against the rest give --positive <class>`);
    return { manifest: m, labelKind: kind, notes };
  }
  // One-vs-rest: the positive class against every other class merged into one.
  const positive = o.positive;
  const rest = restClassName(positive, classes);
  const others = classes.filter((c) => c !== positive);
  const restCount = others.reduce((s, c) => s + (n.get(c) ?? 0), 0);
  const records = m.records.map((r) => (r.label === undefined || r.label === positive ? r : { ...r, label: rest }));
  notes.push(`one-vs-rest: "${positive}" (${n.get(positive) ?? 0} images) against the ${others.length} other classes (${others.join(', ')}; ${restCount} images) as "${rest}"`);
  return { manifest: { ...m, classes: [rest, positive], records }, labelKind: kind, positive, restClass: rest, notes };
}

/** Below this many images of a class (or positives / negatives of a finding), validation cannot judge it. */
export const MIN_VALIDATION_PER_CLASS = 5;

/**
 * Warnings about a validation split too small to judge a class: fewer than
 * MIN_VALIDATION_PER_CLASS images of a class (multi-label: positives or negatives of a finding),
 * so early stopping and the reported AUROC rest on a handful of images. Also a class with no
 * training images.
 *
 * @example validationWarnings(targets, chooseValidation(records, targets, options)) // ['validation has only 1 "not_COVID-19" image …']
 */
export function validationWarnings(t: Pick<Targets, 'labelKind' | 'classes' | 'target' | 'mask' | 'classIndex'>, split: { trainRows: number[]; valRows: number[]; info?: { method: string } }): string[] {
  const k = t.classes.length;
  const out: string[] = [];
  const fix = split.info?.method === 'manifest' ? 'put more of them in the manifest\'s val split' : 'raise --val-fraction, or give the manifest a split column with more of them in val';
  const advice = `early stopping and the validation AUROC rest on so few: ${fix}`;
  if (t.labelKind === 'categorical') {
    const val = new Array<number>(k).fill(0);
    const train = new Array<number>(k).fill(0);
    for (const r of split.valRows) if (t.classIndex[r]! >= 0) val[t.classIndex[r]!]!++;
    for (const r of split.trainRows) if (t.classIndex[r]! >= 0) train[t.classIndex[r]!]!++;
    const few = t.classes.map((c, i) => ({ c, v: val[i]! })).filter((x) => x.v < MIN_VALIDATION_PER_CLASS);
    if (few.length) out.push(`warning: the validation split (${split.valRows.length} images) has only ${few.map((x) => `${x.v} "${x.c}"`).join(', ')} image(s); ${advice}`);
    const none = t.classes.filter((_, i) => train[i] === 0);
    if (none.length) out.push(`warning: no training images of class ${none.map((c) => `"${c}"`).join(', ')}; the model cannot learn it`);
    return out;
  }
  const few: string[] = [];
  for (let c = 0; c < k; c++) {
    let pos = 0;
    let neg = 0;
    for (const r of split.valRows) {
      if (t.mask[r * k + c]! <= 0) continue;
      if (t.target[r * k + c]! >= 0.5) pos++;
      else neg++;
    }
    if (pos < MIN_VALIDATION_PER_CLASS || neg < MIN_VALIDATION_PER_CLASS) few.push(`${t.classes[c]} (${pos} positive, ${neg} negative)`);
  }
  if (few.length) out.push(`warning: the validation split (${split.valRows.length} images) has fewer than ${MIN_VALIDATION_PER_CLASS} positives or negatives for ${few.join(', ')}; ${advice}`);
  return out;
}

/**
 * The labels and loss targets training uses for `ds` under options `o` — the same choice as
 * `radml train` makes — for code that must reproduce a model's training split (the OOD gate).
 *
 * @example const { labels, targets } = trainingTargets(ds, parseTrainOptions(meta.training.options));
 */
export function trainingTargets(ds: Parameters<typeof selectTrainingLabels>[0], o: Pick<TrainOptions, 'labelColumn' | 'findings' | 'positive' | 'uncertainty' | 'seed'>): { labels: LabelChoice; targets: Targets } {
  const labels = selectTrainingLabels(ds, o);
  return { labels, targets: buildTargets(labels.manifest, labels.labelKind, { ...o, positive: labels.positive }) };
}
