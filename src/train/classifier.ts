/**
 * A scikit-learn-like estimator over the engine: `fit` trains (data-parallel, checkpointed),
 * `save` writes the model folder with its validation-split calibration, `fitOodGate` adds the
 * out-of-distribution gate, `predictProba` scores a dataset (through the shared Predictor), and
 * `ImageClassifier.load` reads a folder back (verifying every artefact's SHA-256).
 *
 * @example
 *   const clf = new ImageClassifier({ positive: 'pneumonia', seed: 1 });
 *   await clf.fit(dataset, { outDir: 'model', onProgress });
 *   clf.save('model', { source: 'labels.csv', kind: 'manifest', sha256, skipped: [] });
 *   await clf.fitOodGate('model');
 *   const probs = await ImageClassifier.load('model').predictProba(testSet); // calibrated
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { exportInferenceModel } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { InputError } from '../util/errors.js';
import { CHECKPOINT_DIR, CHECKPOINT_FILE } from './checkpoint.js';
import { type ArtefactFiles, loadModelFolder, type ModelCalibration, type ModelJson, packageVersions, readModelJson, writeModelFolder } from './model-folder.js';
import { fitModelCalibration } from './calibrate.js';
import { fitOodDetector, type OodDetector, saveOodDetector } from '../robustness/ood-detector.js';
import { parseTrainOptions, type TrainOptions, type TrainOptionsInput } from './options.js';
import { Predictor } from '../predict/predictor.js';
import type { ProgressCallback } from '../util/progress.js';
import { type TrainContext, type TrainedModel, trainModel } from './trainer.js';

/** Where the training data came from, for provenance. */
export interface DataProvenance {
  source: string;
  kind: 'manifest' | 'dataset';
  /** SHA-256 of the manifest file, or the dataset's images.u16 hash. */
  sha256: string;
  skipped: { path: string; reason: string }[];
}

export class ImageClassifier {
  readonly options: TrainOptions;
  private trained: TrainedModel | undefined;
  private model: { meta: ModelJson; onnx: Uint8Array; dir?: string } | undefined;
  private dataset: Dataset | undefined;

  constructor(options: TrainOptionsInput = {}) {
    this.options = parseTrainOptions(options);
  }

  /** Train on `dataset` (see trainer.ts for validation split, early stopping and resume). */
  async fit(dataset: Dataset, ctx: TrainContext = {}): Promise<this> {
    this.trained = await trainModel(dataset, this.options, ctx);
    this.dataset = dataset;
    this.model = undefined;
    return this;
  }

  /** The training result (history, validation metrics); undefined for a loaded model. */
  get result(): TrainedModel | undefined {
    return this.trained;
  }

  get classes(): string[] {
    if (this.model) return this.model.meta.classes;
    if (this.trained) return this.trained.targets.classes;
    throw new InputError('MODEL_UNFITTED', 'the classifier has not been fitted or loaded');
  }

  /** Inference ONNX bytes of the kept (best) parameters. */
  onnx(): Uint8Array {
    if (this.model) return this.model.onnx;
    const t = this.requireTrained();
    return exportInferenceModel(t.graph, t.params, { outputs: 'logits+probabilities', activation: t.targets.labelKind === 'multilabel' ? 'sigmoid' : 'softmax' });
  }

  private requireTrained(): TrainedModel {
    if (!this.trained) throw new InputError('MODEL_UNFITTED', 'the classifier has not been fitted');
    return this.trained;
  }

  /** model.json content (without artefact hashes) for a freshly trained model. */
  private metaOf(data: DataProvenance): Omit<ModelJson, 'artefacts' | 'createdAt'> {
    const t = this.requireTrained();
    const ds = this.dataset!;
    const o = this.options;
    return {
      format: 'radml-model',
      version: 1,
      origin: 'trained',
      labelKind: t.targets.labelKind,
      classes: t.targets.classes,
      positiveClass: t.targets.positiveIndex !== null ? t.targets.classes[t.targets.positiveIndex]! : null,
      input: { name: 'input', channels: t.channels, size: t.preprocessing.size },
      output: { name: 'probabilities', kind: 'probabilities', activation: t.targets.labelKind === 'multilabel' ? 'sigmoid' : 'softmax' },
      preprocessing: t.preprocessing,
      architecture: t.arch ? { ...t.arch } : null,
      training: {
        data: { source: data.source, kind: data.kind, sha256: data.sha256, imagesSha256: t.imagesSha256, images: ds.meta.count, skipped: data.skipped },
        split: t.split,
        options: { ...o },
        lossWeights: t.lossWeights,
        baseModel: t.baseModel,
        packages: packageVersions(),
        seed: o.seed,
        configHash: t.configHash,
        startedAt: t.startedAt,
        finishedAt: new Date().toISOString(),
        wallTimeSeconds: t.wallSeconds,
        epochsRun: t.epochsRun,
        bestEpoch: t.bestEpoch,
        stoppedEarly: t.stoppedEarly,
        resumed: t.resumed,
        history: t.history,
      },
      validation: { auroc: t.validation.auroc, aurocPerClass: t.validation.aurocPerClass, loss: t.validation.loss, count: t.validation.count },
      calibration: this.calibration(),
    };
  }

  /** Per-class calibration fitted on the validation split of the last fit (see calibrate.ts). */
  calibration(): ModelCalibration {
    const t = this.requireTrained();
    return fitModelCalibration({
      classes: t.targets.classes, labelKind: t.targets.labelKind, positiveIndex: t.targets.positiveIndex,
      probabilities: t.validationSet.probabilities, rows: t.validationSet.rows, target: t.validationSet.target, mask: t.validationSet.mask,
    });
  }

  /**
   * Write the model folder: model.onnx, model.json (provenance, metrics, the validation-split
   * calibration, SHA-256 of every artefact including the checkpoint when `dir` holds one) and any
   * extra `artefacts` (name → bytes, hashed like the rest).
   */
  save(dir: string, data: DataProvenance, opts: { artefacts?: ArtefactFiles } = {}): ModelJson {
    const ck = join(CHECKPOINT_DIR, CHECKPOINT_FILE);
    const meta = writeModelFolder(dir, this.onnx(), this.metaOf(data), existsSync(join(dir, ck)) ? [ck] : [], opts.artefacts ?? {});
    this.model = { meta, onnx: this.onnx(), dir };
    return meta;
  }

  /**
   * Fit the out-of-distribution gate of a saved model on its training data (features of the
   * training split; thresholds on the held-out validation split, so new in-distribution images are
   * accepted at the chosen rate) and save it as ood.json, hashed in model.json.
   *
   * @example clf.save('model', provenance); const gate = await clf.fitOodGate('model');
   */
  async fitOodGate(dir: string, opts: { acceptanceRate?: number; threads?: number; onProgress?: ProgressCallback } = {}): Promise<OodDetector> {
    if (!this.dataset || !this.model) throw new InputError('MODEL_UNFITTED', 'fitOodGate needs a classifier that was fitted and saved');
    const p = await Predictor.open(dir, { threads: opts.threads ?? this.options.threads, oodGate: false });
    try {
      const v = this.requireTrained().validationSet;
      const det = await fitOodDetector(p, this.dataset, {
        fitIndices: v.trainRows, calibrationIndices: v.rows, splitName: 'the training split; thresholds on the validation split',
        ...(opts.acceptanceRate !== undefined && { acceptanceRate: opts.acceptanceRate }), seed: this.options.seed, ...(opts.onProgress && { onProgress: opts.onProgress }),
      });
      saveOodDetector(dir, det);
      this.model = { ...this.model, meta: readModelJson(dir) };
      return det;
    } finally {
      await p.release();
    }
  }

  /** Load a model folder (refuses it if any artefact's SHA-256 differs from model.json). */
  static load(dir: string): ImageClassifier {
    const { meta, onnx } = loadModelFolder(dir);
    const opts = (meta.training?.options ?? {}) as TrainOptionsInput;
    const clf = new ImageClassifier(parseTrainOptionsLenient(opts));
    clf.model = { meta, onnx, dir };
    return clf;
  }

  get meta(): ModelJson | undefined {
    return this.model?.meta;
  }

  /**
   * Probabilities [dataset count, classes] for every image of `dataset`, in dataset order:
   * calibrated when the model has a calibration (`calibrated: false` for the raw scores). The
   * out-of-distribution gate is off here unless asked for (`oodGate: true`; rejected rows are NaN).
   */
  async predictProba(dataset: Dataset, opts: ScoreOptions = {}): Promise<Float32Array> {
    const po = { threads: opts.threads ?? this.options.threads, calibrated: opts.calibrated !== false, oodGate: opts.oodGate === true };
    let p: Predictor;
    if (this.model?.dir) p = await Predictor.open(this.model.dir, po);
    else if (this.model) p = await Predictor.fromBytes(this.model.meta, this.model.onnx, po);
    else {
      // Not saved yet: score through a transient model description.
      const meta = { ...this.metaOf({ source: '', kind: 'dataset', sha256: '0'.repeat(64), skipped: [] }), artefacts: {}, createdAt: '' } as ModelJson;
      p = await Predictor.fromBytes(meta, this.onnx(), po);
    }
    try {
      return (await p.predictDataset(dataset, { ...(opts.batch !== undefined && { batch: opts.batch }), ...(opts.onProgress && { onProgress: opts.onProgress }) })).scores;
    } finally {
      await p.release();
    }
  }
}

export interface ScoreOptions {
  /** ORT intra-op threads for inference. Default: the training threads. */
  threads?: number;
  /** Images per inference batch. Default 128. */
  batch?: number;
  /** Calibrated probabilities when the model has a calibration (default true). */
  calibrated?: boolean;
  /** Apply the model folder's OOD gate (default false here; rejected rows come back NaN). */
  oodGate?: boolean;
  onProgress?: ProgressCallback;
}

function parseTrainOptionsLenient(o: TrainOptionsInput): TrainOptionsInput {
  try {
    return parseTrainOptions(o);
  } catch {
    return {};
  }
}
