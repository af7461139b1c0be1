/** Picks categorical or multi-label targets for a manifest (see targets.ts). */
import type { LabelKind, Manifest } from '../data/manifest.js';
import { InputError } from '../util/errors.js';
import { categoricalTargets, multilabelTargets, type Targets } from './targets.js';
import type { TrainOptions } from './options.js';

export function buildTargets(m: Manifest, kind: LabelKind, o: Pick<TrainOptions, 'positive' | 'uncertainty' | 'seed'>): Targets {
  if (kind === 'categorical') return categoricalTargets(m.records, m.classes, o.positive);
  if (kind === 'multilabel') {
    if (o.positive !== undefined) throw new InputError('CLI_ARGS', '--positive applies to a categorical `label` column; this manifest is multi-label (one column per finding)');
    return multilabelTargets(m.records, m.classes, o.uncertainty, o.seed);
  }
  throw new InputError('TRAIN_LABELS', `${m.file}: no labels to train on (needs a \`label\` column or finding columns coded 1/0/-1/blank)`, { file: m.file });
}
