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
  /** Binary categorical: the class scored as positive (default: the second class in sorted order). */
  positive: z.string().min(1).optional(),
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

export function parseTrainOptions(input: TrainOptionsInput): TrainOptions {
  const r = trainOptionsSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InputError('CLI_ARGS', `training option ${i?.path.join('.') || ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

/**
 * The options that change the trained result, for the checkpoint's configuration hash. Thread
 * count and --resume only change speed / control flow, so a resumed run may use other values.
 */
export function resultDefiningOptions(o: TrainOptions): Record<string, unknown> {
  const { threads: _t, resume: _r, ...rest } = o;
  return rest;
}
