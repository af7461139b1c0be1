/**
 * Crash-safe training checkpoints. One file, `checkpoint/checkpoint.bin` in the model folder, holds
 * everything needed to continue: current parameters and BN buffers, optimizer state, the epoch just
 * finished, the best validation score with its parameters, the per-epoch history, the elapsed wall
 * time and the hash of the configuration. It is written whole through writeFileAtomic after every
 * epoch, so a crash leaves either the previous or the new checkpoint, never a mix.
 *
 * RNG state: every random draw of epoch e (sampling order, augmentation, dropout seeds) comes from
 * generators derived from (seed, e), so "seed + next epoch" is the complete RNG state.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { NamedTensor, ParamSet } from '../engine/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { pack, unpack } from './pack.js';

export const CHECKPOINT_DIR = 'checkpoint';
export const CHECKPOINT_FILE = 'checkpoint.bin';

export const epochRecordSchema = z.object({
  epoch: z.number().int().min(1),
  trainLoss: z.number(),
  valLoss: z.number().nullable(),
  valAuroc: z.number().nullable(),
  lr: z.number(),
  seconds: z.number(),
  imagesPerSecond: z.number(),
});
export type EpochRecord = z.infer<typeof epochRecordSchema>;

export interface Checkpoint {
  version: 1;
  configHash: string;
  /** Epochs completed (1-based count). */
  epoch: number;
  /** True when training stopped (all epochs run or early stopping). */
  finished: boolean;
  bestEpoch: number;
  /** Validation AUROC and loss of the best epoch (null before the first epoch). */
  bestScore: { auroc: number | null; loss: number | null } | null;
  epochsWithoutImprovement: number;
  history: EpochRecord[];
  /** Wall time spent so far across every run of this training, in seconds. */
  wallSeconds: number;
  params: ParamSet;
  bestParams: ParamSet;
  optimizer: unknown;
}

export function checkpointPath(modelDir: string): string {
  return join(modelDir, CHECKPOINT_DIR, CHECKPOINT_FILE);
}

function copyParams(p: ParamSet): ParamSet {
  const c = (t: NamedTensor): NamedTensor => ({ name: t.name, shape: t.shape.slice(), data: Float32Array.from(t.data) });
  return { trainable: p.trainable.map(c), buffers: p.buffers.map(c) };
}

/** Write the checkpoint atomically (a crash mid-write keeps the previous one). */
export function saveCheckpoint(modelDir: string, ck: Checkpoint): void {
  writeFileAtomic(checkpointPath(modelDir), pack(ck));
}

/** A snapshot of params that later in-place optimizer updates do not change. */
export function snapshotParams(p: ParamSet): ParamSet {
  return copyParams(p);
}

const tensorSchema = z.object({ name: z.string(), shape: z.array(z.number().int()), data: z.instanceof(Float32Array) });
const paramSetSchema = z.object({ trainable: z.array(tensorSchema), buffers: z.array(tensorSchema) });
const checkpointSchema = z.object({
  version: z.literal(1),
  configHash: z.string(),
  epoch: z.number().int().min(0),
  finished: z.boolean(),
  bestEpoch: z.number().int().min(0),
  bestScore: z.object({ auroc: z.number().nullable(), loss: z.number().nullable() }).nullable(),
  epochsWithoutImprovement: z.number().int().min(0),
  history: z.array(epochRecordSchema),
  wallSeconds: z.number().min(0),
  params: paramSetSchema,
  bestParams: paramSetSchema,
  optimizer: z.unknown(),
});

/** Read the checkpoint of a model folder, or undefined when there is none. */
export function loadCheckpoint(modelDir: string): Checkpoint | undefined {
  const file = checkpointPath(modelDir);
  if (!existsSync(file)) return undefined;
  const raw = unpack(new Uint8Array(readFileSync(file)), file);
  const parsed = checkpointSchema.safeParse(raw);
  if (!parsed.success) throw new InputError('CHECKPOINT_CORRUPT', `${file}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, { file });
  return parsed.data as Checkpoint;
}
