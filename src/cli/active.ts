/** `radml active select | simulate`: which cases to label next, and how much labelling each strategy saves. */
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { acquire, poolOutputs, scorerFromPredictor, strategy, STRATEGY_NAMES, type AcquisitionInput, type PoolOutputs } from '../active/index.js';
import { renderActiveHtml } from '../active/html.js';
import { simulateActiveLearning, simulationRows } from '../active/simulate.js';
import { meanOfSamples } from '../active/measures.js';
import { loadOrIngest } from '../data/ingest/index.js';
import type { Dataset } from '../data/dataset.js';
import type { ManifestRecord } from '../data/manifest.js';
import { loadModel, type Predictor } from '../predict/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { type CsvCell, writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { checkOutputPath } from './lib/outputs.js';
import { bool, choice, type Command, type CommandIO, list, num, type ParsedArgs, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

const hasLabel = (r: ManifestRecord) => r.label !== undefined || (r.findings !== undefined && Object.values(r.findings).some((v) => v !== null));

/** Per-case label costs from `--cost-column` (numbers, or names mapped by `--costs name=cost,…`). */
export function labelCosts(ds: Dataset, rows: readonly number[], column: string | undefined, spec: string[] | undefined): number[] | undefined {
  if (!column) {
    if (spec) throw new InputError('CLI_ARGS', '--costs needs --cost-column (the column naming each case\'s label source)');
    return undefined;
  }
  const file = ds.manifest.file;
  if (!ds.manifest.header.includes(column)) throw new InputError('CLI_ARGS', `${file}: --cost-column "${column}" is not a column (columns: ${ds.manifest.header.join(', ')})`, { file });
  const map = new Map<string, number>();
  for (const item of spec ?? []) {
    const [k, v] = item.split('=');
    const c = Number(v);
    if (!k || !(c > 0)) throw new InputError('CLI_ARGS', `--costs: "${item}" is not source=cost with a positive cost (e.g. report=1,expert=20)`);
    map.set(k.trim(), c);
  }
  return rows.map((i) => {
    const r = ds.manifest.records[i]!;
    const raw = (r.columns[column] ?? '').trim();
    const c = map.has(raw) ? map.get(raw)! : Number(raw);
    if (!(c > 0) || raw === '') throw new InputError('ACTIVE_COSTS', `${file} line ${r.line}: column ${column} is "${raw}", which is neither a positive number nor a source named in --costs (${[...map.keys()].join(', ') || 'none given'})`, { file });
    return c;
  });
}

async function select(args: ParsedArgs, io: CommandIO): Promise<number> {
  const models = list(args, 'model') ?? [];
  if (!models.length) throw new InputError('CLI_ARGS', '--model is required (one model folder, or several separated by commas for an ensemble). See `radml active --help`.');
  const poolArg = requireStr(args, 'pool', 'active select');
  const out = requireStr(args, 'out', 'active select');
  checkOutputPath(out, 'file', '--out');
  const name = str(args, 'strategy') ?? 'entropy';
  const strat = strategy(name);
  const count = num(args, 'n', { integer: true, min: 1 }) ?? 50;
  const samples = num(args, 'samples', { integer: true, min: 2, max: 200 }) ?? 20;
  const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
  const seed = num(args, 'seed', { integer: true, min: 0 }) ?? 1;
  const aggregate = choice(args, 'aggregate', ['mean', 'max'] as const) ?? 'mean';
  const sampleSource = choice(args, 'sample-source', ['auto', 'mc-dropout', 'tta'] as const) ?? 'auto';
  const budget = num(args, 'budget', { above: 0 });
  if (!existsSync(poolArg)) throw new InputError('FILE_UNREADABLE', `${poolArg}: no such manifest or dataset`, { file: poolArg });
  const bar = progressBar(io);
  const opened: Predictor[] = [];
  try {
    for (const m of models) opened.push(await loadModel(m, { threads, oodGate: false, gradients: strat.needs !== 'probabilities' || bool(args, 'diversity') }));
    const p = opened[0]!;
    for (const q of opened.slice(1)) {
      if (q.classes.join('\0') !== p.classes.join('\0')) throw new InputError('CLI_ARGS', `ensemble members disagree on classes: ${p.dir} has ${p.classes.join(', ')}, ${q.dir} has ${q.classes.join(', ')}`);
    }
    const { dataset: ds, skipped } = await loadOrIngest(poolArg, { imageSize: p.size, resize: p.meta.preprocessing.resize, onProgress: bar.callback });
    const recs = ds.manifest.records;
    const unlabelled = recs.filter((r) => !hasLabel(r)).map((r) => r.index);
    const includeLabelled = bool(args, 'include-labelled') || unlabelled.length === 0;
    const candidates = includeLabelled ? recs.map((r) => r.index) : unlabelled;
    const labelled = includeLabelled ? [] : recs.filter(hasLabel).map((r) => r.index);
    const notes: string[] = [];
    if (unlabelled.length === 0 && !bool(args, 'include-labelled')) notes.push('every pool row already has a label; all of them are ranked');
    else if (labelled.length) notes.push(`${labelled.length} pool rows already have a label: they are not queued${strat.needs === 'embeddings' || bool(args, 'diversity') ? ' and count as covered for diversity' : ''}`);
    const wantEmb = strat.needs === 'embeddings' || bool(args, 'diversity');
    let outputs: PoolOutputs;
    if (opened.length > 1) {
      // Ensemble: each member's probabilities are one sample; the mean is the prediction.
      const each: Float32Array[] = [];
      let emb: PoolOutputs['embeddings'];
      for (const [i, q] of opened.entries()) {
        const o = await poolOutputs(scorerFromPredictor(q), ds, candidates, { embeddings: wantEmb && i === 0, seed, onProgress: bar.callback });
        each.push(o.probabilities);
        if (i === 0) emb = o.embeddings;
      }
      const k = p.numClasses;
      const data = new Float32Array(each.length * candidates.length * k);
      each.forEach((a, s) => data.set(a, s * a.length));
      outputs = { n: candidates.length, k, probabilities: meanOfSamples(data, each.length, candidates.length, k), samples: { data, count: each.length, source: 'ensemble' }, notes: [`ensemble of ${opened.length} models: probabilities are their mean${wantEmb ? `; embeddings from ${p.dir}` : ''}`], ...(emb && { embeddings: emb }) };
    } else {
      outputs = await poolOutputs(scorerFromPredictor(p), ds, candidates, { embeddings: wantEmb, samples: strat.needs === 'samples' ? samples : 0, sampleSource, seed, onProgress: bar.callback });
    }
    notes.push(...outputs.notes);
    const lab = wantEmb && labelled.length ? await poolOutputs(scorerFromPredictor(p), ds, labelled, { embeddings: true }) : null;
    const costs = labelCosts(ds, candidates, str(args, 'cost-column'), list(args, 'costs'));
    const input: AcquisitionInput = {
      kind: p.meta.labelKind === 'multilabel' ? 'multilabel' : 'categorical', n: outputs.n, k: outputs.k, probabilities: outputs.probabilities,
      aggregate, rng: new Rng(`${seed}:active-select:${name}`),
      ...(outputs.samples && { samples: outputs.samples }), ...(outputs.embeddings && { embeddings: outputs.embeddings }), ...(lab?.embeddings && { labelledEmbeddings: lab.embeddings }),
    };
    const picks = acquire(name, input, { count, diversity: bool(args, 'diversity'), balance: bool(args, 'balance'), ...(costs && { costs }), ...(budget !== undefined && { budget }) });
    bar.stop();
    const k = outputs.k;
    const extra = ['patient_id', 'study_id', 'site'].filter((c) => ds.manifest.header.includes(c));
    const header = ['rank', 'path', ...extra, 'strategy', 'value', 'predicted', ...p.classes.map((c) => `score_${c}`), 'cost', 'reason'];
    const rows: Record<string, CsvCell>[] = picks.map((a) => {
      const r = recs[candidates[a.index]!]!;
      let top = 0;
      for (let c = 1; c < k; c++) if (outputs.probabilities[a.index * k + c]! > outputs.probabilities[a.index * k + top]!) top = c;
      const row: Record<string, CsvCell> = { rank: a.rank, path: r.path, strategy: name, value: Number.isFinite(a.value) ? Number(a.value.toFixed(6)) : '', predicted: p.classes[top]!, cost: a.cost, reason: a.reason };
      for (const c of extra) row[c] = r.columns[c] ?? '';
      p.classes.forEach((c, j) => (row[`score_${c}`] = Number(outputs.probabilities[a.index * k + j]!.toFixed(6))));
      return row;
    });
    writeCsv(out, header, rows);
    for (const s of skipped.slice(0, 20)) io.err(`skipped ${s.path}: ${s.reason}`);
    for (const n of notes) io.out(`note: ${n}`);
    const spent = picks.reduce((s, a) => s + a.cost, 0);
    io.out(`${picks.length} of ${candidates.length} candidates queued by ${name}${costs ? ` (total label cost ${spent})` : ''}; wrote ${out}`);
    for (const a of picks.slice(0, 5)) io.out(`  ${a.rank}. ${recs[candidates[a.index]!]!.path}: ${a.reason}`);
    return 0;
  } finally {
    bar.stop();
    for (const q of opened) await q.release();
  }
}

async function simulate(args: ParsedArgs, io: CommandIO): Promise<number> {
  const data = requireStr(args, 'data', 'active simulate');
  const out = requireStr(args, 'out', 'active simulate');
  checkOutputPath(out, 'dir', '--out');
  const strategies = list(args, 'strategies') ?? ['random', 'entropy'];
  for (const s of strategies) strategy(s);
  const imageSize = num(args, 'image-size', { integer: true, min: 8, max: 1024 }) ?? 28;
  const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
  const train: Record<string, unknown> = {
    imageSize, threads,
    epochs: num(args, 'epochs', { integer: true, min: 1 }) ?? 10,
    patience: num(args, 'patience', { integer: true, min: 1 }) ?? 4,
    width: num(args, 'width', { integer: true, min: 1, max: 512 }) ?? 8,
    batch: num(args, 'train-batch', { integer: true, min: 2 }) ?? 32,
    dropout: num(args, 'dropout', { min: 0, below: 1 }) ?? 0,
  };
  const lr = num(args, 'lr', { above: 0 });
  if (lr !== undefined) train['lr'] = lr;
  const positive = str(args, 'positive');
  if (positive) train['positive'] = positive;
  for (const p of [data, str(args, 'test')]) if (p && !existsSync(p)) throw new InputError('FILE_UNREADABLE', `${p}: no such manifest or dataset`, { file: p });
  const bar = progressBar(io);
  try {
    const { dataset } = await loadOrIngest(data, { imageSize, onProgress: bar.callback });
    const testArg = str(args, 'test');
    const test = testArg ? (await loadOrIngest(testArg, { imageSize, onProgress: bar.callback })).dataset : undefined;
    const rows = simulationRows(dataset, test);
    const result = await simulateActiveLearning(dataset, rows, {
      initial: num(args, 'initial', { integer: true, min: 2 }) ?? 50,
      batch: num(args, 'batch', { integer: true, min: 1 }) ?? 50,
      rounds: num(args, 'rounds', { integer: true, min: 1 }) ?? 5,
      strategies,
      seeds: num(args, 'seeds', { integer: true, min: 1, max: 100 }) ?? 3,
      samples: num(args, 'samples', { integer: true, min: 2, max: 200 }) ?? 10,
      aggregate: choice(args, 'aggregate', ['mean', 'max'] as const) ?? 'mean',
      train,
    }, { onProgress: bar.callback });
    bar.stop();
    mkdirSync(out, { recursive: true });
    writeJsonAtomic(join(out, 'active.json'), result);
    writeFileAtomic(join(out, 'active.html'), renderActiveHtml(result, `Active learning on ${data}`));
    for (const n of result.notes) io.out(`note: ${n}`);
    io.out(`pool ${result.settings.pool}, validation ${result.settings.validation}, evaluation ${result.settings.evaluation} (${result.settings.evaluation_source}); ${result.settings.seeds.length} seed(s), ${result.wall_seconds.toFixed(0)} s`);
    const f = (v: number | null | undefined, d = 3) => (typeof v === 'number' ? v.toFixed(d) : '—');
    for (const [n, s] of Object.entries(result.summary)) {
      const c = s.aulc_minus_random_ci95;
      io.out(`  ${n.padEnd(16)} final AUROC ${f(s.final_auroc_mean)}  area ${f(s.aulc_mean)}${n === 'random' ? '' : `  vs random ${f(s.aulc_minus_random_mean, 4)} [${f(c[0], 4)}, ${f(c[1], 4)}]`}  reaches random's final at ${s.labels_to_reach_random_final ?? 'not reached'}${s.label_savings_vs_random !== null && n !== 'random' ? ` (saves ${s.label_savings_vs_random})` : ''}`);
    }
    io.out(`wrote ${join(out, 'active.json')} and ${join(out, 'active.html')}`);
    return 0;
  } finally {
    bar.stop();
  }
}

export const command: Command = {
  name: 'active',
  summary: 'active learning: queue the cases most worth an expert read (select), or measure strategies on labelled data (simulate)',
  usage: 'select --model <dir>[,<dir>…] --pool <manifest|dataset> --n N --strategy S --out queue.csv\n       radml active simulate --data <manifest|dataset> [--test <manifest>] --initial N0 --batch B --rounds R --strategies random,entropy,… --seeds K --out <dir>',
  help: `
Strategies: ${STRATEGY_NAMES.join(', ')}.
  least-confidence, margin, entropy   from the model's probabilities (multi-label: per finding, --aggregate mean|max)
  bald, variation-ratio               from probability samples: MC dropout when the model was trained with
                                      --dropout (dropout on the penultimate features, the only dropout layer),
                                      else test-time augmentation (said so in a note); several --model folders
                                      form an ensemble whose members are the samples
  coreset                             k-center greedy on penultimate embeddings (farthest from what is labelled)
  badge                               k-means++ seeding on last-layer gradient embeddings
  random                              the baseline

select: scores the pool's unlabelled rows (rows that already have a label are not queued, and count as
covered for core-set / --diversity; if every row has a label all are ranked) and writes queue.csv: rank,
path, strategy, value, predicted class, scores, cost and a plain reason. --diversity picks spread-out cases
among the top 5·N by value; --balance takes predicted classes in turn. Label costs: --cost-column names a
column with a number, or a source mapped by --costs (e.g. --cost-column label_source --costs report=1,expert=20);
score-based strategies then rank by value per unit cost, and --budget caps the total.

simulate: labels of the pool are hidden until acquired; every strategy starts from the same random
--initial set per seed; each round it acquires --batch cases and the model is retrained from scratch
(small CNN, --epochs). AUROC is measured on --test, else on half of the data's val split (the other
half is the trainer's early-stopping set, not counted as labels). Writes <out>/active.json
({"strategies": {"<name>": {"labels", "auroc_mean", "auroc_ci95"}}, plus summary: area under the curve,
paired difference from random, labels to reach random's final AUROC, savings; per_seed; settings; notes})
and <out>/active.html. random is always included as the reference.

Examples:
  radml active select --model models/cxr --pool unlabelled.csv --n 100 --strategy badge --out queue.csv
  radml active simulate --data ../shared/data/pneumoniamnist/labels.csv --initial 50 --batch 50 --rounds 5 \\
      --strategies random,entropy,coreset --seeds 3 --epochs 8 --out sim/`,
  options: {
    model: { type: 'string', arg: '<dir>[,<dir>…]', description: 'select: model folder (several, comma-separated: an ensemble)' },
    pool: { type: 'string', arg: '<manifest|dataset>', description: 'select: the cases to choose from' },
    n: { type: 'string', arg: 'N', description: 'select: cases to queue', default: '50' },
    strategy: { type: 'string', arg: 'S', description: 'select: acquisition strategy', default: 'entropy' },
    out: { type: 'string', arg: '<queue.csv | dir>', description: 'select: the queue CSV; simulate: output folder', output: 'checked-by-command' },
    aggregate: { type: 'string', arg: 'mean|max', description: 'multi-label: combine findings by mean or max', default: 'mean' },
    samples: { type: 'string', arg: 'N', description: 'probability samples for bald / variation-ratio (select default 20, simulate 10)' },
    'sample-source': { type: 'string', arg: 'auto|mc-dropout|tta', description: 'select: where samples come from', default: 'auto' },
    diversity: { type: 'boolean', description: 'select: spread the batch out in embedding space (score-based strategies)' },
    balance: { type: 'boolean', description: 'select: take predicted classes in turn (score-based strategies)' },
    'cost-column': { type: 'string', arg: '<column>', description: 'select: column with each case\'s label cost or label source' },
    costs: { type: 'string', arg: 'src=cost,…', description: 'select: cost per label source named in --cost-column' },
    budget: { type: 'string', arg: 'X', description: 'select: stop when the total label cost would exceed X' },
    'include-labelled': { type: 'boolean', description: 'select: rank rows that already have a label too' },
    data: { type: 'string', arg: '<manifest|dataset>', description: 'simulate: labelled data (the pool; its val split validates)' },
    test: { type: 'string', arg: '<manifest|dataset>', description: 'simulate: evaluation set (default: half of the val split)' },
    initial: { type: 'string', arg: 'N0', description: 'simulate: random labels to start with', default: '50' },
    batch: { type: 'string', arg: 'B', description: 'simulate: labels acquired per round', default: '50' },
    rounds: { type: 'string', arg: 'R', description: 'simulate: acquisition rounds', default: '5' },
    strategies: { type: 'string', arg: 'a,b,…', description: 'simulate: strategies to compare (random is always added)', default: 'random,entropy' },
    seeds: { type: 'string', arg: 'K', description: 'simulate: repetitions with different initial sets', default: '3' },
    epochs: { type: 'string', arg: 'N', description: 'simulate: training epochs per round', default: '10' },
    patience: { type: 'string', arg: 'N', description: 'simulate: early-stopping patience', default: '4' },
    width: { type: 'string', arg: 'N', description: 'simulate: CNN width', default: '8' },
    'train-batch': { type: 'string', arg: 'N', description: 'simulate: training batch size', default: '32' },
    dropout: { type: 'string', arg: 'P', description: 'simulate: head dropout (P > 0 makes bald use MC dropout)', default: '0' },
    lr: { type: 'string', arg: 'X', description: 'simulate: learning rate (trainer default)' },
    'image-size': { type: 'string', arg: 'N', description: 'simulate: model input size', default: '28' },
    positive: { type: 'string', arg: '<class>', description: 'simulate: positive class' },
    seed: { type: 'string', arg: 'N', description: 'select: seed for random, core-set start, BADGE and samples', default: '1' },
    threads: { type: 'string', arg: 'N', description: 'threads (default: all cores)' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub === 'select') return select(args, io);
    if (sub === 'simulate') return simulate(args, io);
    throw new InputError('CLI_ARGS', `radml active: ${sub ? `unknown subcommand "${sub}"` : 'missing subcommand'} (select or simulate). See \`radml active --help\`.`);
  },
};
