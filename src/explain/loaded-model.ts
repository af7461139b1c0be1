/**
 * A model folder opened for analysis (saliency, attacks, OOD): the verified inference model (any
 * ONNX, trained or imported), the preprocessing from model.json, and — when radml can rebuild the
 * layer graph (trained models: architecture + checkpoint; imported ONNX the engine can import) —
 * a GradientModel for gradient methods. The rebuilt graph is checked against model.onnx before use.
 */
import { existsSync } from 'node:fs';
import { buildArchitecture, importOnnx, InferenceModel, type ArchSpec, type LayerGraph, type ParamSet } from '../engine/index.js';
import { applyPreprocessing, type PreprocessingSpec } from '../data/preprocess/index.js';
import { type Dataset, U16_SCALE } from '../data/dataset.js';
import { loadAnyModel, loadCheckpoint, checkpointPath, pixelsAtSize, type ModelJson } from '../train/index.js';
import { errorMessage, InputError } from '../util/errors.js';
import { GradientModel } from './model.js';

export interface AffineMap {
  scale: number;
  offset: number;
}

/** The preprocessing as input = intensity·scale + offset when it is such a map (z-score with fixed statistics, or none). */
export function affineOf(spec: PreprocessingSpec): AffineMap | null {
  if (spec.equalise) return null;
  if (spec.normalise === 'none') return { scale: 1, offset: 0 };
  if (spec.normalise === 'zscore' && spec.mean !== undefined && spec.std !== undefined) return { scale: 1 / spec.std, offset: -spec.mean / spec.std };
  return null;
}

export class LoadedModel {
  private constructor(
    readonly dir: string,
    readonly meta: ModelJson,
    readonly inference: InferenceModel,
    readonly gradient: GradientModel | null,
    /** Why gradient methods are unavailable (null when they are available). */
    readonly gradientUnavailable: string | null,
  ) {}

  get size(): number { return this.meta.input.size; }
  get channels(): number { return this.meta.input.channels; }
  get numClasses(): number { return this.meta.classes.length; }
  get inputShape(): number[] { return [this.channels, this.size, this.size]; }
  get preprocessing(): PreprocessingSpec { return { ...this.meta.preprocessing, size: this.size }; }
  get affine(): AffineMap | null { return affineOf(this.preprocessing); }

  /**
   * Open a model folder (SHA-256 of every artefact verified by the training engineer's loader) or
   * an ONNX file with a sidecar.
   * @example const m = await LoadedModel.open('models/synth'); … await m.release();
   */
  static async open(dir: string, opts: { threads?: number } = {}): Promise<LoadedModel> {
    const { meta, onnx } = await loadAnyModel(dir);
    const threads = opts.threads ?? 1;
    const inference = await InferenceModel.load(onnx, { threads });
    const io = { inChannels: meta.input.channels, imageSize: meta.input.size, numOutputs: meta.classes.length };
    let graph: LayerGraph | null = null;
    let params: ParamSet | null = null;
    let why: string | null = null;
    try {
      if (meta.origin === 'trained' && meta.architecture) {
        const ck = existsSync(checkpointPath(dir)) ? loadCheckpoint(dir) : undefined;
        if (!ck) why = 'the model folder has no checkpoint with its parameters';
        else {
          graph = buildArchitecture(meta.architecture as unknown as ArchSpec, io);
          params = ck.bestParams;
        }
      } else {
        const imp = importOnnx(onnx, { file: dir, inputShape: [io.inChannels, io.imageSize, io.imageSize] });
        graph = imp.graph;
        params = imp.params;
      }
    } catch (e) {
      why = errorMessage(e);
      graph = null;
    }
    let gradient: GradientModel | null = null;
    if (graph && params) {
      gradient = new GradientModel(graph, params, { threads });
      // The rebuilt graph must compute what model.onnx computes (after the output activation the
      // import dropped, for files that emit probabilities).
      const shape = [io.inChannels, io.imageSize, io.imageSize];
      const x = Float32Array.from({ length: 2 * shape[0]! * shape[1]! * shape[2]! }, (_, i) => Math.sin(i * 0.37) * 1.5);
      try {
        let a = await gradient.logits(x, 2);
        const b = (await inference.run(x, 2, shape)).logits;
        if (meta.origin === 'imported' && meta.output.kind === 'probabilities') a = activate(a, 2, io.numOutputs, meta.output.activation);
        if (a.length !== b.length) throw new Error(`rebuilt graph gives ${a.length / 2} outputs, model.onnx ${b.length / 2}`);
        let scale = 1e-3, diff = 0;
        for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(b[i]!)); diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); }
        if (diff > 1e-3 * scale + 1e-4) throw new Error(`rebuilt graph differs from model.onnx by ${diff.toExponential(2)}`);
      } catch (e) {
        await gradient.release();
        gradient = null;
        why = `gradient graph unavailable: ${errorMessage(e)}`;
      }
    } else if (!why) why = 'radml cannot rebuild this model as a layer graph';
    return new LoadedModel(dir, meta, inference, gradient, why);
  }

  /** Throws a clear error when a gradient method is asked of a model without gradients. */
  requireGradient(method: string): GradientModel {
    if (!this.gradient) throw new InputError('GRADIENTS_UNAVAILABLE', `${this.dir}: ${method} needs input gradients, but ${this.gradientUnavailable} (occlusion and the black-box attack still work)`);
    return this.gradient;
  }

  /** Grey intensities [n, size²] in [0,1] → model input [n, C, size, size]. */
  toInput(images: Float32Array, n: number): Float32Array {
    const px = this.size * this.size;
    if (images.length !== n * px) throw new InputError('BATCH_INVALID', `images have ${images.length} values, expected ${n} × ${px}`);
    const c = this.channels;
    const out = new Float32Array(n * c * px);
    const aff = this.affine;
    for (let i = 0; i < n; i++) {
      const img = images.subarray(i * px, (i + 1) * px);
      let x: Float32Array;
      if (aff) {
        x = new Float32Array(px);
        for (let p = 0; p < px; p++) x[p] = img[p]! * aff.scale + aff.offset;
      } else x = applyPreprocessing(this.preprocessing, { width: this.size, height: this.size, data: img });
      for (let ch = 0; ch < c; ch++) out.set(x, (i * c + ch) * px);
    }
    return out;
  }

  /** d/d intensity from d/d input (affine preprocessing only): Σ_channels grad · scale. */
  gradToIntensity(grad: Float32Array, n: number): Float32Array {
    const aff = this.affine;
    if (!aff) throw new InputError('GRADIENTS_UNAVAILABLE', `${this.dir}: the preprocessing (${this.preprocessing.normalise}${this.preprocessing.equalise ? ' + equalise' : ''}) is not an affine map of intensities, so white-box attacks in intensity space are not available; use the black-box attack`);
    const px = this.size * this.size;
    const c = this.channels;
    const out = new Float32Array(n * px);
    for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < px; p++) out[i * px + p] += grad[(i * c + ch) * px + p]! * aff.scale;
    return out;
  }

  /** Raw model output [n,K] (logits, or probabilities for imported models that emit only those) for model inputs. */
  async rawScores(x: Float32Array, n: number): Promise<Float32Array> {
    return (await this.inference.run(x, n, this.inputShape)).logits;
  }

  /**
   * Logits [n,K] for model inputs when the model has them: the layer graph's (imported files that
   * end in softmax/sigmoid lose it on import) or model.onnx's when it emits logits; null otherwise.
   */
  async logits(x: Float32Array, n: number): Promise<Float32Array | null> {
    if (this.gradient) return this.gradient.logits(x, n);
    if (this.meta.origin === 'trained' || this.meta.output.kind === 'logits') return this.rawScores(x, n);
    return null;
  }

  /** Probabilities [n,K] for grey intensities [n, size²]. */
  async probabilities(images: Float32Array, n: number): Promise<Float32Array> {
    const r = await this.inference.run(this.toInput(images, n), n, this.inputShape);
    if (r.probabilities && this.meta.output.name === 'probabilities') return r.probabilities;
    if (this.meta.output.kind === 'probabilities') return r.logits;
    return activate(r.logits, n, this.numClasses, this.meta.output.activation);
  }

  async release(): Promise<void> {
    await this.inference.release();
    if (this.gradient) await this.gradient.release();
  }
}

export function activate(v: Float32Array, n: number, k: number, activation: 'softmax' | 'sigmoid'): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    if (activation === 'sigmoid') { for (let c = 0; c < k; c++) out[i * k + c] = 1 / (1 + Math.exp(-v[i * k + c]!)); continue; }
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, v[i * k + c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += out[i * k + c] = Math.exp(v[i * k + c]! - m);
    for (let c = 0; c < k; c++) out[i * k + c]! /= s;
  }
  return out;
}

/** Grey intensities [indices.length, size²] of dataset images at the model's size. */
export function datasetImages(ds: Dataset, size: number, indices: ArrayLike<number>, pixels = pixelsAtSize(ds, size)): Float32Array {
  const px = size * size;
  const out = new Float32Array(indices.length * px);
  for (let j = 0; j < indices.length; j++) {
    const src = pixels.subarray(indices[j]! * px, (indices[j]! + 1) * px);
    for (let p = 0; p < px; p++) out[j * px + p] = src[p]! / U16_SCALE;
  }
  return out;
}

export interface ModelTargets {
  /** [count, K] 0/1 */
  target: Float32Array;
  /** [count, K] 1 = known */
  mask: Float32Array;
  /** Per image: has a usable label for at least one class. */
  labelled: boolean[];
}

/** Dataset labels in the model's class order (categorical: one-hot; multi-label: 1/0 with blanks and -1 masked). */
export function modelTargets(ds: Dataset, meta: ModelJson): ModelTargets {
  const k = meta.classes.length;
  const n = ds.meta.count;
  const target = new Float32Array(n * k);
  const mask = new Float32Array(n * k);
  const labelled: boolean[] = [];
  ds.manifest.records.forEach((r, i) => {
    let any = false;
    if (meta.labelKind === 'categorical') {
      const c = r.label !== undefined ? meta.classes.indexOf(r.label) : -1;
      if (c >= 0) { target[i * k + c] = 1; mask.fill(1, i * k, (i + 1) * k); any = true; }
    } else {
      meta.classes.forEach((f, c) => {
        const v = r.findings?.[f] ?? (r.columns[f] === '1' ? 1 : r.columns[f] === '0' ? 0 : null);
        if (v === 1 || v === 0) { target[i * k + c] = v; mask[i * k + c] = 1; any = true; }
      });
    }
    labelled.push(any);
  });
  return { target, mask, labelled };
}
