/** `radml monitor`: watch a stream of studies for drift and decay; `radml monitor reference` builds a model's reference profile. */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { loadOrIngest } from '../data/ingest/index.js';
import type { Dataset } from '../data/dataset.js';
import { LoadedModel } from '../explain/loaded-model.js';
import { buildReference, optionalOod, saveReferenceArtefact } from '../monitor/build.js';
import { renderMonitorHtml } from '../monitor/html.js';
import { observeDataset } from '../monitor/observe.js';
import { loadReference, type ReferenceProfile } from '../monitor/profile.js';
import { runMonitor } from '../monitor/report.js';
import { sha256File } from '../train/model-folder.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { type Command, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

/** Row order of the stream: as given, or sorted (stably) by a column, numerically when every value is a number. */
export function streamOrder(ds: Dataset, column: string | undefined, file: string): number[] {
  const recs = ds.manifest.records;
  const idx = recs.map((r) => r.index);
  if (!column) return idx;
  if (!ds.manifest.header.includes(column)) throw new InputError('CLI_ARGS', `${file}: --order-by column "${column}" is not in the data (columns: ${ds.manifest.header.join(', ')})`, { file });
  const vals = recs.map((r) => r.columns[column] ?? '');
  const numeric = vals.every((v) => v !== '' && Number.isFinite(Number(v)));
  return idx.sort((a, b) => (numeric ? Number(vals[a]) - Number(vals[b]) : vals[a]! < vals[b]! ? -1 : vals[a]! > vals[b]! ? 1 : 0) || a - b);
}

function rowsOfSplit(ds: Dataset, split: string | undefined, file: string): number[] | undefined {
  if (!split) return undefined;
  const rows = ds.manifest.records.filter((r) => r.split === split).map((r) => r.index);
  if (!rows.length) throw new InputError('CLI_ARGS', `${file}: no rows with split "${split}"`, { file });
  return rows;
}

export const command: Command = {
  name: 'monitor',
  summary: 'watch a stream of studies for drift (headers, pixels, embeddings, scores, prevalence) and estimate performance without labels',
  usage: '--model <dir> --data <manifest|folder|dataset> --out <dir> [--reference <…>] [--window N] [--order-by <column>]\n       radml monitor reference --model <dir> --data <manifest|dataset> [--split val]',
  help: `
Treats --data as a production stream in row order (or sorted by --order-by) and compares rolling
windows with the model's reference profile (monitor-reference.json in the model folder, written by
\`radml train\` or \`radml monitor reference\`; --reference builds one from other data instead, or reads a
profile JSON). Detectors: chi-square per DICOM header field, KS per numeric header field and image
statistic, MMD on penultimate embeddings, KS on each class's scores, the OOD gate's rejection rate,
the prevalence per class (reported as a prior shift and corrected for in the other tests), and
sensitivity / specificity / AUROC at the saved operating point estimated without labels (CBPE) and,
where the stream has labels, realized with Wilson / DeLong intervals. PSI, Jensen–Shannon and
Wasserstein are reported as effect sizes.

Alarms: every --step studies (default window/4, from 50 on) all tests are corrected with Holm's
method at α = 0.75·budget·step/10,000, plus a CUSUM on non-overlapping windows for slow drift, so
in-distribution data raises at most --budget false alarms per 10,000 studies over all detectors.

Writes <out>/monitor.json ({n, drift_detected, first_alarm_index, alarms[{detector, feature, index,
statistic, p_value, message}], estimated_performance, realized_performance, prior_shift, series})
and <out>/monitor.html. Exit code 0 whether or not drift was found.

\`radml monitor reference --model <dir> --data <held-out in-distribution data> [--split val]\` profiles
that data with the model and stores it, hashed, in the model folder. Use studies the model was not
trained on: scores and embeddings of training images are tighter than those of new images.

Examples:
  radml monitor reference --model models/cxr --data val.csv
  radml monitor --model models/cxr --data last-month.csv --out monitor/ --order-by study_date`,
  options: {
    model: { type: 'string', arg: '<dir>', description: 'model folder' },
    data: { type: 'string', arg: '<path>', description: 'the stream (manifest CSV, image folder or dataset), or the reference data for `monitor reference`' },
    out: { type: 'string', arg: '<dir>', description: 'output folder for monitor.json and monitor.html' },
    reference: { type: 'string', arg: '<path>', description: 'reference data (manifest / dataset) or a reference profile JSON instead of the model\'s stored one' },
    split: { type: 'string', arg: '<name>', description: 'use only rows of this split (reference data)' },
    window: { type: 'string', arg: 'N', description: 'studies per window', default: '200' },
    step: { type: 'string', arg: 'N', description: 'evaluate every N studies (default window/4)' },
    'min-window': { type: 'string', arg: 'N', description: 'no test before N studies', default: '50' },
    budget: { type: 'string', arg: 'X', description: 'false alarms allowed per 10,000 in-distribution studies', default: '1' },
    'order-by': { type: 'string', arg: '<column>', description: 'sort the stream by this column (numeric when all values are numbers)' },
    threads: { type: 'string', arg: 'N', description: 'inference threads (default: all cores)' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub !== undefined && sub !== 'reference') throw new InputError('CLI_ARGS', `radml monitor: unknown subcommand "${sub}" (the only one is \`reference\`). See \`radml monitor --help\`.`);
    const modelDir = requireStr(args, 'model', 'monitor');
    const data = requireStr(args, 'data', 'monitor');
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest, folder or dataset`, { file: data });
    const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
    const model = await LoadedModel.open(modelDir, { threads });
    const bar = progressBar(io);
    try {
      const load = async (p: string) => (await loadOrIngest(p, { imageSize: model.size, resize: model.meta.preprocessing.resize, onProgress: bar.callback }));
      if (sub === 'reference') {
        const { dataset, skipped } = await load(data);
        const profile = await buildReference(model, dataset, { source: data, ...(rowsOfSplit(dataset, str(args, 'split'), data) && { indices: rowsOfSplit(dataset, str(args, 'split'), data)! }), onProgress: bar.callback });
        bar.stop();
        for (const s of skipped.slice(0, 20)) io.err(`skipped ${s.path}: ${s.reason}`);
        const file = saveReferenceArtefact(modelDir, profile);
        io.out(`reference profile of ${profile.studies} studies (${profile.sample.n} kept) written to ${file} and hashed in model.json`);
        for (const n of profile.notes) io.out(`note: ${n}`);
        return 0;
      }
      const out = requireStr(args, 'out', 'monitor');
      const window = num(args, 'window', { integer: true, min: 20, max: 100000 }) ?? 200;
      const step = num(args, 'step', { integer: true, min: 1, max: 100000 });
      const minWindow = num(args, 'min-window', { integer: true, min: 10, max: 100000 }) ?? 50;
      const budget = num(args, 'budget', { min: 1e-6, max: 10000 }) ?? 1;
      let profile: ReferenceProfile;
      const refArg = str(args, 'reference');
      if (refArg && refArg.endsWith('.json')) profile = loadReference(refArg);
      else if (refArg) {
        if (!existsSync(refArg)) throw new InputError('FILE_UNREADABLE', `${refArg}: no such reference manifest or dataset`, { file: refArg });
        const { dataset } = await load(refArg);
        const rows = rowsOfSplit(dataset, str(args, 'split'), refArg);
        profile = await buildReference(model, dataset, { source: refArg, ...(rows && { indices: rows }), onProgress: bar.callback });
      } else profile = loadReference(modelDir);
      const onnx = join(modelDir, 'model.onnx');
      if (profile.modelSha256 && existsSync(onnx) && sha256File(onnx) !== profile.modelSha256) {
        throw new InputError('MONITOR_REFERENCE_STALE', `${refArg ?? join(modelDir, 'monitor-reference.json')}: built for a different model.onnx (SHA-256 differs); rebuild it with \`radml monitor reference\``);
      }
      const { dataset, skipped } = await load(data);
      const order = streamOrder(dataset, str(args, 'order-by'), data);
      const obs = await observeDataset(model, dataset, { ood: optionalOod(modelDir), indices: order, onProgress: bar.callback });
      const report = runMonitor(profile, obs, { window, minWindow, budget, ...(step !== undefined && { step }) }, bar.callback);
      bar.stop();
      for (const s of skipped.slice(0, 20)) io.err(`skipped ${s.path}: ${s.reason}`);
      if (skipped.length > 20) io.err(`… and ${skipped.length - 20} more skipped images (not in the stream)`);
      mkdirSync(out, { recursive: true });
      writeJsonAtomic(join(out, 'monitor.json'), report);
      writeFileAtomic(join(out, 'monitor.html'), renderMonitorHtml(report, `Monitoring ${modelDir}`));
      io.out(`${report.n} studies monitored: ${report.drift_detected ? `drift detected, first alarm at row ${report.first_alarm_index}` : 'no drift alarm'}${report.prior_shift.detected ? `; prior (prevalence) shift from row ${report.prior_shift.first_index}` : ''}`);
      for (const a of report.alarms.slice(0, 15)) io.out(`  row ${a.index} [${a.detector} ${a.feature}${a.rule === 'cusum' ? ', CUSUM' : ''}] ${a.message}`);
      if (report.alarms.length > 15) io.out(`  … ${report.alarms.length - 15} more in monitor.json`);
      for (const [c, e] of Object.entries(report.estimated_performance)) {
        const r = report.realized_performance?.[c];
        io.out(`  ${c}: estimated sensitivity ${e.sensitivity?.toFixed(3) ?? 'n/a'}, specificity ${e.specificity?.toFixed(3) ?? 'n/a'}, AUROC ${e.auroc?.toFixed(3) ?? 'n/a'}${r ? ` (realized ${r.sensitivity?.toFixed(3) ?? 'n/a'}, ${r.specificity?.toFixed(3) ?? 'n/a'}, ${r.auroc?.toFixed(3) ?? 'n/a'})` : ''}`);
      }
      io.out(`wrote ${join(out, 'monitor.json')} and ${join(out, 'monitor.html')}`);
      return 0;
    } finally {
      bar.stop();
      await model.release();
    }
  },
};
