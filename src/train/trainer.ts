/**
 * The training loop: data-parallel gradient steps (pool.ts), AdamW with linear warm-up and cosine
 * decay, validation AUROC each epoch, early stopping with the best parameters kept, and an atomic
 * checkpoint after every epoch so a crashed run continues where it stopped (checkpoint.ts).
 *
 * Resuming: when the output folder holds a checkpoint whose configuration hash (result-defining
 * options + the pixels' SHA-256 + classes) matches this run, training continues from it — with or
 * without `resume: true`. With `resume: true` a missing or non-matching checkpoint is an error;
 * without it a non-matching checkpoint is replaced by a fresh run (reported through `onNotice`).
 */
import { createHash } from 'node:crypto';
import {
  buildArchitecture, compileTrainingGraph, createOptimizer, exportInferenceModel, InferenceModel, initParameters,
  learningRate, updateRunningStats, type ArchSpec, type LayerGraph, type LossSpec, type OptimizerSpec, type ParamSet,
} from '../engine/index.js';
import { DEFAULT_AUGMENTATION } from '../data/augment/index.js';
import { type Dataset, U16_SCALE } from '../data/dataset.js';
import { type PreprocessingSpec, resizeImage } from '../data/preprocess/index.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { type Checkpoint, type EpochRecord, loadCheckpoint, saveCheckpoint, snapshotParams } from './checkpoint.js';
import { type InputPipeline, prepareBatch } from './input.js';
import { resultDefiningOptions, type TrainOptions } from './options.js';
import { GradientPool } from './pool.js';
import { classWeights, epochOrder, positiveWeights } from './sampling.js';
import { chooseValidation, type SplitInfo } from './split.js';
import { buildTargets, selectTrainingLabels, validationWarnings } from './build-targets.js';
import type { Targets } from './targets.js';
import { validationScore, type ValidationScore } from './validate.js';

export interface TrainContext {
  /** Model folder: the checkpoint lives in `<outDir>/checkpoint/`. Without it there is no checkpointing. */
  outDir?: string;
  onProgress?: ProgressCallback;
  /** Called after each epoch's validation. */
  onEpoch?: (record: EpochRecord, best: { epoch: number; score: number | null }) => void;
  /** Non-fatal notes (resumed, replaced checkpoint, …). */
  onNotice?: (message: string) => void;
  /** Stop after this many epochs in this call (for tests that simulate an interrupted run). */
  maxEpochsThisRun?: number;
  /** Fine-tune this model (e.g. an imported ONNX) instead of building `options.arch`. */
  base?: BaseModel;
}

/**
 * A starting model for fine-tuning: its graph and parameters, the preprocessing it expects, and
 * which parameters stay frozen (name prefixes). `freezeBatchNorm` keeps its BN running statistics
 * (gradients in eval mode), the usual choice when only the head is trained on a small dataset.
 */
export interface BaseModel {
  graph: LayerGraph;
  params: ParamSet;
  preprocessing: PreprocessingSpec;
  channels: number;
  freeze: string[];
  freezeBatchNorm: boolean;
  /** Describes the base in provenance, e.g. "imported:resnet.onnx sha256 …". */
  description: string;
  /** The base model's output classes, in output order. */
  classes: string[];
}

export interface TrainedModel {
  graph: LayerGraph;
  /** null when fine-tuned from a base model. */
  arch: ArchSpec | null;
  /** Input channels of the model (1 unless a base model takes more). */
  channels: number;
  /** The base model's description when fine-tuned, else null. */
  baseModel: string | null;
  /** Parameters of the best validation epoch. */
  params: ParamSet;
  targets: Pick<Targets, 'labelKind' | 'classes' | 'positiveIndex'>;
  preprocessing: PreprocessingSpec;
  history: EpochRecord[];
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  finished: boolean;
  resumed: boolean;
  validation: ValidationScore;
  /** Validation images and the kept parameters' probabilities on them [rows, K] (calibration is fitted on these). */
  validationSet: { rows: number[]; trainRows: number[]; probabilities: Float32Array; target: Float32Array; mask: Float32Array };
  imagesSha256: string;
  split: SplitInfo;
  lossWeights: number[];
  configHash: string;
  wallSeconds: number;
  startedAt: string;
}

/**
 * Gradient workers for a batch size: at most one per 16 images, because each shard normalises with
 * its own BatchNorm statistics and very small shards make those statistics (and the model) noisy.
 */
export const MIN_SHARD = 16;
export function workersFor(threads: number, batch: number): number {
  return Math.max(1, Math.min(threads, Math.floor(batch / MIN_SHARD)));
}

/** Cached pixels at the model's input size (re-sampled when the dataset was cached at another size). */
export function pixelsAtSize(ds: Dataset, size: number): Uint16Array {
  if (ds.meta.imageSize === size) return ds.pixels;
  const src = ds.meta.imageSize;
  const out = new Uint16Array(ds.meta.count * size * size);
  const img = new Float32Array(src * src);
  for (let i = 0; i < ds.meta.count; i++) {
    const s = ds.pixels.subarray(i * src * src, (i + 1) * src * src);
    for (let k = 0; k < img.length; k++) img[k] = s[k]! / U16_SCALE;
    const r = resizeImage({ width: src, height: src, data: img }, size, 'stretch').data;
    const d = out.subarray(i * size * size, (i + 1) * size * size);
    for (let k = 0; k < r.length; k++) d[k] = Math.round(Math.min(1, Math.max(0, r[k]!)) * U16_SCALE);
  }
  return out;
}

/** Dataset-level mean and std of the training images' intensities (z-score normalisation). */
export function intensityStats(pixels: Uint16Array, rows: ArrayLike<number>, px: number): { mean: number; std: number } {
  let s = 0;
  let ss = 0;
  for (let i = 0; i < rows.length; i++) {
    const base = rows[i]! * px;
    for (let k = 0; k < px; k++) {
      const v = pixels[base + k]! / U16_SCALE;
      s += v;
      ss += v * v;
    }
  }
  const n = rows.length * px;
  const mean = n ? s / n : 0;
  const std = n ? Math.sqrt(Math.max(0, ss / n - mean * mean)) : 1;
  return { mean, std: std > 1e-6 ? std : 1 };
}

export function lossSpecOf(o: TrainOptions, t: Targets, trainRows: number[]): { loss: LossSpec; weight: Float32Array; lossWeights: number[] } {
  const k = t.classes.length;
  const n = t.classIndex.length;
  const weight = new Float32Array(n);
  const focal = o.loss === 'focal' ? { focalGamma: o.focalGamma } : {};
  const smoothing = o.labelSmoothing > 0 ? { labelSmoothing: o.labelSmoothing } : {};
  if (t.labelKind === 'categorical') {
    // The balanced sampler already equalises classes; weighting on top would over-correct.
    const mode = o.sampler === 'balanced' ? 'none' : o.classWeights;
    const cw = classWeights(trainRows.map((r) => t.classIndex[r]!), k, mode);
    for (let i = 0; i < n; i++) weight[i] = t.classIndex[i]! >= 0 ? cw[t.classIndex[i]!]! : 0;
    return { loss: { kind: 'softmax_ce', ...focal, ...smoothing }, weight, lossWeights: cw };
  }
  weight.fill(1);
  const tr = new Float32Array(trainRows.length * k);
  const mk = new Float32Array(trainRows.length * k);
  trainRows.forEach((r, i) => {
    tr.set(t.target.subarray(r * k, (r + 1) * k), i * k);
    mk.set(t.mask.subarray(r * k, (r + 1) * k), i * k);
  });
  const pw = positiveWeights(tr, mk, trainRows.length, k, o.classWeights);
  return { loss: { kind: 'bce_logits', posWeights: pw, ...focal, ...smoothing }, weight, lossWeights: pw };
}

export function optimizerSpecOf(o: TrainOptions): OptimizerSpec {
  switch (o.optimizer) {
    case 'sgd': return { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: o.weightDecay };
    case 'adam': return { kind: 'adam', weightDecay: o.weightDecay };
    default: return { kind: 'adamw', weightDecay: o.weightDecay };
  }
}

export function archSpecOf(o: TrainOptions): ArchSpec {
  return o.arch === 'resnet' ? { kind: 'resnet', width: o.width, dropout: o.dropout } : { kind: 'cnn', width: o.width, dropout: o.dropout };
}

/** Probabilities [rows.length, K] of the inference export of `params` on dataset rows. */
export async function predictRows(graph: LayerGraph, params: ParamSet, activation: 'softmax' | 'sigmoid', pipe: InputPipeline, pixels: Uint16Array, rows: number[], threads: number, batch = 256): Promise<Float32Array> {
  const model = await InferenceModel.load(exportInferenceModel(graph, params, { outputs: 'logits+probabilities', activation }), { threads });
  try {
    const k = graph.numOutputs;
    const px = pipe.size * pipe.size * (pipe.channels ?? 1);
    const out = new Float32Array(rows.length * k);
    const x = new Float32Array(batch * px);
    for (let s = 0; s < rows.length; s += batch) {
      const part = rows.slice(s, s + batch);
      const xb = x.subarray(0, part.length * px);
      prepareBatch(pipe, pixels, part, xb);
      const r = await model.run(xb, part.length);
      if (!r.probabilities) throw new InputError('ENGINE_OUTPUT', 'the inference model returned no probabilities');
      out.set(r.probabilities.subarray(0, part.length * k), s * k);
    }
    return out;
  } finally {
    await model.release();
  }
}

/** SHA-256 of the dataset's cached pixels (in-memory ingests do not compute it; a folder's is verified on read). */
export function imagesHash(ds: Dataset): string {
  if (/^[0-9a-f]{64}$/.test(ds.meta.imagesSha256)) return ds.meta.imagesSha256;
  return createHash('sha256').update(new Uint8Array(ds.pixels.buffer, ds.pixels.byteOffset, ds.pixels.byteLength)).digest('hex');
}

function configHashOf(o: TrainOptions, imagesSha256: string, count: number, classes: string[]): string {
  return createHash('sha256').update(JSON.stringify({ options: resultDefiningOptions(o), images: imagesSha256, count, classes })).digest('hex');
}

/** Is validation result (auroc, loss) better than the best so far? AUROC first; ties broken by lower loss. */
function better(s: { auroc: number | null; loss: number | null }, best: { auroc: number | null; loss: number | null } | null): boolean {
  if (best === null) return true;
  const a = s.auroc ?? -Infinity;
  const b = best.auroc ?? -Infinity;
  if (a > b + 1e-6) return true;
  if (a < b - 1e-6) return false;
  return (s.loss ?? Infinity) < (best.loss ?? Infinity) - 1e-6;
}

/**
 * Train a classifier on an in-memory dataset.
 *
 * @example
 *   const { dataset } = await loadOrIngest('labels.csv', { imageSize: 48 });
 *   const model = await trainModel(dataset, parseTrainOptions({ positive: 'pneumonia' }), { outDir: 'model' });
 */
export async function trainModel(ds: Dataset, o: TrainOptions, ctx: TrainContext = {}): Promise<TrainedModel> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  // Which labels (label column / findings / one-vs-rest) is decided and told in build-targets.ts.
  const labels = selectTrainingLabels(ds, o);
  for (const n of labels.notes) ctx.onNotice?.(n);
  if (ctx.base) {
    const missing = labels.manifest.classes.filter((c) => !ctx.base!.classes.includes(c));
    if (missing.length) throw new InputError('TRAIN_CLASSES', `the data has class(es) ${missing.join(', ')} that the base model does not output (it has ${ctx.base.classes.join(', ')})`);
  }
  const manifest = ctx.base ? { ...labels.manifest, classes: ctx.base.classes } : labels.manifest;
  const targets = buildTargets(manifest, labels.labelKind, { ...o, positive: labels.positive });
  const split = chooseValidation(labels.manifest.records, targets, o);
  for (const w of validationWarnings(targets, split)) ctx.onNotice?.(w);
  const { trainRows, valRows } = split;
  if (trainRows.length < 2) throw new InputError('TRAIN_DATA', `only ${trainRows.length} labelled training image(s); training needs at least 2`);
  if (valRows.length < 1) throw new InputError('TRAIN_DATA', 'no validation images; add a `val` split or more patients');

  const base = ctx.base;
  const size = base ? base.preprocessing.size : o.imageSize;
  const px = size * size;
  const pixels = pixelsAtSize(ds, size);
  let preprocessing: PreprocessingSpec;
  if (base) preprocessing = base.preprocessing;
  else {
    const stats = intensityStats(pixels, trainRows, px);
    preprocessing = { size, resize: ds.meta.preprocessing.resize, normalise: 'zscore', equalise: false, mean: stats.mean, std: stats.std };
  }
  const trainPipe: InputPipeline = { size, preprocessing, augmentation: o.augment ? DEFAULT_AUGMENTATION : null, channels: base?.channels ?? 1 };
  const evalPipe: InputPipeline = { ...trainPipe, augmentation: null };

  const k = targets.classes.length;
  const arch = base ? null : archSpecOf(o);
  const graph = base ? base.graph : buildArchitecture(arch!, { inChannels: 1, imageSize: size, numOutputs: k });
  if (graph.numOutputs !== k) throw new InputError('TRAIN_CLASSES', `the base model has ${graph.numOutputs} outputs but the data has ${k} classes (${targets.classes.join(', ')})`);
  const bnTraining = !(base?.freezeBatchNorm ?? false);
  const { loss, weight, lossWeights } = lossSpecOf(o, targets, trainRows);
  const activation = targets.labelKind === 'multilabel' ? 'sigmoid' : 'softmax';
  const imagesSha256 = imagesHash(ds);
  const configHash = configHashOf(o, imagesSha256, ds.meta.count, base ? [...targets.classes, base.description] : targets.classes);

  let ck: Checkpoint | undefined = ctx.outDir ? loadCheckpoint(ctx.outDir) : undefined;
  if (ck && ck.configHash !== configHash) {
    if (o.resume) throw new InputError('CHECKPOINT_MISMATCH', `${ctx.outDir}: the checkpoint was made with other options or data; --resume needs the same data and settings (only --threads may differ). Remove --resume to start afresh.`, { file: ctx.outDir! });
    ctx.onNotice?.(`${ctx.outDir}: existing checkpoint is from other options or data; starting a fresh run`);
    ck = undefined;
  }
  if (o.resume && !ck) throw new InputError('CHECKPOINT_MISSING', `${ctx.outDir ?? '(no output folder)'}: --resume given but there is no checkpoint to resume from`);
  const resumed = ck !== undefined;
  if (ck) ctx.onNotice?.(`resuming from the checkpoint after epoch ${ck.epoch}${ck.finished ? ' (training had finished)' : ''}`);

  const pool = await GradientPool.create({
    trainingGraph: compileTrainingGraph(graph, loss, base ? { freeze: base.freeze } : {}),
    params: ck ? ck.params : base ? base.params : initParameters(graph, o.seed),
    data: { pipe: trainPipe, pixels, target: targets.target, mask: targets.mask, weight, numOutputs: k },
    threads: workersFor(o.threads, o.batch),
  });
  try {
    const params = pool.params;
    const optimizer = createOptimizer(optimizerSpecOf(o), params);
    if (ck) optimizer.loadState(ck.optimizer);
    let bestParams = ck ? ck.bestParams : snapshotParams(params);
    let bestEpoch = ck?.bestEpoch ?? 0;
    let bestScore: { auroc: number | null; loss: number | null } | null = ck?.bestScore ?? null;
    let stale = ck?.epochsWithoutImprovement ?? 0;
    const history: EpochRecord[] = ck ? ck.history.slice() : [];
    let epoch = ck?.epoch ?? 0;
    let finished = ck?.finished ?? false;
    const priorWall = ck?.wallSeconds ?? 0;
    const trainLabels = trainRows.map((r) => targets.classIndex[r]!);
    const minLast = Math.max(2, 2 * pool.threads);
    let ranThisCall = 0;

    while (!finished && epoch < o.epochs && (ctx.maxEpochsThisRun === undefined || ranThisCall < ctx.maxEpochsThisRun)) {
      const t0 = Date.now();
      const rng = new Rng(`${o.seed}:epoch:${epoch}`);
      const order = epochOrder(trainLabels, k, targets.labelKind === 'categorical' ? o.sampler : 'none', rng.fork('order')).map((i) => trainRows[i]!);
      const augRng = rng.fork('augment');
      const batches: number[][] = [];
      for (let s = 0; s < order.length; s += o.batch) {
        const b = order.slice(s, s + o.batch);
        // A tiny last batch gives degenerate per-shard BatchNorm statistics; fold it away.
        if (b.length >= minLast || batches.length === 0) batches.push(b);
      }
      let lossSum = 0;
      let seen = 0;
      let lr = o.lr;
      for (let bi = 0; bi < batches.length; bi++) {
        const b = batches[bi]!;
        lr = learningRate(o.lr, { kind: 'cosine', minLr: o.lr * 0.01 }, epoch, o.epochs, o.warmupEpochs, bi / batches.length);
        const stepSeed = augRng.nextUint32();
        const r = await pool.step(b, { training: bnTraining, dropoutSeed: stepSeed, ...(o.augment ? { stepSeed } : {}) });
        if (!Number.isFinite(r.loss)) throw new InputError('TRAIN_DIVERGED', `training diverged at epoch ${epoch + 1} (loss ${r.loss}); lower --lr (now ${o.lr})`);
        optimizer.step(params, r.grads, lr);
        if (bnTraining) updateRunningStats(params, r.batchStats, 0.1, b.length);
        lossSum += r.loss * b.length;
        seen += b.length;
        ctx.onProgress?.({ stage: `epoch ${epoch + 1}/${o.epochs}`, done: bi + 1, total: batches.length, detail: `loss ${(lossSum / seen).toFixed(4)}` });
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      const probs = await predictRows(graph, params, activation, evalPipe, pixels, valRows, o.threads);
      const score = validationScore(probs, valRows, targets);
      epoch++;
      ranThisCall++;
      const rec: EpochRecord = {
        epoch, trainLoss: lossSum / Math.max(1, seen), valLoss: score.loss, valAuroc: score.auroc, lr,
        seconds: (Date.now() - t0) / 1000, imagesPerSecond: seen / Math.max(1e-9, trainSeconds),
      };
      history.push(rec);
      if (better(score, bestScore)) {
        bestScore = { auroc: score.auroc, loss: score.loss };
        bestEpoch = epoch;
        bestParams = snapshotParams(params);
        stale = 0;
      } else stale++;
      if (stale >= o.patience || epoch >= o.epochs) finished = true;
      ctx.onEpoch?.(rec, { epoch: bestEpoch, score: bestScore?.auroc ?? null });
      if (ctx.outDir) {
        saveCheckpoint(ctx.outDir, {
          version: 1, configHash, epoch, finished, bestEpoch, bestScore, epochsWithoutImprovement: stale, history,
          wallSeconds: priorWall + (Date.now() - started) / 1000, params, bestParams, optimizer: optimizer.state(),
        });
      }
    }
    const valProbs = await predictRows(graph, bestParams, activation, evalPipe, pixels, valRows, o.threads);
    const validation = validationScore(valProbs, valRows, targets);
    return {
      graph, arch, channels: base?.channels ?? 1, baseModel: base?.description ?? null, params: bestParams,
      targets: { labelKind: targets.labelKind, classes: targets.classes, positiveIndex: targets.positiveIndex },
      preprocessing, history, bestEpoch, epochsRun: epoch, stoppedEarly: finished && epoch < o.epochs, finished, resumed,
      validation, validationSet: { rows: valRows, trainRows, probabilities: valProbs, target: targets.target, mask: targets.mask },
      imagesSha256, split: split.info, lossWeights, configHash, wallSeconds: priorWall + (Date.now() - started) / 1000, startedAt,
    };
  } finally {
    await pool.close();
  }
}
