/**
 * The one way to hold a saved model. `Predictor.open` (or `loadModel`) reads a model folder or an
 * imported ONNX + sidecar, verifies every artefact's SHA-256, opens the ORT session, and applies,
 * in one place: the stored preprocessing, the output reading (logits → probabilities), the
 * calibration fitted at training time and the out-of-distribution gate (ood.json). predict,
 * explain, robustness and serve all score through it, so a study gets the same numbers everywhere.
 *
 * When radml can rebuild the layer graph (trained models from architecture + checkpoint; imported
 * ONNX the engine can import) the predictor also carries a GradientModel for saliency, attacks and
 * the Mahalanobis features of the gate; the rebuilt graph is checked against model.onnx first.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { buildArchitecture, importOnnx, InferenceModel, type ArchSpec, type LayerGraph, type ParamSet } from '../engine/index.js';
import { type Dataset, U16_SCALE } from '../data/dataset.js';
import type { GreyImage } from '../data/grey-image.js';
import { readImage } from '../data/image.js';
import { applyPreprocessing, resizeImage, type PreprocessingSpec } from '../data/preprocess/index.js';
import { GradientModel } from '../explain/model.js';
import { checkHeader, fieldsFromColumns, type HeaderFields } from '../robustness/header-checks.js';
import { checkImages, loadOodDetector, OOD_FILE, type InputCheck, type OodDetector } from '../robustness/ood-detector.js';
import { applyModelCalibration } from '../train/calibrate.js';
import { checkpointPath, loadCheckpoint } from '../train/checkpoint.js';
import { loadAnyModel } from '../train/imported.js';
import { MODEL_JSON, type ModelJson } from '../train/model-folder.js';
import { pixelsAtSize } from '../train/trainer.js';
import { errorMessage, InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';

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

/** Softmax or sigmoid of raw model outputs [n, K] (the one copy of this in radml). */
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

/**
 * Operating points in model.json: `"operatingPoints": { "effusion": 0.4, … }` per class (written by
 * `radml evaluate --save-operating-points`), or the older single form
 * `"operatingPoint": { "threshold": 0.3, "class": "pneumonia", "rule": "sensitivity_0.9" }`.
 * A class is called positive when its (calibrated) score is ≥ its threshold, as in evaluate/.
 */
const operatingPointSchema = z.object({
  operatingPoint: z.object({ threshold: z.number(), class: z.string().optional(), rule: z.string().optional() }).optional(),
  operatingPoints: z.record(z.string(), z.number()).optional(),
  operatingPointRule: z.string().optional(),
});

export interface OperatingPoint {
  thresholds: Record<string, number>;
  rule: string | undefined;
}

/** @example const op = readOperatingPoint('models/cxr', meta); op.thresholds.pneumonia */
export function readOperatingPoint(dir: string, meta: ModelJson): OperatingPoint {
  const file = join(dir, MODEL_JSON);
  const json = existsSync(file) && statSync(dir).isDirectory() ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const raw = operatingPointSchema.safeParse(json);
  if (!raw.success) throw new InputError('MODEL_CORRUPT', `${file}: operatingPoint: ${raw.error.issues[0]?.message}`, { file: dir });
  const thresholds: Record<string, number> = { ...(raw.data.operatingPoints ?? {}) };
  const op = raw.data.operatingPoint;
  if (op) {
    const cls = op.class ?? meta.positiveClass ?? (meta.classes.length === 2 ? meta.classes[1]! : undefined);
    if (!cls) throw new InputError('MODEL_CORRUPT', `${file}: operatingPoint needs "class" for a model with ${meta.classes.length} classes`, { file: dir });
    thresholds[cls] = op.threshold;
  }
  for (const c of Object.keys(thresholds)) {
    if (!meta.classes.includes(c)) throw new InputError('MODEL_CORRUPT', `${file}: operating point for unknown class "${c}"`, { file: dir });
  }
  return { thresholds, rule: op?.rule ?? raw.data.operatingPointRule };
}

export interface PredictorOptions {
  /** ORT intra-op threads. Default 1. */
  threads?: number;
  /** Apply the model folder's out-of-distribution gate (ood.json) when it has one. Default true. */
  oodGate?: boolean;
  /** Report calibrated probabilities when model.json has a calibration. Default true (raw scores are always returned too). */
  calibrated?: boolean;
  /**
   * Rebuild the layer graph for gradient methods (saliency, white-box attacks, the gate's feature
   * distance). Default true; false saves the work when only scores are needed and the gate (if any)
   * does not use features.
   */
  gradients?: boolean;
}

/** The result for one image. */
export interface Prediction {
  /** Probability per class: calibrated when the model has a calibration; empty when the input was rejected. */
  scores: Record<string, number>;
  /** The model's own probabilities before calibration; empty when rejected. */
  raw: Record<string, number>;
  /** Operating-point decisions (score ≥ threshold) for classes with a threshold. */
  decisions: Record<string, boolean>;
  /** True when the out-of-distribution gate refused the input (it was not scored). */
  rejected: boolean;
  /** Why it was rejected (header mismatches, OOD scores over threshold); empty when accepted. */
  reasons: string[];
  /** The file, when the input was a path. */
  file?: string;
}

/** A file path, a decoded image, or a batch of either. */
export type PredictInput = string | GreyImage;

export interface DatasetPredictions {
  /** Calibrated probabilities [count, K] (= raw without a calibration); NaN rows for rejected images. */
  scores: Float32Array;
  /** Raw probabilities [count, K]; NaN rows for rejected images. */
  raw: Float32Array;
  /** Gate decision per image; null when the model has no gate or it is switched off. */
  checks: InputCheck[] | null;
}

function isGreyImage(x: unknown): x is GreyImage {
  return typeof x === 'object' && x !== null && 'data' in x && (x as GreyImage).data instanceof Float32Array;
}

export class Predictor {
  private constructor(
    /** The model folder (or .onnx file) it was opened from. */
    readonly dir: string,
    readonly meta: ModelJson,
    /** SHA-256 of model.onnx. */
    readonly onnxSha256: string,
    readonly operatingPoint: OperatingPoint,
    readonly inference: InferenceModel,
    readonly gradient: GradientModel | null,
    /** Why gradient methods are unavailable (null when they are available). */
    readonly gradientUnavailable: string | null,
    /** The out-of-distribution gate in use (null: none in the folder, or switched off). */
    readonly gate: OodDetector | null,
    private readonly useCalibration: boolean,
  ) {}

  /**
   * Open a model folder (every artefact's SHA-256 verified) or an `.onnx` file with a JSON sidecar.
   *
   * @example
   *   const model = await Predictor.open('models/cxr', { threads: 2 });
   *   const p = await model.predict('study.dcm'); // { scores, raw, decisions, rejected, reasons }
   *   await model.release();
   */
  static async open(path: string, opts: PredictorOptions = {}): Promise<Predictor> {
    const { meta, onnx } = await loadAnyModel(path);
    const threads = opts.threads ?? 1;
    const sha = createHash('sha256').update(onnx).digest('hex');
    const isFolder = statSync(path).isDirectory();
    const op = isFolder ? readOperatingPoint(path, meta) : { thresholds: {}, rule: undefined };
    // ood.json is an artefact of the folder (its hash was verified above when listed); a detector
    // fitted for another model.onnx is refused.
    const gate = isFolder && opts.oodGate !== false && existsSync(join(path, OOD_FILE)) ? loadOodDetector(path) : null;
    const inference = await InferenceModel.load(onnx, { threads });
    const wantGradients = opts.gradients !== false || gate?.mahalanobis != null;
    const { gradient, why } = wantGradients ? await rebuildGradientModel(path, meta, onnx, inference, threads) : { gradient: null, why: 'gradients were not requested when the model was opened' };
    return new Predictor(path, meta, sha, op, inference, gradient, why, gate, opts.calibrated !== false);
  }

  /**
   * A predictor over a model held in memory (e.g. just trained, not saved yet): no folder, so no
   * operating points, gate or gradient graph.
   *
   * @example const p = await Predictor.fromBytes(meta, onnx); const { scores } = await p.predictDataset(ds); await p.release();
   */
  static async fromBytes(meta: ModelJson, onnx: Uint8Array, opts: PredictorOptions = {}): Promise<Predictor> {
    const sha = createHash('sha256').update(onnx).digest('hex');
    const inference = await InferenceModel.load(onnx, { threads: opts.threads ?? 1 });
    return new Predictor('(in memory)', meta, sha, { thresholds: {}, rule: undefined }, inference, null, 'the model is held in memory without its layer graph', null, opts.calibrated !== false);
  }

  get classes(): string[] { return this.meta.classes; }
  get size(): number { return this.meta.input.size; }
  get channels(): number { return this.meta.input.channels; }
  get numClasses(): number { return this.meta.classes.length; }
  get inputShape(): number[] { return [this.channels, this.size, this.size]; }
  get preprocessing(): PreprocessingSpec { return { ...this.meta.preprocessing, size: this.size }; }
  get affine(): AffineMap | null { return affineOf(this.preprocessing); }
  /** Whether scores are calibrated (model.json has a calibration and it is not switched off). */
  get calibrated(): boolean { return this.useCalibration && this.meta.calibration !== undefined; }

  /** Throws a clear error when a gradient method is asked of a model without gradients. */
  requireGradient(method: string): GradientModel {
    if (!this.gradient) throw new InputError('GRADIENTS_UNAVAILABLE', `${this.dir}: ${method} needs input gradients, but ${this.gradientUnavailable} (occlusion and the black-box attack still work)`);
    return this.gradient;
  }

  /**
   * A decoded image (any size) → grey intensities at the model's size, exactly as a dataset caches
   * them (resize mode from model.json, then the 16-bit grid of the dataset cache), so a file scored
   * here and the same file scored through `radml predict` give the same numbers.
   */
  toModelSize(image: GreyImage): Float32Array {
    const sq = image.width === this.size && image.height === this.size ? image.data : resizeImage(image, this.size, this.meta.preprocessing.resize).data;
    const out = new Float32Array(sq.length);
    for (let i = 0; i < sq.length; i++) {
      const v = sq[i]!;
      out[i] = (v <= 0 ? 0 : v >= 1 ? U16_SCALE : Math.round(v * U16_SCALE)) / U16_SCALE;
    }
    return out;
  }

  /** Model input [C, size, size] for one decoded image (see toModelSize). */
  prepare(image: GreyImage): Float32Array {
    return this.toInput(this.toModelSize(image), 1);
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

  /** The model's own probabilities [n,K] (before calibration) for model inputs. */
  async rawProbabilitiesOfInputs(x: Float32Array, n: number): Promise<Float32Array> {
    const r = await this.inference.run(x, n, this.inputShape);
    const k = this.numClasses;
    const useProbabilities = this.meta.output.name === 'probabilities' && r.probabilities !== undefined;
    const values = useProbabilities ? r.probabilities! : r.logits;
    if (values.length !== n * k) throw new InputError('MODEL_OUTPUT', `the model returned ${values.length / n} scores per image but model.json lists ${k} classes`);
    if (useProbabilities || this.meta.output.kind === 'probabilities') return values;
    return activate(values, n, k, this.meta.output.activation);
  }

  /** Calibrated probabilities [n,K] from raw ones (identity without a calibration). */
  calibrate(raw: Float32Array, n: number): Float32Array {
    return this.calibrated ? applyModelCalibration(this.meta.calibration, this.classes, raw, n) : raw;
  }

  /** Calibrated (reported) probabilities [n,K] for model inputs. */
  async scoreInputs(x: Float32Array, n: number): Promise<Float32Array> {
    return this.calibrate(await this.rawProbabilitiesOfInputs(x, n), n);
  }

  /** Raw probabilities [n,K] for grey intensities [n, size²] (what attacks and corruptions perturb). */
  async probabilities(images: Float32Array, n: number): Promise<Float32Array> {
    return this.rawProbabilitiesOfInputs(this.toInput(images, n), n);
  }

  /** Decisions at the model's operating points for one row of calibrated scores. */
  private predictionOf(scores: Float32Array, raw: Float32Array, i: number): Prediction {
    const k = this.numClasses;
    const out: Prediction = { scores: {}, raw: {}, decisions: {}, rejected: false, reasons: [] };
    this.classes.forEach((c, j) => {
      out.scores[c] = scores[i * k + j]!;
      out.raw[c] = raw[i * k + j]!;
      const t = this.operatingPoint.thresholds[c];
      if (t !== undefined) out.decisions[c] = out.scores[c] >= t;
    });
    return out;
  }

  private rejectedPrediction(reasons: string[]): Prediction {
    return { scores: {}, raw: {}, decisions: {}, rejected: true, reasons };
  }

  /** Gate decisions for intensities at the model's size [n, size²] with optional header fields. */
  async check(images: Float32Array, n: number, headers?: (HeaderFields | null)[]): Promise<InputCheck[] | null> {
    if (!this.gate) return null;
    return checkImages(this, this.gate, images, n, headers);
  }

  /** Header-only reasons for a DICOM file's header columns (no pixels needed); [] without a gate. */
  headerReasons(fields: HeaderFields): string[] {
    return this.gate?.headerProfile ? checkHeader(fields, this.gate.headerProfile) : [];
  }

  /**
   * Score images at the model's size [n, size²] (with optional header fields for the gate).
   * Rejected images are not scored.
   */
  async predictIntensities(images: Float32Array, n: number, headers?: (HeaderFields | null)[]): Promise<Prediction[]> {
    const checks = await this.check(images, n, headers);
    const keep = Array.from({ length: n }, (_, i) => i).filter((i) => !checks || checks[i]!.accepted);
    const px = this.size * this.size;
    const sub = new Float32Array(keep.length * px);
    keep.forEach((i, j) => sub.set(images.subarray(i * px, (i + 1) * px), j * px));
    const raw = keep.length ? await this.rawProbabilitiesOfInputs(this.toInput(sub, keep.length), keep.length) : new Float32Array(0);
    const cal = this.calibrate(raw, keep.length);
    const out: Prediction[] = new Array(n);
    keep.forEach((i, j) => (out[i] = this.predictionOf(cal, raw, j)));
    for (let i = 0; i < n; i++) if (!out[i]) out[i] = this.rejectedPrediction(checks![i]!.reasons);
    return out;
  }

  /**
   * Score a file (PNG, JPEG, TIFF, DICOM), a decoded image, or a batch of them. A DICOM whose header
   * does not match the training data (e.g. CT or MR for a chest-radiograph model) is rejected
   * without being scored; so is an image whose features or energy fall outside the training data's.
   * A file that cannot be read throws an InputError naming it.
   *
   * @example
   *   const model = await loadModel('models/cxr');
   *   const p = await model.predict('study.dcm');
   *   if (p.rejected) console.log(p.reasons); else console.log(p.scores.pneumonia, p.raw.pneumonia);
   */
  async predict(input: PredictInput): Promise<Prediction>;
  async predict(input: readonly PredictInput[]): Promise<Prediction[]>;
  async predict(input: PredictInput | readonly PredictInput[]): Promise<Prediction | Prediction[]> {
    if (typeof input === 'string' || isGreyImage(input)) return (await this.predictMany([input]))[0]!;
    return this.predictMany(input as readonly PredictInput[]);
  }

  private async predictMany(inputs: readonly PredictInput[]): Promise<Prediction[]> {
    const px = this.size * this.size;
    const images = new Float32Array(inputs.length * px);
    const headers: (HeaderFields | null)[] = [];
    const early: (Prediction | null)[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i]!;
      if (typeof x !== 'string') {
        images.set(this.toModelSize(x), i * px);
        headers.push(null);
        early.push(null);
        continue;
      }
      // readImage: typed errors naming the file; the same decode as the dataset cache (decodeSize).
      const { image, columns } = await readImage(x, { decodeSize: this.size });
      const fields = Object.keys(columns).length ? fieldsFromColumns(columns) : null;
      const hr = fields ? this.headerReasons(fields) : [];
      headers.push(fields);
      early.push(hr.length ? { ...this.rejectedPrediction(hr), file: x } : null);
      if (!hr.length) images.set(this.toModelSize(image), i * px);
    }
    const todo = early.map((e, i) => (e ? -1 : i)).filter((i) => i >= 0);
    const sub = new Float32Array(todo.length * px);
    todo.forEach((i, j) => sub.set(images.subarray(i * px, (i + 1) * px), j * px));
    const preds = await this.predictIntensities(sub, todo.length, todo.map((i) => headers[i]!));
    const out = early.slice() as Prediction[];
    todo.forEach((i, j) => (out[i] = preds[j]!));
    return out.map((p, i) => (typeof inputs[i] === 'string' ? { ...p, file: inputs[i] as string } : p));
  }

  /**
   * Every image of a dataset, in dataset order, batched; header columns of DICOM-derived rows feed
   * the gate. Rejected rows hold NaN scores.
   *
   * @example const { scores, raw, checks } = await model.predictDataset(dataset, { batch: 256 });
   */
  async predictDataset(ds: Dataset, opts: { batch?: number; onProgress?: ProgressCallback } = {}): Promise<DatasetPredictions> {
    const size = this.size;
    const k = this.numClasses;
    const pixels = pixelsAtSize(ds, size);
    const px = size * size;
    const n = ds.meta.count;
    const batch = Math.max(1, opts.batch ?? 128);
    const scores = new Float32Array(n * k);
    const raw = new Float32Array(n * k);
    const checks: InputCheck[] | null = this.gate ? [] : null;
    const img = new Float32Array(batch * px);
    for (let s = 0; s < n; s += batch) {
      const m = Math.min(batch, n - s);
      for (let j = 0; j < m * px; j++) img[j] = pixels[s * px + j]! / U16_SCALE;
      const headers = this.gate ? Array.from({ length: m }, (_, j) => fieldsFromColumns(ds.manifest.records[s + j]!.columns)) : undefined;
      const preds = await this.predictIntensities(img.subarray(0, m * px), m, headers);
      preds.forEach((p, j) => {
        this.classes.forEach((c, ci) => {
          scores[(s + j) * k + ci] = p.rejected ? NaN : p.scores[c]!;
          raw[(s + j) * k + ci] = p.rejected ? NaN : p.raw[c]!;
        });
        checks?.push({ accepted: !p.rejected, reasons: p.reasons, mahalanobis: null, energy: null });
      });
      opts.onProgress?.({ stage: 'predict', done: s + m, total: n });
    }
    return { scores, raw, checks };
  }

  /**
   * The gate over some rows of a dataset (header columns + pixels): which are accepted, and why the
   * others are not. Without a gate every row is accepted.
   *
   * @example const { accepted, rejected } = await model.gateRows(ds, testRows);
   */
  async gateRows(ds: Dataset, rows: readonly number[], batch = 128): Promise<{ accepted: number[]; rejected: { index: number; reasons: string[] }[] }> {
    if (!this.gate) return { accepted: rows.slice(), rejected: [] };
    const px = this.size * this.size;
    const pixels = pixelsAtSize(ds, this.size);
    const accepted: number[] = [];
    const rejected: { index: number; reasons: string[] }[] = [];
    for (let s = 0; s < rows.length; s += batch) {
      const part = rows.slice(s, s + batch);
      const img = new Float32Array(part.length * px);
      part.forEach((r, j) => { for (let p = 0; p < px; p++) img[j * px + p] = pixels[r * px + p]! / U16_SCALE; });
      const checks = (await this.check(img, part.length, part.map((r) => fieldsFromColumns(ds.manifest.records[r]!.columns))))!;
      part.forEach((r, j) => (checks[j]!.accepted ? accepted.push(r) : rejected.push({ index: r, reasons: checks[j]!.reasons })));
    }
    return { accepted, rejected };
  }

  async release(): Promise<void> {
    await this.inference.release();
    if (this.gradient) await this.gradient.release();
  }
}

/**
 * Open a model for prediction: the one-line path.
 *
 * @example
 *   import { loadModel } from 'radml';
 *   const model = await loadModel('models/cxr');
 *   const { scores, rejected } = await model.predict('image.dcm');
 */
export function loadModel(path: string, opts: PredictorOptions = {}): Promise<Predictor> {
  return Predictor.open(path, opts);
}

/** The layer graph behind model.onnx, checked against it, or why it is unavailable. */
async function rebuildGradientModel(dir: string, meta: ModelJson, onnx: Uint8Array, inference: InferenceModel, threads: number): Promise<{ gradient: GradientModel | null; why: string | null }> {
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
  if (!graph || !params) return { gradient: null, why: why ?? 'radml cannot rebuild this model as a layer graph' };
  const gradient = new GradientModel(graph, params, { threads });
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
    return { gradient, why: null };
  } catch (e) {
    await gradient.release();
    return { gradient: null, why: `gradient graph unavailable: ${errorMessage(e)}` };
  }
}
