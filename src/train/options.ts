/**
 * Training options with their defaults, as one zod schema so the CLI, the estimator facade and the
 * provenance in model.json agree. The defaults are chosen for small grey-scale radiograph data sets
 * such as PneumoniaMNIST (28 px): see the `radml train --help` text for the measured rationale.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseUncertaintyPolicy } from '../labels/uncertainty.js';
import { InputError } from '../util/errors.js';

export const UNCERTAINTY_POLICIES = ['u-ignore', 'u-zeros', 'u-ones', 'u-lsr', 'soft'] as const;

export const trainOptionsSchema = z.object({
  arch: z.enum(['cnn', 'resnet']).default('cnn'),
  /** Channels of the first stage (doubling per stage). */
  width: z.number().int().min(1).max(512).default(16),
  /** Side of the square model input in pixels. */
  imageSize: z.number().int().min(8).max(1024).default(48),
  epochs: z.number().int().min(1).max(10000).default(30),
  batch: z.number().int().min(2).max(4096).default(64),
  lr: z.number().positive().max(10).default(3e-3),
  weightDecay: z.number().min(0).max(1).default(1e-4),
  optimizer: z.enum(['adamw', 'adam', 'sgd']).default('adamw'),
  /** Epochs of linear warm-up before the cosine decay. */
  warmupEpochs: z.number().min(0).default(1),
  dropout: z.number().min(0).lt(1).default(0),
  /**
   * Categorical: the class scored as positive. With two classes, default the one whose name is not
   * "normal"-like (else the second in sorted order); with more classes, this class is trained
   * against all the others together (one-vs-rest).
   */
  positive: z.string().min(1).optional(),
  /** Categorical: the column holding the labels (default: what the dataset recorded, else `label`). */
  labelColumn: z.string().min(1).optional(),
  /** Multi-label: the finding columns to train on (default: what the dataset recorded, else detected). */
  findings: z.array(z.string().min(1)).min(1).optional(),
  classWeights: z.enum(['auto', 'none']).default('auto'),
  loss: z.enum(['ce', 'focal']).default('ce'),
  focalGamma: z.number().min(0).default(2),
  labelSmoothing: z.number().min(0).lt(1).default(0),
  sampler: z.enum(['balanced', 'none']).default('none'),
  augment: z.boolean().default(true),
  /** Worker threads for data-parallel training (one single-threaded session each). */
  threads: z.number().int().min(1).max(256).default(() => availableParallelism()),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
  /** Stop after this many epochs without a better validation AUROC. */
  patience: z.number().int().min(1).default(8),
  /** Multi-label: how -1 (uncertain) labels become targets (src/labels/uncertainty.ts shorthand); blanks are masked unless `+blank=negative`. */
  uncertainty: z.string().default('u-ignore').refine((s) => {
    try {
      parseUncertaintyPolicy(s);
      return true;
    } catch {
      return false;
    }
  }, 'not a valid uncertainty policy (u-ignore, u-zeros, u-ones, u-lsr[:low,high], soft; +eps=ε; +blank=negative)'),
  /** Fraction of patients held out for validation when the manifest has no `val` split. */
  valFraction: z.number().gt(0).lt(1).default(0.15),
  /** Continue from the checkpoint in the output folder; error if it does not match. */
  resume: z.boolean().default(false),
});
export type TrainOptions = z.infer<typeof trainOptionsSchema>;
export type TrainOptionsInput = z.input<typeof trainOptionsSchema>;

/**
 * Validate training options. A bad value is reported with the option's name as `name(key)` gives it
 * (the CLI passes `--kebab-case` flags), the rule and the value given.
 *
 * @example parseTrainOptions({ epochs: -3 }) // throws "training option epochs must be at least 1, got -3"
 */
export function parseTrainOptions(input: TrainOptionsInput, name: (key: string) => string = (k) => `training option ${k}`): TrainOptions {
  const r = trainOptionsSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const key = String(i.path[0] ?? '');
    const given = (input as Record<string, unknown>)[key];
    throw new InputError('CLI_ARGS', `${name(key)} ${ruleText(i)}${given === undefined ? '' : `, got ${JSON.stringify(given)}`}`);
  }
  return r.data;
}

/** The rule a zod issue enforces, in words ("must be at least 1"). */
function ruleText(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case 'too_small':
      return i.origin === 'array' ? 'must name at least one column' : `must be ${i.inclusive === false ? 'greater than' : 'at least'} ${String(i.minimum)}`;
    case 'too_big':
      return `must be ${i.inclusive === false ? 'less than' : 'at most'} ${String(i.maximum)}`;
    case 'invalid_type':
      return i.expected === 'int' ? 'must be a whole number' : `must be a ${i.expected}`;
    case 'invalid_value':
      return `must be one of ${i.values.map(String).join(', ')}`;
    default:
      return i.message;
  }
}

/**
 * The options that change the trained result, for the checkpoint's configuration hash. Thread
 * count and --resume only change speed / control flow, so a resumed run may use other values.
 */
export function resultDefiningOptions(o: TrainOptions): Record<string, unknown> {
  const { threads: _t, resume: _r, ...rest } = o;
  return rest;
}
