/** `radml learning-curve`: AUROC against training-set size, an inverse power-law fit, and "how many labels for AUROC X". */
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapLearningCurve, meanCi, measurementInterval, predictPowerLaw } from '../active/index.js';
import { evaluator, roundDataset, simulationRows } from '../active/simulate.js';
import { loadOrIngest } from '../data/ingest/index.js';
import { esc, fmt, linePlot } from '../report/svg.js';
import { selectTrainingLabels } from '../train/build-targets.js';
import { parseTrainOptions } from '../train/options.js';
import { trainModel } from '../train/trainer.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { type Command, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'learning-curve',
  summary: 'AUROC against the number of labelled images, an inverse power-law fit with an interval, and the labels needed for a target AUROC',
  usage: '--data <manifest|dataset> [--test <manifest>] --fractions 0.05,0.1,0.2,0.4,0.8,1 --seeds K --out <dir> [--target 0.95]',
  help: `
Trains on nested random subsets of the labelled training rows (fraction × pool, the same order per
seed), measures AUROC on --test (else on half of the val split; the other half is the trainer's
early-stopping set, as in \`radml active simulate\`), and fits y(n) = a − b·n^(−c) to the mean over
seeds (a ≤ 1 is the asymptote). Intervals: 95 % percentile bootstrap over seeds (400 refits).
--fit-max F fits only fractions ≤ F, so the larger measured fractions check the extrapolation.
--target X answers "how many labelled images for AUROC X"; beyond the largest fitted size that
answer is an extrapolation of the fitted curve, and it is reported as one.

Writes <out>/learning-curve.json and <out>/learning-curve.html.`,
  options: {
    data: { type: 'string', arg: '<manifest|dataset>', description: 'labelled data (its val split validates)' },
    test: { type: 'string', arg: '<manifest|dataset>', description: 'evaluation set (default: half of the val split)' },
    fractions: { type: 'string', arg: 'f1,f2,…', description: 'training-set fractions', default: '0.05,0.1,0.2,0.4,0.8,1' },
    seeds: { type: 'string', arg: 'K', description: 'random subsets per fraction', default: '3' },
    'fit-max': { type: 'string', arg: 'F', description: 'fit only fractions ≤ F (default: all)' },
    target: { type: 'string', arg: 'X[,Y…]', description: 'target AUROC(s) to ask the labels needed for' },
    out: { type: 'string', arg: '<dir>', description: 'output folder' },
    epochs: { type: 'string', arg: 'N', description: 'training epochs', default: '10' },
    patience: { type: 'string', arg: 'N', description: 'early-stopping patience', default: '4' },
    width: { type: 'string', arg: 'N', description: 'CNN width', default: '8' },
    'image-size': { type: 'string', arg: 'N', description: 'model input size', default: '28' },
    positive: { type: 'string', arg: '<class>', description: 'positive class' },
    threads: { type: 'string', arg: 'N', description: 'threads (default: all cores)' },
  },
  async run(args, io) {
    const data = requireStr(args, 'data', 'learning-curve');
    const out = requireStr(args, 'out', 'learning-curve');
    const fractions = (list(args, 'fractions') ?? ['0.05', '0.1', '0.2', '0.4', '0.8', '1']).map((s) => {
      const f = Number(s);
      if (!(f > 0 && f <= 1)) throw new InputError('CLI_ARGS', `--fractions: "${s}" is not a fraction in (0, 1]`);
      return f;
    }).sort((a, b) => a - b);
    if (new Set(fractions).size < 3) throw new InputError('CLI_ARGS', '--fractions needs at least 3 different fractions (the curve has 3 parameters)');
    const seeds = num(args, 'seeds', { integer: true, min: 1, max: 100 }) ?? 3;
    const fitMax = num(args, 'fit-max', { above: 0, max: 1 }) ?? 1;
    const targets = (list(args, 'target') ?? []).map((s) => {
      const t = Number(s);
      if (!(t > 0.5 && t < 1)) throw new InputError('CLI_ARGS', `--target: "${s}" is not an AUROC between 0.5 and 1`);
      return t;
    });
    const imageSize = num(args, 'image-size', { integer: true, min: 8, max: 1024 }) ?? 28;
    const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
    const positive = str(args, 'positive');
    const trainInput = {
      imageSize, threads, epochs: num(args, 'epochs', { integer: true, min: 1 }) ?? 10, patience: num(args, 'patience', { integer: true, min: 1 }) ?? 4,
      width: num(args, 'width', { integer: true, min: 1, max: 512 }) ?? 8, ...(positive && { positive }),
    };
    for (const p of [data, str(args, 'test')]) if (p && !existsSync(p)) throw new InputError('FILE_UNREADABLE', `${p}: no such manifest or dataset`, { file: p });
    const bar = progressBar(io);
    try {
      const { dataset } = await loadOrIngest(data, { imageSize, onProgress: bar.callback });
      const testArg = str(args, 'test');
      const test = testArg ? (await loadOrIngest(testArg, { imageSize, onProgress: bar.callback })).dataset : undefined;
      const rows = simulationRows(dataset, test);
      const base = parseTrainOptions(trainInput);
      const choice = selectTrainingLabels(dataset, base);
      const opts = { ...base, ...(choice.positive !== undefined && { positive: choice.positive }) };
      const evaluate = evaluator(rows, opts);
      const val = new Set(rows.validation);
      const sizes = fractions.map((f) => Math.max(2, Math.round(f * rows.pool.length)));
      const perSize: number[][] = sizes.map(() => []);
      const started = Date.now();
      let done = 0;
      for (let s = 1; s <= seeds; s++) {
        const order = rows.pool.slice();
        const rng = new Rng(`${s}:learning-curve-order`);
        for (let i = order.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (const [i, m] of sizes.entries()) {
          const t = await trainModel(roundDataset(dataset, new Set(order.slice(0, m)), val), { ...opts, seed: s });
          perSize[i]!.push(await evaluate(t));
          bar.callback({ stage: `seed ${s}: ${m} labels`, done: ++done, total: seeds * sizes.length, detail: `${((Date.now() - started) / 1000).toFixed(0)} s` });
        }
      }
      bar.stop();
      const fitIdx = fractions.map((f, i) => (f <= fitMax + 1e-12 ? i : -1)).filter((i) => i >= 0);
      if (fitIdx.length < 3) throw new InputError('CLI_ARGS', `--fit-max ${fitMax} leaves ${fitIdx.length} fractions to fit; the curve needs at least 3`);
      const clean = (v: number[]) => v.filter((x) => Number.isFinite(x));
      const fitSizes = fitIdx.map((i) => sizes[i]!);
      const fitSeeds = fitIdx.map((i) => clean(perSize[i]!));
      if (fitSeeds.some((v) => !v.length)) throw new InputError('LEARNING_CURVE', 'some training sizes gave no finite AUROC (an evaluation class was missing); use a larger --test or val split');
      const maxFit = fitSizes[fitSizes.length - 1]!;
      const at = [...new Set([...sizes, rows.pool.length, 2 * rows.pool.length])].sort((a, b) => a - b);
      const boot = bootstrapLearningCurve(fitSizes, fitSeeds, { at, targets });
      const measured = sizes.map((n, i) => ({ n, fraction: fractions[i]!, fitted: fitIdx.includes(i), ...(() => { const m = meanCi(perSize[i]!); return { auroc_mean: m.mean, auroc_ci95: m.ci95 }; })(), per_seed: perSize[i]!.map((v) => (Number.isFinite(v) ? v : null)) }));
      const checks = measured.filter((m) => !m.fitted).map((m) => {
        const p = boot.predictions.find((q) => q.n === m.n)!;
        const mi = measurementInterval(p.auroc, p.ci95, fitSeeds, clean(perSize[sizes.indexOf(m.n)]!).length);
        const inside = (c: [number, number] | null) => (c === null || m.auroc_mean === null ? null : m.auroc_mean >= c[0] && m.auroc_mean <= c[1]);
        // ci95: where the mean curve lies; measurement_interval95: where a new K-seed mean should fall (adds seed noise).
        return { n: m.n, measured: m.auroc_mean, predicted: p.auroc, ci95: p.ci95, within: inside(p.ci95), measurement_interval95: mi, within_measurement_interval: inside(mi) };
      });
      const result = {
        model: 'auroc(n) = a - b * n^(-c)',
        fit: boot.fit,
        fitted_sizes: fitSizes,
        measured,
        predictions: boot.predictions.map((p) => ({ ...p, extrapolation: p.n > maxFit })),
        extrapolation_checks: checks,
        labels_for: boot.labelsFor.map((l) => ({ ...l, extrapolation: l.labels === null || l.labels > maxFit })),
        settings: { pool: rows.pool.length, validation: rows.validation.length, evaluation: rows.evaluation.length, evaluation_source: rows.source, seeds, train: trainInput, bootstrap_replicates: boot.replicates },
        wall_seconds: (Date.now() - started) / 1000,
      };
      mkdirSync(out, { recursive: true });
      writeJsonAtomic(join(out, 'learning-curve.json'), result);
      const xMax = Math.max(...at);
      const curve = Array.from({ length: 60 }, (_, i) => { const n = sizes[0]! * (xMax / sizes[0]!) ** (i / 59); return { x: n, y: predictPowerLaw(boot.fit, n) }; });
      const plot = linePlot({
        title: 'AUROC against labelled training images', xLabel: 'labelled images', yLabel: 'AUROC', xDomain: [0, xMax], width: 640, height: 400, legendAt: 'br',
        series: [
          { label: 'measured (mean over seeds)', markers: true, points: measured.map((m) => ({ x: m.n, y: m.auroc_mean ?? NaN })) },
          { label: `fit a − b·n^−c (a = ${fmt(boot.fit.a)})`, dash: true, points: curve },
        ],
        bands: [{ label: 'fit 95 % bootstrap interval', x: boot.predictions.map((p) => p.n), lower: boot.predictions.map((p) => p.ci95[0]), upper: boot.predictions.map((p) => p.ci95[1]) }],
      });
      const lf = result.labels_for.map((l) => `<li>AUROC ${fmt(l.auroc)}: ${l.labels === null ? 'not reached by the fitted curve (its asymptote is ' + fmt(boot.fit.a) + ')' : `${Math.round(l.labels)} labelled images [${l.ci95[0] === null ? '—' : Math.round(l.ci95[0])}, ${l.ci95[1] === null ? 'not reached' : Math.round(l.ci95[1])}]`}${l.extrapolation ? ' — an extrapolation beyond the largest fitted size' : ''}</li>`).join('');
      writeFileAtomic(join(out, 'learning-curve.html'), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Learning curve</title><style>body{font:15px/1.55 system-ui,sans-serif;max-width:980px;margin:0 auto;padding:16px 32px;color:#1f2937}.plot .ptitle{font-size:13px;font-weight:600}.plot .tick{font-size:11px;fill:#6b7280}.plot .axis{font-size:12px}.plot .legend{font-size:11.5px}.plot .frame{fill:none;stroke:#cbd5e1}.plot .grid{stroke:#eef2f7}</style></head><body><h1>Learning curve: ${esc(data)}</h1>${plot}<p>Fitted on ${fitSizes.join(', ')} labelled images; AUROC on ${rows.evaluation.length} images (${esc(rows.source)}); ${seeds} seeds. Beyond ${maxFit} images the curve is an extrapolation.</p>${lf ? `<h2>Labels needed</h2><ul>${lf}</ul>` : ''}${checks.length ? `<h2>Extrapolation check</h2><ul>${checks.map((c) => `<li>${c.n} images: measured ${fmt(c.measured)}, predicted ${fmt(c.predicted)} [${fmt(c.ci95[0])}, ${fmt(c.ci95[1])}] — ${c.within ? 'inside' : 'outside'} the curve's interval${c.measurement_interval95 ? `; ${c.within_measurement_interval ? 'inside' : 'outside'} the interval for a new ${seeds}-seed measurement [${fmt(c.measurement_interval95[0])}, ${fmt(c.measurement_interval95[1])}]` : ''}</li>`).join('')}</ul>` : ''}</body></html>\n`);
      io.out(`fit: AUROC(n) = ${boot.fit.a.toFixed(4)} − ${boot.fit.b.toFixed(4)}·n^(−${boot.fit.c.toFixed(3)}) on ${fitSizes.join(', ')} labels (${seeds} seeds, ${result.wall_seconds.toFixed(0)} s)`);
      for (const m of measured) io.out(`  ${String(m.n).padStart(6)} labels: measured ${fmt(m.auroc_mean)}${m.fitted ? '' : ` (not fitted; predicted ${fmt(boot.predictions.find((p) => p.n === m.n)!.auroc)} [${fmt(boot.predictions.find((p) => p.n === m.n)!.ci95[0])}, ${fmt(boot.predictions.find((p) => p.n === m.n)!.ci95[1])}])`}`);
      for (const c of checks) io.out(`  extrapolation check at ${c.n}: measured ${fmt(c.measured)} is ${c.within ? 'inside' : 'outside'} the fitted curve's interval${c.measurement_interval95 ? ` and ${c.within_measurement_interval ? 'inside' : 'outside'} the interval for a new ${seeds}-seed measurement [${fmt(c.measurement_interval95[0])}, ${fmt(c.measurement_interval95[1])}]` : ''}`);
      for (const l of result.labels_for) io.out(`  AUROC ${l.auroc}: ${l.labels === null ? `not reached (asymptote ${fmt(boot.fit.a)})` : `${Math.round(l.labels)} labels [${l.ci95[0] === null ? '—' : Math.round(l.ci95[0])}, ${l.ci95[1] === null ? 'not reached' : Math.round(l.ci95[1])}]`}${l.extrapolation ? ' (extrapolation)' : ''}`);
      io.out(`wrote ${join(out, 'learning-curve.json')} and ${join(out, 'learning-curve.html')}`);
      return 0;
    } finally {
      bar.stop();
    }
  },
};
