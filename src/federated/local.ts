/**
 * Local training and evaluation at one site, on the training engine: the same data-parallel
 * GradientPool, loss (class weights included), optimizer kind and augmentation as `radml train`,
 * started from the weights the server sent. The learning rate is held constant within a round (the
 * usual choice in federated optimisation); the optimizer state starts fresh each round. FedProx
 * adds μ(w − w_global) to every trainable gradient, the gradient of the proximal term μ/2‖w − w_global‖².
 */
import { DEFAULT_AUGMENTATION } from '../data/augment/index.js';
import type { Dataset } from '../data/dataset.js';
import { compileTrainingGraph, createOptimizer, updateRunningStats, type LayerGraph, type ParamSet } from '../engine/index.js';
import { buildTargets } from '../train/build-targets.js';
import type { InputPipeline } from '../train/input.js';
import { parseTrainOptions, type TrainOptions, type TrainOptionsInput } from '../train/options.js';
import { GradientPool } from '../train/pool.js';
import { epochOrder } from '../train/sampling.js';
import type { Targets } from '../train/targets.js';
import { lossSpecOf, optimizerSpecOf, pixelsAtSize, predictRows, workersFor } from '../train/trainer.js';
import { validationScore, type ValidationScore } from '../train/validate.js';
import type { ModelJson } from '../train/model-folder.js';

/** What local training needs to know of a model (a ModelJson has it all). */
export type SiteModelSpec = Pick<ModelJson, 'classes' | 'labelKind' | 'positiveClass' | 'input' | 'preprocessing'> & { training: { options: Record<string, unknown> } | null };
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';

export interface LocalRoundOptions {
  epochs: number;
  lr: number;
  /** FedProx proximal coefficient μ (0 = plain local SGD as in FedAvg). */
  proximalMu: number;
  /** Round number, for reproducible per-round sampling and augmentation seeds. */
  round: number;
  onProgress?: ProgressCallback;
}

export interface LocalRoundResult {
  params: ParamSet;
  /** Mean training loss over the round's steps (weighted by batch size). */
  loss: number;
  /** Training examples seen per epoch (the FedAvg weight). */
  examples: number;
  seconds: number;
}

function copyInto(dst: ParamSet, src: ParamSet): void {
  const byName = new Map([...src.trainable, ...src.buffers].map((t) => [t.name, t]));
  for (const t of [...dst.trainable, ...dst.buffers]) {
    const s = byName.get(t.name);
    if (!s || s.data.length !== t.data.length) throw new InputError('FEDERATE_ARRAYS', `tensor "${t.name}" is missing or has the wrong size`);
    t.data.set(s.data);
  }
}

function snapshot(p: ParamSet): ParamSet {
  const c = (t: ParamSet['trainable'][number]) => ({ name: t.name, shape: t.shape.slice(), data: Float32Array.from(t.data) });
  return { trainable: p.trainable.map(c), buffers: p.buffers.map(c) };
}

/**
 * One site's data and model, ready for rounds of local training and evaluation.
 *
 * @example
 *   const site = await LocalSite.create(meta, graph, params, dataset, { threads: 1 });
 *   const r = await site.train(globalParams, { epochs: 1, lr: 3e-3, proximalMu: 0, round: 1 });
 *   const s = await site.evaluate(r.params);
 */
export class LocalSite {
  private constructor(
    readonly options: TrainOptions,
    readonly graph: LayerGraph,
    private readonly pool: GradientPool,
    private readonly targets: Targets,
    private readonly pixels: Uint16Array,
    readonly trainRows: number[],
    readonly evalRows: number[],
    private readonly evalPipe: InputPipeline,
    private readonly activation: 'softmax' | 'sigmoid',
  ) {}

  /**
   * Training rows: labelled rows whose split is `train` or blank; evaluation rows: `val` and
   * `test` (or, when the site has none, its training rows — reported as such by `evalOnTrain`).
   */
  static async create(meta: SiteModelSpec, graph: LayerGraph, params: ParamSet, ds: Dataset, opts: { threads?: number; seed?: number; rows?: { train: number[]; eval: number[] } } = {}): Promise<LocalSite> {
    const raw = (meta.training?.options ?? {}) as TrainOptionsInput;
    let o: TrainOptions;
    try {
      o = parseTrainOptions({ ...raw, resume: false, ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
    } catch {
      o = parseTrainOptions({ ...(opts.threads ? { threads: opts.threads } : {}) });
    }
    const missing = ds.manifest.classes.filter((c) => !meta.classes.includes(c));
    if (missing.length) throw new InputError('FEDERATE_DATA', `the site's data has class(es) ${missing.join(', ')} that the model does not output (${meta.classes.join(', ')})`);
    const manifest = { ...ds.manifest, classes: meta.classes };
    const positive = meta.positiveClass ?? undefined;
    const targets = buildTargets(manifest, meta.labelKind, { ...o, ...(meta.labelKind === 'categorical' && positive ? { positive } : { positive: undefined }) });
    const usable = ds.manifest.records.map((_, i) => i).filter((i) => targets.labelled[i] === 1);
    let trainRows: number[];
    let evalRows: number[];
    if (opts.rows) {
      const ok = new Set(usable);
      trainRows = opts.rows.train.filter((i) => ok.has(i));
      evalRows = opts.rows.eval.filter((i) => ok.has(i));
    } else {
      trainRows = usable.filter((i) => { const s = ds.manifest.records[i]!.split; return s !== 'val' && s !== 'test'; });
      evalRows = usable.filter((i) => { const s = ds.manifest.records[i]!.split; return s === 'val' || s === 'test'; });
    }
    if (evalRows.length === 0) evalRows = trainRows;
    if (trainRows.length < 2) throw new InputError('FEDERATE_DATA', `the site has ${trainRows.length} labelled training image(s); local training needs at least 2`);
    const size = meta.input.size;
    const pixels = pixelsAtSize(ds, size);
    const trainPipe: InputPipeline = { size, preprocessing: meta.preprocessing, augmentation: o.augment ? DEFAULT_AUGMENTATION : null, channels: meta.input.channels };
    const { loss, weight } = lossSpecOf(o, targets, trainRows);
    const pool = await GradientPool.create({
      trainingGraph: compileTrainingGraph(graph, loss),
      params: snapshot(params),
      data: { pipe: trainPipe, pixels, target: targets.target, mask: targets.mask, weight, numOutputs: graph.numOutputs },
      threads: workersFor(o.threads, o.batch),
    });
    return new LocalSite(o, graph, pool, targets, pixels, trainRows, evalRows, { ...trainPipe, augmentation: null }, meta.labelKind === 'multilabel' ? 'sigmoid' : 'softmax');
  }

  get evalOnTrain(): boolean {
    return this.evalRows === this.trainRows;
  }

  /** Local epochs from `start`; returns the updated parameters (a copy) and the mean loss. */
  async train(start: ParamSet, r: LocalRoundOptions): Promise<LocalRoundResult> {
    const t0 = Date.now();
    const o = this.options;
    const params = this.pool.params;
    copyInto(params, start);
    const anchor = r.proximalMu > 0 ? snapshot(params).trainable.map((t) => t.data) : null;
    const optimizer = createOptimizer(optimizerSpecOf(o), params);
    const k = this.targets.classes.length;
    const labels = this.trainRows.map((i) => this.targets.classIndex[i]!);
    const minLast = Math.max(2, 2 * this.pool.threads);
    let lossSum = 0;
    let seen = 0;
    for (let e = 0; e < r.epochs; e++) {
      const rng = new Rng(`${o.seed}:round:${r.round}:epoch:${e}`);
      const order = epochOrder(labels, k, this.targets.labelKind === 'categorical' ? o.sampler : 'none', rng.fork('order')).map((i) => this.trainRows[i]!);
      const augRng = rng.fork('augment');
      const batches: number[][] = [];
      for (let s = 0; s < order.length; s += o.batch) {
        const b = order.slice(s, s + o.batch);
        if (b.length >= minLast || batches.length === 0) batches.push(b);
      }
      for (let bi = 0; bi < batches.length; bi++) {
        const b = batches[bi]!;
        const stepSeed = augRng.nextUint32();
        const step = await this.pool.step(b, { training: true, dropoutSeed: stepSeed, ...(o.augment ? { stepSeed } : {}) });
        if (!Number.isFinite(step.loss)) throw new InputError('TRAIN_DIVERGED', `local training diverged in round ${r.round} (loss ${step.loss}); lower the learning rate (now ${r.lr})`);
        if (anchor) {
          for (let i = 0; i < step.grads.length; i++) {
            const g = step.grads[i]!;
            const w = params.trainable[i]!.data;
            const w0 = anchor[i]!;
            for (let j = 0; j < g.length; j++) g[j] = g[j]! + r.proximalMu * (w[j]! - w0[j]!);
          }
        }
        optimizer.step(params, step.grads, r.lr);
        updateRunningStats(params, step.batchStats, 0.1, b.length);
        lossSum += step.loss * b.length;
        seen += b.length;
        r.onProgress?.({ stage: `round ${r.round} epoch ${e + 1}/${r.epochs}`, done: bi + 1, total: batches.length, detail: `loss ${(lossSum / seen).toFixed(4)}` });
      }
    }
    return { params: snapshot(params), loss: lossSum / Math.max(1, seen), examples: this.trainRows.length, seconds: (Date.now() - t0) / 1000 };
  }

  /** AUROC and loss of `params` on the site's evaluation rows (or any `rows`). */
  async evaluate(params: ParamSet, rows: number[] = this.evalRows): Promise<ValidationScore> {
    const probs = await predictRows(this.graph, params, this.activation, this.evalPipe, this.pixels, rows, this.options.threads);
    return validationScore(probs, rows, this.targets);
  }

  /** Probabilities of `params` on `rows` (for pooled evaluation across sites). */
  async predict(params: ParamSet, rows: number[]): Promise<Float32Array> {
    return predictRows(this.graph, params, this.activation, this.evalPipe, this.pixels, rows, this.options.threads);
  }

  get targetsForScoring(): Targets {
    return this.targets;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
