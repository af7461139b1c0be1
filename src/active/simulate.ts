/**
 * Pool-based active-learning simulation: the labels of the pool are hidden and revealed only for
 * the cases a strategy acquires. Each seed starts every strategy from the same random initial set
 * (and the same first model); each round the strategy picks a batch with the current model,
 * the model is retrained from scratch on everything acquired so far with the project's trainer,
 * and its AUROC is measured on held-out evaluation images. Curves are summarised over seeds
 * (mean, 95 % t-interval), with the normalised area under each curve, its paired difference from
 * random, and the labels each strategy needs to reach random's final AUROC.
 *
 * Validation: the trainer's early stopping needs labelled validation images, which a real
 * annotation project also sets aside. They come from the data's `val` split (half of it when no
 * separate test set is given; the other half is the evaluation set) and are not counted as labels
 * on the curve; every strategy uses the same ones.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import type { ManifestRecord } from '../data/manifest.js';
import { buildTargets, selectTrainingLabels } from '../train/build-targets.js';
import { meanColumnAuroc } from '../train/auroc.js';
import { parseTrainOptions, type TrainOptionsInput } from '../train/options.js';
import { type TrainedModel, trainModel } from '../train/trainer.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { acquire, strategy } from './acquire.js';
import { poolOutputs, scorerFromTrained } from './model-outputs.js';
import { aulc, labelsToReach, meanCi } from './stats.js';
import type { Aggregate } from './types.js';

export const simulateOptionsSchema = z.object({
  initial: z.number().int().min(2),
  batch: z.number().int().min(1),
  rounds: z.number().int().min(1),
  strategies: z.array(z.string()).min(1),
  seeds: z.number().int().min(1).max(100).default(3),
  /** First seed (seeds are firstSeed, firstSeed+1, …). */
  firstSeed: z.number().int().min(0).default(1),
  /** Probability samples per case for bald / variation-ratio. */
  samples: z.number().int().min(2).max(200).default(10),
  aggregate: z.enum(['mean', 'max']).default('mean'),
  /** Training options for every round (the trainer's own schema; `seed` is set per simulation seed). */
  train: z.record(z.string(), z.unknown()).default({}),
});
export type SimulateOptions = z.input<typeof simulateOptionsSchema>;

const ci = z.tuple([z.number().nullable(), z.number().nullable()]);
const strategyCurveSchema = z.object({ labels: z.array(z.number()), auroc_mean: z.array(z.number().nullable()), auroc_ci95: z.array(ci) });
export const activeResultSchema = z.object({
  /** The contract from the issue: one learning curve per strategy. */
  strategies: z.record(z.string(), strategyCurveSchema),
  summary: z.record(z.string(), z.object({
    aulc_mean: z.number().nullable(),
    aulc_ci95: ci,
    /** Paired over seeds (same initial set): AULC(strategy) − AULC(random). */
    aulc_minus_random_mean: z.number().nullable(),
    aulc_minus_random_ci95: ci,
    labels_to_reach_random_final: z.number().nullable(),
    label_savings_vs_random: z.number().nullable(),
    final_auroc_mean: z.number().nullable(),
  })),
  per_seed: z.record(z.string(), z.array(z.object({ seed: z.number(), auroc: z.array(z.number().nullable()) }))),
  random_final_auroc: z.number().nullable(),
  settings: z.object({
    initial: z.number(), batch: z.number(), rounds: z.number(), seeds: z.array(z.number()),
    pool: z.number(), validation: z.number(), evaluation: z.number(), evaluation_source: z.string(),
    train: z.record(z.string(), z.unknown()), samples: z.number(), aggregate: z.string(),
  }),
  notes: z.array(z.string()),
  wall_seconds: z.number(),
});
export type ActiveResult = z.infer<typeof activeResultSchema>;

export interface SimulationRows {
  /** Rows of `data` whose labels are hidden until acquired. */
  pool: number[];
  /** Rows of `data` the trainer validates on (early stopping). */
  validation: number[];
  /** The dataset and rows AUROC is measured on. */
  evalData: Dataset;
  evaluation: number[];
  source: string;
}

function hasLabel(r: ManifestRecord): boolean {
  return r.label !== undefined || (r.findings !== undefined && Object.values(r.findings).some((v) => v !== null));
}

/**
 * Which rows are pool, validation and evaluation (see the file header).
 *
 * @example const rows = simulationRows(ds, testDs); rows.pool.length
 */
export function simulationRows(data: Dataset, test?: Dataset): SimulationRows {
  const recs = data.manifest.records;
  const labelled = recs.filter(hasLabel).map((r) => r.index);
  const val = labelled.filter((i) => recs[i]!.split === 'val');
  const notTest = labelled.filter((i) => recs[i]!.split !== 'test' && recs[i]!.split !== 'val');
  const file = data.manifest.file;
  if (test) {
    const evaluation = test.manifest.records.filter(hasLabel).map((r) => r.index);
    if (evaluation.length < 10) throw new InputError('ACTIVE_DATA', `${test.manifest.file}: only ${evaluation.length} labelled test images; the simulation measures AUROC on them`, { file: test.manifest.file });
    if (val.length < 10) throw new InputError('ACTIVE_DATA', `${file}: needs a \`val\` split (≥ 10 labelled images) for the trainer's early stopping; found ${val.length}`, { file });
    return { pool: notTest, validation: val, evalData: test, evaluation, source: `--test ${test.manifest.file}` };
  }
  if (val.length < 20) throw new InputError('ACTIVE_DATA', `${file}: without --test the simulation splits the \`val\` split into validation and evaluation halves, and needs ≥ 20 labelled val images; found ${val.length}`, { file });
  // Half by patient (rows without patient_id count alone), fixed so every run compares alike.
  const groups = new Map<string, number[]>();
  for (const i of val) {
    const key = recs[i]!.patientId ?? `row:${i}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  const keys = [...groups.keys()];
  const rng = new Rng('active-simulate:val-halves');
  for (let i = keys.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const validation: number[] = [];
  const evaluation: number[] = [];
  for (const k of keys) (validation.length <= evaluation.length ? validation : evaluation).push(...groups.get(k)!);
  return { pool: notTest, validation: validation.sort((a, b) => a - b), evalData: data, evaluation: evaluation.sort((a, b) => a - b), source: 'half of the val split (the other half validates)' };
}

/** The dataset as the trainer sees it in one round: acquired rows train, validation rows validate, the rest have no label. */
export function roundDataset(ds: Dataset, acquired: ReadonlySet<number>, validation: ReadonlySet<number>): Dataset {
  const labelColumn = ds.manifest.labelColumn;
  const findings = ds.manifest.labelKind === 'multilabel' ? ds.manifest.classes : [];
  const records = ds.manifest.records.map((r): ManifestRecord => {
    if (validation.has(r.index)) return { ...r, split: 'val' };
    if (acquired.has(r.index)) return { ...r, split: 'train' };
    // Hidden: no label anywhere (not even the verbatim cells), and never validated on.
    const { label: _l, findings: _f, ...rest } = r;
    const columns = { ...r.columns };
    if (labelColumn) columns[labelColumn] = '';
    for (const f of findings) columns[f] = '';
    return { ...rest, columns, split: 'test' };
  });
  return { ...ds, manifest: { ...ds.manifest, records } };
}

/**
 * AUROC of a trained model on the simulation's evaluation rows (mean over classes' one-vs-rest
 * columns; binary softmax gives the positive class's AUROC).
 *
 * @example const evaluate = evaluator(rows, trainOptions); const auroc = await evaluate(trained);
 */
export function evaluator(rows: SimulationRows, trainOpts: Parameters<typeof buildTargets>[2]): (t: TrainedModel) => Promise<number> {
  let evalTargets: { target: Float32Array; mask: Float32Array; k: number } | null = null;
  return async (t: TrainedModel): Promise<number> => {
    const s = scorerFromTrained(t);
    try {
      const out = await poolOutputs(s, rows.evalData, rows.evaluation);
      if (!evalTargets) {
        const m = rows.evalData.manifest;
        const tg = buildTargets({ ...m, classes: t.targets.classes }, t.targets.labelKind, trainOpts);
        const k = t.targets.classes.length;
        const target = new Float32Array(rows.evaluation.length * k);
        const mask = new Float32Array(rows.evaluation.length * k);
        rows.evaluation.forEach((r, j) => {
          target.set(tg.target.subarray(r * k, (r + 1) * k), j * k);
          mask.set(tg.mask.subarray(r * k, (r + 1) * k), j * k);
        });
        evalTargets = { target, mask, k };
      }
      return meanColumnAuroc(out.probabilities, evalTargets.target, evalTargets.mask, rows.evaluation.length, evalTargets.k).mean;
    } finally {
      await s.release();
    }
  };
}

export interface SimulateContext {
  onProgress?: ProgressCallback;
  onNotice?: (message: string) => void;
}

/**
 * Run the simulation.
 *
 * @example
 *   const result = await simulateActiveLearning(ds, simulationRows(ds), { initial: 50, batch: 50, rounds: 5, strategies: ['random', 'entropy'], seeds: 3, train: { epochs: 10, imageSize: 28 } });
 *   result.strategies.entropy.auroc_mean
 */
export async function simulateActiveLearning(ds: Dataset, rows: SimulationRows, options: SimulateOptions, ctx: SimulateContext = {}): Promise<ActiveResult> {
  const started = Date.now();
  const o = simulateOptionsSchema.parse(options);
  const names = [...new Set(o.strategies)];
  for (const n of names) strategy(n);
  if (!names.includes('random')) names.unshift('random');
  const need = o.initial + o.batch * o.rounds;
  if (need > rows.pool.length) throw new InputError('ACTIVE_DATA', `the pool has ${rows.pool.length} labelled images but ${o.initial} + ${o.rounds} × ${o.batch} = ${need} would be acquired`);
  const base = parseTrainOptions(o.train as TrainOptionsInput);
  const choice = selectTrainingLabels(ds, base);
  const notes: string[] = [...choice.notes];
  const trainOpts = { ...base, ...(choice.positive !== undefined && { positive: choice.positive }) };
  const valSet = new Set(rows.validation);
  const seeds = Array.from({ length: o.seeds }, (_, i) => o.firstSeed + i);
  const labelsAt = Array.from({ length: o.rounds + 1 }, (_, r) => o.initial + r * o.batch);
  const total = seeds.length * (1 + names.length * o.rounds);
  let done = 0;
  const tick = (stage: string) => ctx.onProgress?.({ stage, done: ++done, total, detail: `${((Date.now() - started) / 1000).toFixed(0)} s` });

  const evaluate = evaluator(rows, trainOpts);
  const train = async (acquired: Set<number>, seed: number): Promise<TrainedModel> =>
    trainModel(roundDataset(ds, acquired, valSet), { ...trainOpts, seed }, { onNotice: (m) => { if (!notes.includes(m) && !/positive class:/.test(m)) notes.push(m); } });

  const perSeed: Record<string, { seed: number; auroc: (number | null)[] }[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const seed of seeds) {
    const rng = new Rng(`${seed}:active-initial`);
    const shuffled = rows.pool.slice();
    for (let i = 0; i < o.initial; i++) {
      const j = i + rng.int(shuffled.length - i);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const initial = shuffled.slice(0, o.initial);
    if (ds.manifest.labelKind === 'categorical') {
      const seen = new Set(initial.map((i) => ds.manifest.records[i]!.label));
      const missing = ds.manifest.classes.filter((c) => !seen.has(c));
      // A random start can miss a rare class; uncertainty sampling then struggles to find it (cold start).
      if (missing.length) notes.push(`seed ${seed}: the ${o.initial} random initial labels contain no ${missing.map((c) => `"${c}"`).join(', ')} case, so the first model cannot learn ${missing.length > 1 ? 'those classes' : 'that class'}`);
    }
    const first = await train(new Set(initial), seed);
    const firstAuroc = await evaluate(first);
    tick(`seed ${seed}: initial model`);
    for (const name of names) {
      const strat = strategy(name);
      const acquired = new Set(initial);
      const curve: (number | null)[] = [Number.isFinite(firstAuroc) ? firstAuroc : null];
      let model = first;
      for (let r = 1; r <= o.rounds; r++) {
        const candidates = rows.pool.filter((i) => !acquired.has(i));
        const s = scorerFromTrained(model);
        try {
          const wantEmb = strat.needs === 'embeddings';
          const out = await poolOutputs(s, ds, candidates, { embeddings: wantEmb, samples: strat.needs === 'samples' ? o.samples : 0, seed: seed * 1000 + r });
          for (const n of out.notes) if (!notes.includes(`${name}: ${n}`)) notes.push(`${name}: ${n}`);
          const lab = wantEmb ? await poolOutputs(s, ds, [...acquired], { embeddings: true }) : null;
          const picks = acquire(name, {
            kind: s.kind, n: out.n, k: out.k, probabilities: out.probabilities, aggregate: o.aggregate as Aggregate, rng: new Rng(`${seed}:${name}:${r}`),
            ...(out.samples && { samples: out.samples }), ...(out.embeddings && { embeddings: out.embeddings }), ...(lab?.embeddings && { labelledEmbeddings: lab.embeddings }),
          }, { count: o.batch });
          for (const p of picks) acquired.add(candidates[p.index]!);
        } finally {
          await s.release();
        }
        model = await train(acquired, seed);
        const a = await evaluate(model);
        curve.push(Number.isFinite(a) ? a : null);
        tick(`seed ${seed}: ${name} round ${r}/${o.rounds}`);
      }
      perSeed[name]!.push({ seed, auroc: curve });
    }
  }

  const strategies: ActiveResult['strategies'] = {};
  const summary: ActiveResult['summary'] = {};
  for (const name of names) {
    const curves = perSeed[name]!;
    const stats = labelsAt.map((_, r) => meanCi(curves.map((c) => c.auroc[r] ?? NaN)));
    strategies[name] = { labels: labelsAt, auroc_mean: stats.map((s) => s.mean), auroc_ci95: stats.map((s) => s.ci95 ?? [null, null]) };
  }
  const randomFinal = strategies['random']!.auroc_mean[o.rounds] ?? null;
  const areas = (name: string) => perSeed[name]!.map((c) => aulc(labelsAt, c.auroc.map((v) => v ?? NaN)));
  const randomAreas = areas('random');
  for (const name of names) {
    const a = areas(name);
    const area = meanCi(a);
    const diff = meanCi(a.map((v, i) => v - randomAreas[i]!));
    const reach = randomFinal === null ? null : labelsToReach(labelsAt, strategies[name]!.auroc_mean, randomFinal);
    summary[name] = {
      aulc_mean: area.mean, aulc_ci95: area.ci95 ?? [null, null],
      aulc_minus_random_mean: name === 'random' ? 0 : diff.mean, aulc_minus_random_ci95: name === 'random' ? [0, 0] : diff.ci95 ?? [null, null],
      labels_to_reach_random_final: reach === null ? null : Math.round(reach),
      // For random itself, reaching its own final mean earlier than the last round shows the curve's noise, not a saving.
      label_savings_vs_random: reach === null || name === 'random' ? null : Math.round(labelsAt[o.rounds]! - reach),
      final_auroc_mean: strategies[name]!.auroc_mean[o.rounds] ?? null,
    };
  }
  if (seeds.length < 2) notes.push('one seed: no confidence intervals (give --seeds 3 or more)');
  return activeResultSchema.parse({
    strategies, summary, per_seed: perSeed, random_final_auroc: randomFinal,
    settings: {
      initial: o.initial, batch: o.batch, rounds: o.rounds, seeds, pool: rows.pool.length, validation: rows.validation.length,
      evaluation: rows.evaluation.length, evaluation_source: rows.source, train: { ...o.train }, samples: o.samples, aggregate: o.aggregate,
    },
    notes, wall_seconds: (Date.now() - started) / 1000,
  });
}
