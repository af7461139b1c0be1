/**
 * A scikit-learn-like estimator over the engine: `fit` trains (data-parallel, checkpointed),
 * `predictProba` scores a dataset, `save` writes the model folder, `ImageClassifier.load` reads one
 * back (verifying every artefact's SHA-256).
 *
 * @example
 *   const clf = new ImageClassifier({ positive: 'pneumonia', seed: 1 });
 *   await clf.fit(dataset, { outDir: 'model', onProgress });
 *   clf.save('model', { source: 'labels.csv', kind: 'manifest', sha256, skipped: [] });
 *   const probs = await ImageClassifier.load('model').predictProba(testSet);
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { exportInferenceModel } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { InputError } from '../util/errors.js';
import { CHECKPOINT_DIR, CHECKPOINT_FILE } from './checkpoint.js';
import { loadModelFolder, type ModelJson, packageVersions, writeModelFolder } from './model-folder.js';
import { parseTrainOptions, type TrainOptions, type TrainOptionsInput } from './options.js';
import { scoreDataset, type ScoreOptions } from './scoring.js';
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
  private model: { meta: ModelJson; onnx: Uint8Array } | undefined;
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
    };
  }

  /**
   * Write the model folder: model.onnx, model.json (provenance, metrics, SHA-256 of every artefact
   * including the checkpoint when `dir` holds one).
   */
  save(dir: string, data: DataProvenance): ModelJson {
    const ck = join(CHECKPOINT_DIR, CHECKPOINT_FILE);
    const meta = writeModelFolder(dir, this.onnx(), this.metaOf(data), existsSync(join(dir, ck)) ? [ck] : []);
    this.model = { meta, onnx: this.onnx() };
    return meta;
  }

  /** Load a model folder (refuses it if any artefact's SHA-256 differs from model.json). */
  static load(dir: string): ImageClassifier {
    const { meta, onnx } = loadModelFolder(dir);
    const opts = (meta.training?.options ?? {}) as TrainOptionsInput;
    const clf = new ImageClassifier(parseTrainOptionsLenient(opts));
    clf.model = { meta, onnx };
    return clf;
  }

  get meta(): ModelJson | undefined {
    return this.model?.meta;
  }

  /**
   * Probabilities [dataset count, classes] for every image of `dataset`, in dataset order.
   */
  async predictProba(dataset: Dataset, opts: ScoreOptions = {}): Promise<Float32Array> {
    if (!this.model) {
      // Not saved yet: score through a transient model description.
      const meta = { ...this.metaOf({ source: '', kind: 'dataset', sha256: '0'.repeat(64), skipped: [] }), artefacts: {}, createdAt: '' } as ModelJson;
      return scoreDataset(meta, this.onnx(), dataset, { threads: opts.threads ?? this.options.threads, ...opts });
    }
    return scoreDataset(this.model.meta, this.model.onnx, dataset, opts);
  }
}

function parseTrainOptionsLenient(o: TrainOptionsInput): TrainOptionsInput {
  try {
    return parseTrainOptions(o);
  } catch {
    return {};
  }
}
