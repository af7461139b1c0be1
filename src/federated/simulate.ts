/**
 * In-process federated simulation: one LocalSite per simulated site on its partition of a dataset,
 * rounds of local training and server aggregation (FedAvg, FedProx, FedAdam, FedYogi, FedBN; mean,
 * median, trimmed-mean or Krum aggregation; optional client-level DP and one poisoned site), and —
 * in the same run — the pooled (centralised) model and each site's local-only model trained for the
 * same number of epochs with the same local trainer, so "is federating worth it here?" is answered
 * on equal terms. Sites train one after another (each on its own gradient pool): the 2-core
 * machines radml is measured on have no spare cores for a worker per site.
 */
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { buildArchitecture, exportInferenceModel, initParameters, serializeParams, type ArchSpec, type LayerGraph, type ParamSet } from '../engine/index.js';
import { type ModelJson, packageVersions, writeModelFolder } from '../train/model-folder.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { buildTargets } from '../train/build-targets.js';
import type { TrainOptions } from '../train/options.js';
import { archSpecOf, intensityStats, pixelsAtSize } from '../train/trainer.js';
import { validationScore } from '../train/validate.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { PARAMS_FILE, paramsToArrays } from './arrays.js';
import { LocalSite, type SiteModelSpec } from './local.js';
import { deflateRecordDict, type RecordDict } from './objects.js';
import { partitionRows, type PartitionSpec } from './partition.js';
import { epsilonAfter, privateMean } from './privacy.js';
import { secureAggregate } from './secure-aggregation.js';
import { aggregate, isBatchNorm, ServerOptimizer, type AggregationOptions, type Weights } from './strategies.js';

export type StrategyName = 'fedavg' | 'fedprox' | 'fedadam' | 'fedyogi' | 'fedbn';

export interface PoisonSpec {
  site: string;
  /** The site sends g + factor·(w − g): sign-flip uses −factor, scale uses +factor. */
  kind: 'sign-flip' | 'scale';
  factor: number;
}

export interface SimulateOptions {
  train: TrainOptions;
  partition: PartitionSpec;
  rounds: number;
  localEpochs: number;
  strategy: StrategyName;
  proximalMu?: number;
  /** FedAdam/FedYogi server learning rate. */
  serverLr?: number;
  aggregation: AggregationOptions;
  dp?: { clip: number; noise: number; delta: number };
  /** Average through pairwise-masked secure aggregation (mean aggregation only). */
  secureAggregation?: boolean;
  poison?: PoisonSpec;
  /** Test fraction per site (by patient) when the manifest has no `test` split. */
  testFraction?: number;
  /** Also train pooled and local-only models (default true). */
  baselines?: boolean;
  onProgress?: ProgressCallback;
  onRound?: (r: RoundRecord) => void;
}

export interface SiteRoundRecord {
  site: string;
  examples: number;
  trainLoss: number;
  /** AUROC of the round's global model (FedBN: the site's own model) on the site's test rows. */
  testAuroc: number | null;
  bytesSent: number;
  bytesReceived: number;
  seconds: number;
  poisoned: boolean;
}

export interface RoundRecord {
  round: number;
  sites: SiteRoundRecord[];
  /** Pooled test AUROC over every site's test rows. */
  testAuroc: number | null;
  epsilon: number | null;
  clippedFraction: number | null;
  seconds: number;
}

export interface ModelScores {
  pooledAuroc: number | null;
  perSite: Record<string, number | null>;
}

export interface SimulationResult {
  graph: LayerGraph;
  arch: ArchSpec;
  spec: SiteModelSpec;
  /** Global weights after the last round (FedBN: BatchNorm tensors averaged over sites, for a new site). */
  params: ParamSet;
  sites: { name: string; trainRows: number; testRows: number }[];
  rounds: RoundRecord[];
  federated: ModelScores;
  pooled: ModelScores | null;
  localOnly: ModelScores | null;
  privacy: { clip: number; noiseMultiplier: number; delta: number; epsilon: number; samplingRate: number } | null;
  seconds: number;
}

function toWeights(p: ParamSet): Weights {
  return new Map([...p.trainable, ...p.buffers].map((t) => [t.name, t.data]));
}

function fromWeights(template: ParamSet, w: Weights): ParamSet {
  const f = (t: ParamSet['trainable'][number]) => ({ name: t.name, shape: t.shape.slice(), data: Float32Array.from(w.get(t.name)!) });
  return { trainable: template.trainable.map(f), buffers: template.buffers.map(f) };
}

function patientHash(key: string, seed: number): number {
  const r = new Rng(`${seed}:test:${key}`);
  return r.random();
}

/**
 * Run a simulated federation on `ds`.
 *
 * @example
 *   const r = await simulateFederation(dataset, { train: parseTrainOptions({ imageSize: 32 }), partition: { kind: 'column', column: 'site' },
 *     rounds: 10, localEpochs: 1, strategy: 'fedavg', aggregation: { rule: 'mean' } });
 */
export async function simulateFederation(ds: Dataset, o: SimulateOptions): Promise<SimulationResult> {
  const t0 = Date.now();
  const to = o.train;
  const labelKind = ds.meta.labelKind === 'none' ? ds.manifest.labelKind : ds.meta.labelKind;
  if (labelKind === 'none') throw new InputError('TRAIN_LABELS', `${ds.manifest.file}: no labels to train on`);
  const targets = buildTargets(ds.manifest, labelKind, to);
  const records = ds.manifest.records;
  const labelled = records.map((_, i) => i).filter((i) => targets.labelled[i] === 1);
  const k = targets.classes.length;
  const labelKey = (i: number): string => (labelKind === 'categorical' ? String(targets.classIndex[i]) : Array.from({ length: k }, (_, c) => (targets.target[i * k + c]! >= 0.5 ? '1' : '0')).join(''));
  const part = partitionRows(records, labelled, o.partition, labelKey, to.seed);
  const hasTest = labelled.some((i) => records[i]!.split === 'test');
  const testFraction = o.testFraction ?? 0.25;
  const split = part.rows.map((rows) => {
    const isTest = (i: number): boolean => (hasTest ? records[i]!.split === 'test' : patientHash(records[i]!.patientId ?? `row${i}`, to.seed) < testFraction);
    return { train: rows.filter((i) => !isTest(i) && records[i]!.split !== 'val'), test: rows.filter(isTest) };
  });
  split.forEach((s, i) => {
    if (s.train.length < 2 || s.test.length < 1) throw new InputError('FEDERATE_PARTITION', `site "${part.sites[i]}" has ${s.train.length} training and ${s.test.length} test images; every site needs at least 2 and 1`);
  });

  const size = to.imageSize;
  const allTrain = split.flatMap((s) => s.train);
  // Z-score statistics of all sites' training images: in a real federation a (secure) aggregate of per-site sums.
  const stats = intensityStats(pixelsAtSize(ds, size), allTrain, size * size);
  const spec: SiteModelSpec = {
    classes: targets.classes, labelKind, positiveClass: targets.positiveIndex !== null ? targets.classes[targets.positiveIndex]! : null,
    input: { name: 'input', channels: 1, size },
    preprocessing: { size, resize: ds.meta.preprocessing.resize, normalise: 'zscore', equalise: false, mean: stats.mean, std: stats.std },
    training: { options: { ...to } },
  };
  const arch = archSpecOf(to);
  const graph = buildArchitecture(arch, { inChannels: 1, imageSize: size, numOutputs: k });
  const init = initParameters(graph, to.seed);
  const bnLayers = new Set(graph.nodes.filter((n) => n.op === 'batchnorm2d').map((n) => n.name));
  const varBuffers = graph.buffers.filter((b) => b.kind === 'running_var').map((b) => b.name);
  const fedbn = o.strategy === 'fedbn';
  const mu = o.strategy === 'fedprox' ? (o.proximalMu ?? 0.01) : 0;
  const serverOpt = o.strategy === 'fedadam' || o.strategy === 'fedyogi' ? new ServerOptimizer({ kind: o.strategy === 'fedadam' ? 'adam' : 'yogi', eta: o.serverLr ?? 0.01 }) : null;
  if (o.poison && !part.sites.includes(o.poison.site)) throw new InputError('CLI_ARGS', `--poison: no site "${o.poison.site}" (sites: ${part.sites.join(', ')})`);
  if (o.dp && serverOpt) throw new InputError('CLI_ARGS', 'client-level DP is implemented for FedAvg-style averaging (fedavg, fedprox, fedbn), not for FedAdam/FedYogi');

  const threads = to.threads;
  const sites: LocalSite[] = [];
  const rowsOf = (rows: number[]): number[] => rows;
  try {
    for (let s = 0; s < part.sites.length; s++) sites.push(await LocalSite.create(spec, graph, init, ds, { threads, rows: { train: rowsOf(split[s]!.train), eval: split[s]!.test } }));
    const scoringTargets = sites[0]!.targetsForScoring;
    const allTest = split.flatMap((s) => s.test);
    const pooledScore = async (paramsFor: (s: number) => ParamSet): Promise<ModelScores> => {
      const probs = new Float32Array(allTest.length * k);
      let diverged = false;
      const perSite: Record<string, number | null> = {};
      let off = 0;
      for (let s = 0; s < sites.length; s++) {
        const p = await sites[s]!.predict(paramsFor(s), split[s]!.test);
        // A diverged model (non-finite outputs) has no AUROC: report it as null rather than rank NaNs.
        if (!p.every(Number.isFinite)) {
          perSite[part.sites[s]!] = null;
          diverged = true;
        }
        probs.set(p, off * k);
        off += split[s]!.test.length;
        if (perSite[part.sites[s]!] !== null) perSite[part.sites[s]!] = validationScore(p, split[s]!.test, scoringTargets).auroc;
      }
      return { pooledAuroc: diverged ? null : validationScore(probs, allTest, scoringTargets).auroc, perSite };
    };

    let global = toWeights(init);
    const siteBn: (Weights | null)[] = part.sites.map(() => null);
    const rounds: RoundRecord[] = [];
    const rng = new Rng(`${to.seed}:dp-noise`);
    const received = deflateSize(global, null);
    const startFor = (s: number): ParamSet => {
      if (!fedbn || !siteBn[s]) return fromWeights(init, global);
      const w = new Map(global);
      for (const [n, v] of siteBn[s]!) w.set(n, v);
      return fromWeights(init, w);
    };
    let epsilon: number | null = null;
    for (let round = 1; round <= o.rounds; round++) {
      const tr = Date.now();
      const updates: { weights: Weights; examples: number }[] = [];
      const siteRecs: SiteRoundRecord[] = [];
      for (let s = 0; s < sites.length; s++) {
        const ts = Date.now();
        const r = await sites[s]!.train(startFor(s), { epochs: o.localEpochs, lr: to.lr, proximalMu: mu, round, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
        let w = toWeights(r.params);
        if (fedbn) siteBn[s] = new Map([...w].filter(([n]) => isBatchNorm(n, bnLayers)).map(([n, v]) => [n, Float32Array.from(v)]));
        const poisoned = o.poison?.site === part.sites[s];
        if (poisoned) {
          const f = o.poison!.kind === 'sign-flip' ? -o.poison!.factor : o.poison!.factor;
          w = new Map([...w].map(([n, v]) => { const g = global.get(n)!; return [n, Float32Array.from(v, (x, j) => g[j]! + f * (x - g[j]!))]; }));
        }
        updates.push({ weights: w, examples: r.examples });
        siteRecs.push({ site: part.sites[s]!, examples: r.examples, trainLoss: r.loss, testAuroc: null, bytesSent: deflateSize(w, r), bytesReceived: received, seconds: (Date.now() - ts) / 1000, poisoned });
      }
      // FedBN: BatchNorm tensors are averaged only for the global model a new site would start from.
      let next: Weights;
      let clippedFraction: number | null = null;
      if (o.dp) {
        const deltas = updates.map((u) => new Map([...u.weights].map(([n, v]) => { const g = global.get(n)!; return [n, Float32Array.from(v, (x, j) => x - g[j]!)]; })));
        const pm = privateMean(deltas, { clip: o.dp.clip, noiseMultiplier: o.dp.noise }, rng.fork(round));
        clippedFraction = pm.clippedFraction;
        next = new Map([...global].map(([n, g]) => [n, Float32Array.from(g, (x, j) => x + pm.mean.get(n)![j]!)]));
        epsilon = epsilonAfter({ samplingRate: 1, noiseMultiplier: o.dp.noise, rounds: round, delta: o.dp.delta }).epsilon;
      } else if (o.secureAggregation) {
        if (o.aggregation.rule !== 'mean') throw new InputError('CLI_ARGS', 'secure aggregation computes a (weighted) mean; it cannot be combined with robust aggregation rules');
        next = secureMean(updates);
      } else {
        next = aggregate(updates, o.aggregation);
        if (serverOpt) next = serverOpt.step(global, next, round);
      }
      // A variance cannot be negative: noise (DP) or a poisoned update can push an averaged running
      // variance below 0, which would turn BatchNorm into NaNs; clamping is post-processing (DP-safe).
      for (const b of varBuffers) {
        const v = next.get(b)!;
        for (let j = 0; j < v.length; j++) if (!(v[j]! >= 1e-5)) v[j] = 1e-5;
      }
      global = next;
      const scores = await pooledScore(startFor);
      siteRecs.forEach((r) => { r.testAuroc = scores.perSite[r.site] ?? null; });
      const rec: RoundRecord = { round, sites: siteRecs, testAuroc: scores.pooledAuroc, epsilon, clippedFraction, seconds: (Date.now() - tr) / 1000 };
      rounds.push(rec);
      o.onRound?.(rec);
    }
    const federated = await pooledScore(startFor);
    const globalParams = fromWeights(init, global);

    let pooled: ModelScores | null = null;
    let localOnly: ModelScores | null = null;
    if (o.baselines !== false) {
      const epochs = o.rounds * o.localEpochs;
      const central = await LocalSite.create(spec, graph, init, ds, { threads, rows: { train: allTrain, eval: allTest } });
      try {
        const c = await central.train(init, { epochs, lr: to.lr, proximalMu: 0, round: 0, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
        pooled = await pooledScore(() => c.params);
      } finally {
        await central.close();
      }
      const locals: ParamSet[] = [];
      for (let s = 0; s < sites.length; s++) locals.push((await sites[s]!.train(init, { epochs, lr: to.lr, proximalMu: 0, round: 0, ...(o.onProgress ? { onProgress: o.onProgress } : {}) })).params);
      localOnly = await pooledScore((s) => locals[s]!);
    }
    return {
      graph, arch, spec, params: globalParams,
      sites: part.sites.map((name, s) => ({ name, trainRows: split[s]!.train.length, testRows: split[s]!.test.length })),
      rounds, federated, pooled, localOnly,
      privacy: o.dp ? { clip: o.dp.clip, noiseMultiplier: o.dp.noise, delta: o.dp.delta, epsilon: epsilon ?? 0, samplingRate: 1 } : null,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const s of sites) await s.close();
  }
}

/** FedAvg through the secure aggregation protocol: the server only ever sees masked vectors and the sum. */
function secureMean(updates: { weights: Weights; examples: number }[]): Weights {
  const names = [...updates[0]!.weights.keys()];
  const flat = updates.map((u) => {
    const v = new Float32Array(names.reduce((s, n) => s + u.weights.get(n)!.length, 0));
    let o = 0;
    for (const n of names) { v.set(u.weights.get(n)!, o); o += u.weights.get(n)!.length; }
    return v;
  });
  let maxAbs = 0;
  for (const v of flat) for (const x of v) maxAbs = Math.max(maxAbs, Math.abs(x));
  const total = updates.reduce((s, u) => s + u.examples, 0);
  // Largest power-of-two fixed-point scale that keeps Σ n·|x| inside a signed 32-bit word.
  const scale = 2 ** Math.min(24, Math.floor(Math.log2(2 ** 30 / Math.max(1e-9, total * Math.max(1, maxAbs)))));
  const r = secureAggregate(flat, updates.map((u) => u.examples), new Set(), { scale });
  const out: Weights = new Map();
  let o = 0;
  for (const n of names) {
    const len = updates[0]!.weights.get(n)!.length;
    out.set(n, Float32Array.from(r.mean.subarray(o, o + len)));
    o += len;
  }
  return out;
}

/** Bytes of the Flower object tree a message with these weights (and a site's metrics) would carry. */
function deflateSize(w: Weights, r: { loss: number; examples: number } | null): number {
  const rd: RecordDict = new Map();
  rd.set('arrays', { kind: 'array', arrays: paramsToArrays({ trainable: [...w].map(([name, data]) => ({ name, shape: [data.length], data })), buffers: [] }) });
  if (r) rd.set('metrics', { kind: 'metric', values: new Map<string, number | bigint>([['num-examples', BigInt(r.examples)], ['loss', r.loss]]) });
  else rd.set('config', { kind: 'config', values: new Map<string, number | bigint>([['lr', 0], ['server-round', 0n]]) });
  let n = 0;
  for (const b of deflateRecordDict(rd).objects.values()) n += b.length;
  return n;
}

/**
 * Write the simulation's global model as a standard model folder (model.onnx, params.bin,
 * federation.json, model.json whose `federation` field records the run) — usable by predict,
 * evaluate, explain and serve.
 *
 * @example saveSimulation('out/fed', result, { strategy: 'fedavg', data: 'cohort/manifest.csv' });
 */
export function saveSimulation(out: string, r: SimulationResult, record: Record<string, unknown>): { modelJson: ModelJson; federation: Record<string, unknown> } {
  const federation = {
    ...record,
    packages: packageVersions(),
    sites: r.sites,
    rounds: r.rounds,
    federated: r.federated,
    pooled: r.pooled,
    localOnly: r.localOnly,
    privacy: r.privacy,
    seconds: r.seconds,
  };
  writeJsonAtomic(join(out, FEDERATION_JSON), federation);
  const activation = r.spec.labelKind === 'multilabel' ? 'sigmoid' : 'softmax';
  const onnx = exportInferenceModel(r.graph, r.params, { outputs: 'logits+probabilities', activation });
  writeFileAtomic(join(out, PARAMS_FILE), serializeParams(r.params));
  const modelJson = writeModelFolder(out, onnx, {
    format: 'radml-model', version: 1, origin: 'trained', labelKind: r.spec.labelKind, classes: r.spec.classes, positiveClass: r.spec.positiveClass,
    input: r.spec.input, output: { name: 'probabilities', kind: 'probabilities', activation }, preprocessing: r.spec.preprocessing,
    architecture: { ...r.arch }, training: null, validation: null,
    federation: {
      ...record, sites: r.sites, federatedTestAuroc: r.federated.pooledAuroc, pooledTestAuroc: r.pooled?.pooledAuroc ?? null,
      localOnlyTestAuroc: r.localOnly?.pooledAuroc ?? null, privacy: r.privacy, details: FEDERATION_JSON,
    },
  }, [PARAMS_FILE, FEDERATION_JSON]);
  return { modelJson, federation };
}

export const FEDERATION_JSON = 'federation.json';
