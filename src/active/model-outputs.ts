/**
 * What acquisition reads from a model, for the rows of a pool: probabilities, penultimate
 * embeddings, and probability samples. Two sources share one code path: a saved model opened
 * through the shared Predictor (`radml active select`), and a model just trained in memory
 * (`radml active simulate`, through the engine's GradientModel that the Predictor also uses).
 *
 * Samples: radml's built-in architectures have exactly one dropout layer, right before the final
 * linear layer, so MC dropout is computed exactly from the penultimate features: each sample
 * draws a fresh Bernoulli mask on the features (scaled by 1/(1−p), as in training) and applies the
 * linear head. Without dropout (the default `--dropout 0`) the samples come from test-time
 * augmentation (the training augmentation applied to the input) instead, and the notes say so.
 */
import { DEFAULT_AUGMENTATION } from '../data/augment/index.js';
import type { Dataset } from '../data/dataset.js';
import type { LayerGraph, ParamSet } from '../engine/index.js';
import { GradientModel } from '../explain/model.js';
import { activate, type Predictor } from '../predict/predictor.js';
import { type InputPipeline, prepareBatch } from '../train/input.js';
import { pixelsAtSize, type TrainedModel } from '../train/trainer.js';
import type { ProgressCallback } from '../util/progress.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Embeddings, LabelKind, ProbabilitySamples, SampleSource } from './types.js';

/** The final linear layer and the dropout before it. */
export interface LinearHead {
  /** [k, dim] row-major (output × input). */
  weight: Float32Array;
  bias: Float32Array | null;
  k: number;
  dim: number;
  /** Dropout probability on the head's input (0 when there is none). */
  dropout: number;
}

/** The linear head of a layer graph, or null when the output is not a linear layer. */
export function linearHead(graph: LayerGraph, params: ParamSet): LinearHead | null {
  const out = graph.nodes.find((n) => n.name === graph.output);
  if (!out || out.op !== 'linear') return null;
  const w = params.trainable.find((t) => t.name === `${out.name}.weight`);
  if (!w) return null;
  const b = params.trainable.find((t) => t.name === `${out.name}.bias`);
  const before = graph.nodes.find((n) => n.name === out.inputs[0]);
  return { weight: w.data, bias: b?.data ?? null, k: w.shape[0]!, dim: w.shape[1]!, dropout: before?.op === 'dropout' ? before.p : 0 };
}

/** Logits [n, k] = features · Wᵀ + b, with an optional multiplicative mask on the features. */
export function headLogits(h: LinearHead, feats: Float32Array, n: number, mask?: Float32Array): Float32Array {
  const out = new Float32Array(n * h.k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < h.k; c++) {
      let s = h.bias ? h.bias[c]! : 0;
      for (let d = 0; d < h.dim; d++) s += h.weight[c * h.dim + d]! * feats[i * h.dim + d]! * (mask ? mask[i * h.dim + d]! : 1);
      out[i * h.k + c] = s;
    }
  }
  return out;
}

/** A model as acquisition sees it. */
export interface Scorer {
  kind: LabelKind;
  classes: string[];
  activation: 'softmax' | 'sigmoid';
  /** How cached pixels become model input (no augmentation). */
  pipe: InputPipeline;
  /** Reported probabilities [n, k] for model inputs (calibrated when the saved model has a calibration). */
  probabilities(x: Float32Array, n: number): Promise<Float32Array>;
  /** Uncalibrated probabilities (what samples are compared in). */
  rawProbabilities(x: Float32Array, n: number): Promise<Float32Array>;
  /** Penultimate features [n, dim], or null when the model does not expose them. */
  features: ((x: Float32Array, n: number) => Promise<Float32Array>) | null;
  head: LinearHead | null;
  /** Why there are no features (for messages), or null. */
  noFeatures: string | null;
  release(): Promise<void>;
}

/** A saved model opened through the shared Predictor. */
export function scorerFromPredictor(p: Predictor): Scorer {
  const g = p.gradient;
  return {
    kind: p.meta.labelKind === 'multilabel' ? 'multilabel' : 'categorical',
    classes: p.classes,
    activation: p.meta.output.activation,
    pipe: { size: p.size, preprocessing: p.preprocessing, augmentation: null, channels: p.channels },
    probabilities: (x, n) => p.scoreInputs(x, n),
    rawProbabilities: (x, n) => p.rawProbabilitiesOfInputs(x, n),
    features: g ? async (x, n) => (await g.features(x, n)).features : null,
    head: g ? linearHead(g.graph, g.params) : null,
    noFeatures: g ? null : p.gradientUnavailable,
    release: async () => {},
  };
}

/** A model just trained in memory (its graph and best parameters). */
export function scorerFromTrained(t: TrainedModel): Scorer {
  const gm = new GradientModel(t.graph, t.params, { threads: 1 });
  const head = linearHead(t.graph, t.params);
  const activation = t.targets.labelKind === 'multilabel' ? 'sigmoid' : 'softmax';
  const k = t.targets.classes.length;
  const probs = async (x: Float32Array, n: number) => {
    const logits = head ? headLogits(head, (await gm.features(x, n)).features, n) : await gm.logits(x, n);
    return activate(logits, n, k, activation);
  };
  return {
    kind: t.targets.labelKind,
    classes: t.targets.classes,
    activation,
    pipe: { size: t.preprocessing.size, preprocessing: t.preprocessing, augmentation: null, channels: t.channels },
    probabilities: probs,
    rawProbabilities: probs,
    features: head ? async (x, n) => (await gm.features(x, n)).features : null,
    head,
    noFeatures: head ? null : 'the model does not end in a linear layer',
    release: () => gm.release(),
  };
}

export interface PoolOutputOptions {
  /** Read penultimate embeddings (core-set, BADGE, --diversity). */
  embeddings?: boolean;
  /** Probability samples per case (BALD, variation ratio); 0 for none. */
  samples?: number;
  /** Where samples come from: 'auto' = MC dropout when the head has dropout, else TTA. */
  sampleSource?: 'auto' | 'mc-dropout' | 'tta';
  seed?: number;
  batch?: number;
  onProgress?: ProgressCallback;
}

export interface PoolOutputs {
  n: number;
  k: number;
  probabilities: Float32Array;
  embeddings?: Embeddings;
  samples?: ProbabilitySamples;
  /** What the user should know (e.g. samples from TTA because the model has no dropout). */
  notes: string[];
}

/**
 * Probabilities (and embeddings / samples when asked) for dataset rows.
 *
 * @example const out = await poolOutputs(scorerFromPredictor(model), ds, rows, { embeddings: true, samples: 20 });
 */
export async function poolOutputs(s: Scorer, ds: Dataset, rows: readonly number[], o: PoolOutputOptions = {}): Promise<PoolOutputs> {
  const n = rows.length;
  const k = s.classes.length;
  const pixels = pixelsAtSize(ds, s.pipe.size);
  const px = s.pipe.size * s.pipe.size * (s.pipe.channels ?? 1);
  const batch = Math.max(1, o.batch ?? 256);
  const notes: string[] = [];
  const S = o.samples ?? 0;
  let source: SampleSource | null = null;
  if (S > 0) {
    const want = o.sampleSource ?? 'auto';
    const mcOk = s.head !== null && s.head.dropout > 0 && s.features !== null;
    if (want === 'mc-dropout' && !mcOk) throw new InputError('ACTIVE_NEEDS_SAMPLES', `MC dropout needs a model with dropout before its final linear layer and readable features; ${s.head ? `this model has dropout ${s.head.dropout}` : s.noFeatures ?? 'this model has no linear head'} (train with --dropout 0.2, or use test-time augmentation samples)`);
    source = want === 'tta' || !mcOk ? 'tta' : 'mc-dropout';
    if (source === 'tta' && want === 'auto') notes.push(`samples are ${S} test-time augmentations (the training augmentation on the input): the model has no dropout for MC dropout${s.head ? '' : ` (${s.noFeatures ?? 'no linear head'})`}`);
    if (source === 'mc-dropout') notes.push(`samples are ${S} MC-dropout passes (p = ${s.head!.dropout} on the penultimate features)`);
  }
  const needFeatures = (o.embeddings ?? false) || source === 'mc-dropout';
  if (needFeatures && !s.features) throw new InputError('ACTIVE_NEEDS_EMBEDDINGS', `this model does not expose penultimate embeddings: ${s.noFeatures}`);
  const dim = s.head?.dim ?? 0;
  const probabilities = new Float32Array(n * k);
  const feats = needFeatures ? new Float32Array(n * dim) : null;
  const samples = source ? new Float32Array(S * n * k) : null;
  const rng = new Rng(`${o.seed ?? 1}:active-samples`);
  const x = new Float32Array(batch * px);
  for (let st = 0; st < n; st += batch) {
    const part = rows.slice(st, st + batch);
    const m = part.length;
    const xb = x.subarray(0, m * px);
    prepareBatch(s.pipe, pixels, part, xb);
    probabilities.set(await s.probabilities(xb, m), st * k);
    if (feats) {
      const f = await s.features!(xb, m);
      if (f.length !== m * dim) throw new InputError('MODEL_OUTPUT', `the model gave ${f.length / m} features per image, its head expects ${dim}`);
      feats.set(f, st * dim);
    }
    if (samples && source === 'mc-dropout') {
      const h = s.head!;
      const f = feats!.subarray(st * dim, (st + m) * dim);
      const mask = new Float32Array(m * dim);
      const keep = 1 - h.dropout;
      for (let r = 0; r < S; r++) {
        for (let j = 0; j < mask.length; j++) mask[j] = rng.random() < keep ? 1 / keep : 0;
        samples.set(activate(headLogits(h, f, m, mask), m, k, s.activation), (r * n + st) * k);
      }
    } else if (samples) {
      const pipe: InputPipeline = { ...s.pipe, augmentation: DEFAULT_AUGMENTATION };
      for (let r = 0; r < S; r++) {
        prepareBatch(pipe, pixels, part, xb, rng.nextUint32());
        samples.set(await s.rawProbabilities(xb, m), (r * n + st) * k);
      }
    }
    o.onProgress?.({ stage: 'score pool', done: st + m, total: n });
  }
  return {
    n, k, probabilities, notes,
    ...(feats && o.embeddings && { embeddings: { data: feats, dim } }),
    ...(samples && { samples: { data: samples, count: S, source: source! } }),
  };
}
