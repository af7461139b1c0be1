/**
 * Labels → loss targets. Categorical: one-hot rows over the sorted class list (softmax CE).
 * Multi-label: one column per finding with a mask (blank = not counted; uncertain labels follow the
 * uncertainty policy from src/labels/uncertainty.ts).
 */
import type { ManifestRecord } from '../data/manifest.js';
import { parseUncertaintyPolicy, policyTargetsMatrix, type UncertaintyPolicy } from '../labels/uncertainty.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface Targets {
  labelKind: 'categorical' | 'multilabel';
  classes: string[];
  /** Categorical binary: index of the positive class; otherwise null. */
  positiveIndex: number | null;
  /** [n, K] targets and mask (1 = counted). */
  target: Float32Array;
  mask: Float32Array;
  /** Categorical: class index per record, -1 when unlabelled. Multi-label: -1 everywhere. */
  classIndex: Int32Array;
  /** Whether each record has anything to learn from (a label, or at least one counted finding). */
  labelled: Uint8Array;
}

/**
 * One-hot targets for a categorical label column.
 *
 * @example categoricalTargets(records, ['normal', 'pneumonia'], 'pneumonia').positiveIndex // 1
 */
export function categoricalTargets(records: ManifestRecord[], classes: string[], positive?: string): Targets {
  if (classes.length < 2) throw new InputError('TRAIN_CLASSES', `training needs at least two classes, found ${classes.length} (${classes.join(', ') || 'none'})`);
  const k = classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  let positiveIndex: number | null = null;
  if (positive !== undefined) {
    if (k !== 2) throw new InputError('CLI_ARGS', `--positive applies to two-class labels; this manifest has ${k} classes (${classes.join(', ')})`);
    const p = index.get(positive);
    if (p === undefined) throw new InputError('CLI_ARGS', `--positive "${positive}" is not one of the classes (${classes.join(', ')})`);
    positiveIndex = p;
  } else if (k === 2) positiveIndex = 1;
  const n = records.length;
  const target = new Float32Array(n * k);
  const mask = new Float32Array(n * k);
  const classIndex = new Int32Array(n).fill(-1);
  const labelled = new Uint8Array(n);
  records.forEach((r, i) => {
    if (r.label === undefined) return;
    const c = index.get(r.label);
    if (c === undefined) return;
    classIndex[i] = c;
    target[i * k + c] = 1;
    mask.fill(1, i * k, (i + 1) * k);
    labelled[i] = 1;
  });
  return { labelKind: 'categorical', classes, positiveIndex, target, mask, classIndex, labelled };
}

/**
 * Multi-label targets: one column per finding, from src/labels/uncertainty.ts. Blank (not
 * mentioned) is masked out of the loss unless the policy says `+blank=negative`; -1 (uncertain)
 * follows the policy (u-ignore masks it, u-zeros / u-ones count it 0 / 1, u-lsr draws a soft target
 * with a generator seeded from `seed`).
 *
 * @example multilabelTargets(records, ['effusion', 'oedema'], 'u-ignore', 1).mask
 */
export function multilabelTargets(records: ManifestRecord[], findings: string[], policyText: string, seed: number): Targets {
  if (findings.length < 1) throw new InputError('TRAIN_CLASSES', 'multi-label training needs at least one finding column');
  const policy = trainingPolicy(policyText);
  const k = findings.length;
  const n = records.length;
  const rows = records.map((r) => findings.map((f) => r.findings?.[f] ?? null));
  const { target, mask } = policyTargetsMatrix(rows, policy, new Rng(`${seed}:uncertainty`));
  const labelled = new Uint8Array(n);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) if (mask[i * k + c]! > 0) labelled[i] = 1;
  return { labelKind: 'multilabel', classes: findings, positiveIndex: null, target, mask, classIndex: new Int32Array(n).fill(-1), labelled };
}

/** The policy for training: blanks are masked (not counted) unless the text says `+blank=…`. */
export function trainingPolicy(text: string): UncertaintyPolicy {
  const p = parseUncertaintyPolicy(text);
  return /blank=/.test(text) ? p : { ...p, blank: 'ignore' };
}
