/** `radml evaluate`: evaluate a predictions CSV and write results.json, report.html, calibration.json, model card and checklists. */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { evaluatePredictions, readPredictions, type EvaluateOptions } from '../evaluate/index.js';
import { type ReportSection, writeEvaluation } from '../report/index.js';
import { saliencySection } from '../explain/report.js';
import { robustnessSection } from '../robustness/report.js';
import { readJsonFile } from '../util/json.js';
import { saveOperatingPoints } from '../train/index.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

/** Parse `fn=10,fp=1` into costs. */
export function parseCosts(s: string): { fn: number; fp: number } {
  const out: Record<string, number> = {};
  for (const part of s.split(',')) {
    const m = /^\s*(fn|fp)\s*=\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*$/i.exec(part);
    if (!m) throw new InputError('CLI_ARGS', `--costs must look like fn=10,fp=1 (got "${s}")`);
    out[m[1]!.toLowerCase()] = Number(m[2]);
  }
  if (out['fn'] === undefined || out['fp'] === undefined) throw new InputError('CLI_ARGS', `--costs needs both fn and fp, e.g. fn=10,fp=1 (got "${s}")`);
  if (out['fn'] === 0 && out['fp'] === 0) throw new InputError('CLI_ARGS', '--costs: fn and fp cannot both be 0');
  return { fn: out['fn'], fp: out['fp'] };
}

function readModelJson(dir: string): Record<string, unknown> {
  const file = join(dir, 'model.json');
  if (!existsSync(file)) throw new InputError('MODEL_JSON_MISSING', `${file}: not found (--model expects a model folder with model.json)`, { file });
  const v = readJsonFile(file, 'MODEL_JSON_INVALID');
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError('MODEL_JSON_INVALID', `${file}: not a JSON object`, { file });
  return v as Record<string, unknown>;
}

export const command: Command = {
  name: 'evaluate',
  summary: 'Evaluate a predictions CSV: metrics with intervals, operating points, calibration, subgroups, sites; writes an HTML report',
  usage: '--predictions <csv> --out <dir> [options]',
  help: `
Reads a predictions CSV (the manifest's columns plus score_<class> per class or finding) and writes to
--out: results.json, report.html (self-contained), calibration.json (recalibration maps for deployment),
model-card.md and checklist.md (CLAIM 2024 and TRIPOD+AI, filled from what is known).

Thresholds and recalibration are fitted on the tuning split (default: "val" when the split column has
it) and reported on the evaluation split (default: "test", else every row that is neither tuning nor
train). --same-data chooses them on the evaluation rows instead; the report then says so.

Scores must be decimal numbers (0.73, 7.3e-1); blank, NaN or NA is a missing score. A class whose
AUROC interval includes 0.5 is reported "not fit for use", and --save-operating-points does not
record its threshold unless --force-unfit is given.

Examples:
  radml evaluate --predictions preds.csv --out eval/ --groups sex,age_band,site --costs fn=10,fp=1 --prevalence 0.05
  radml evaluate --predictions preds.csv --out eval/ --positive pneumonia --compare score_pneumonia,score_pneumonia_v2
`,
  options: {
    predictions: { type: 'string', arg: '<csv>', description: 'predictions CSV (manifest columns plus score_<class>)' },
    'save-operating-points': { type: 'boolean', description: 'with --model: record each class\'s headline threshold (chosen on the tuning split) in model.json for deployment; classes not fit for use (AUROC interval includes 0.5) are left out' },
    'force-unfit': { type: 'boolean', description: 'with --save-operating-points: also record thresholds of classes that are not fit for use' },
    saliency: { type: 'string', arg: '<dir>', description: 'output folder of `radml explain`: adds a saliency section to the report' },
    robustness: { type: 'string', arg: '<dir>', description: 'output folder of `radml stress`: adds a robustness section to the report' },
    out: { type: 'string', arg: '<dir>', description: 'output folder' },
    label: { type: 'string', arg: '<column>', description: 'categorical label column (default: label)' },
    positive: { type: 'string', arg: '<class>', description: 'positive class (score column score_<class>)' },
    findings: { type: 'string', arg: '<a,b,...>', description: 'multi-label: evaluate only these findings' },
    groups: { type: 'string', arg: '<a,b,...>', description: 'subgroup columns, e.g. sex,age_band,site,manufacturer,view (age is banded)' },
    intersections: { type: 'boolean', description: 'also evaluate every pair of group columns crossed' },
    costs: { type: 'string', arg: 'fn=<c>,fp=<c>', description: 'error costs; the headline threshold then minimises expected cost' },
    prevalence: { type: 'string', arg: '<p>', description: 'deployment prevalence for PPV/NPV and the cost rule' },
    'tune-split': { type: 'string', arg: '<split>', description: 'split used to choose thresholds and fit recalibration (default: val if present)' },
    'eval-split': { type: 'string', arg: '<split>', description: 'split reported on (default: test, else all rows not tuning or train)' },
    'same-data': { type: 'boolean', description: 'choose thresholds on the evaluation rows themselves (optimistic; the report says so)' },
    threshold: { type: 'string', arg: '<t>', description: 'fixed threshold (default 0.5)' },
    'target-sensitivity': { type: 'string', arg: '<s>', description: 'target sensitivity rule (default 0.9); makes it the headline rule' },
    'target-specificity': { type: 'string', arg: '<s>', description: 'target specificity rule (default 0.9); makes it the headline rule' },
    primary: { type: 'string', arg: '<rule>', description: 'headline rule: fixed, sensitivity, specificity, youden or cost' },
    compare: { type: 'string', arg: '<score_a,score_b>', description: 'paired comparison of two score columns' },
    model: { type: 'string', arg: '<model-dir>', description: 'model folder whose model.json fills the model card and checklists' },
    bootstrap: { type: 'string', arg: 'N', description: 'bootstrap resamples', default: '2000' },
    seed: { type: 'string', arg: 'N', description: 'random seed', default: '1' },
    'min-group-n': { type: 'string', arg: 'N', description: 'minimum subgroup size for comparisons', default: '30' },
    'max-fpr': { type: 'string', arg: '<f>', description: 'upper FPR for partial AUROC', default: '0.2' },
    title: { type: 'string', arg: '<text>', description: 'report title' },
  },
  async run(args, io) {
    const predictions = requireStr(args, 'predictions', 'evaluate');
    const out = requireStr(args, 'out', 'evaluate');
    const table = readPredictions(predictions);
    const primary = str(args, 'primary');
    if (primary !== undefined && !['fixed', 'sensitivity', 'specificity', 'youden', 'cost'].includes(primary)) throw new InputError('CLI_ARGS', `--primary must be fixed, sensitivity, specificity, youden or cost (got "${primary}")`);
    const compare = list(args, 'compare');
    if (compare && compare.length !== 2) throw new InputError('CLI_ARGS', '--compare takes exactly two score columns, e.g. score_a,score_b');
    const modelDir = str(args, 'model');
    const model = modelDir ? readModelJson(resolve(modelDir)) : undefined;
    const opts: EvaluateOptions = { source: basename(predictions) };
    const set = <K extends keyof EvaluateOptions>(k: K, v: EvaluateOptions[K] | undefined) => {
      if (v !== undefined) opts[k] = v;
    };
    set('labelColumn', str(args, 'label'));
    set('positive', str(args, 'positive'));
    set('findings', list(args, 'findings'));
    set('groups', list(args, 'groups'));
    if (bool(args, 'intersections')) opts.intersections = true;
    const costs = str(args, 'costs');
    if (costs) opts.costs = parseCosts(costs);
    set('prevalence', num(args, 'prevalence', { min: 0, max: 1 }));
    set('tuneSplit', str(args, 'tune-split'));
    set('evalSplit', str(args, 'eval-split'));
    if (bool(args, 'same-data')) opts.sameData = true;
    set('fixedThreshold', num(args, 'threshold'));
    set('targetSensitivity', num(args, 'target-sensitivity', { min: 0, max: 1 }));
    set('targetSpecificity', num(args, 'target-specificity', { min: 0, max: 1 }));
    set('primary', primary as EvaluateOptions['primary']);
    if (compare) opts.compare = [compare[0]!, compare[1]!];
    set('bootstrap', num(args, 'bootstrap', { integer: true, min: 0, max: 100000 }));
    set('seed', num(args, 'seed', { integer: true }));
    set('minGroupN', num(args, 'min-group-n', { integer: true, min: 0 }));
    set('maxFpr', num(args, 'max-fpr', { min: 0.001, max: 1 }));
    if (model) opts.provenance = { model, model_dir: basename(resolve(modelDir!)) };

    const bar = progressBar(io);
    const output = evaluatePredictions(table, opts, bar.callback);
    bar.stop();
    const { results } = output;
    const title = str(args, 'title');
    const extras: Record<string, unknown> = {};
    const extraSections: ReportSection[] = [];
    for (const [flag, file, key, section] of [['saliency', 'explain.json', 'saliency', saliencySection], ['robustness', 'stress.json', 'robustness', robustnessSection]] as const) {
      const dir = str(args, flag);
      if (!dir) continue;
      const path = join(dir, file);
      if (!existsSync(path)) throw new InputError('FILE_UNREADABLE', `${path}: not found; --${flag} takes the --out folder of \`radml ${flag === 'saliency' ? 'explain' : 'stress'}\``, { file: path });
      extras[key] = readJsonFile(path, 'FILE_UNREADABLE');
      extraSections.push(section);
    }
    writeEvaluation(out, output, { ...(title && { title }), ...(extraSections.length && { extraSections, extras }) });

    if (bool(args, 'force-unfit') && !bool(args, 'save-operating-points')) io.err('warning: --force-unfit has no effect without --save-operating-points');
    if (bool(args, 'save-operating-points')) {
      if (!modelDir) throw new InputError('CLI_ARGS', '--save-operating-points needs --model <model-dir>');
      const thresholds: Record<string, number> = {};
      const rules = new Set<string>();
      const force = bool(args, 'force-unfit');
      for (const [name, c] of Object.entries(results.classes)) {
        const op = c.operating_point;
        if (c.fit_for_use && !c.fit_for_use.fit) {
          if (!force) {
            io.err(`warning: ${name} is not fit for use (${c.fit_for_use.reason}); its threshold is not recorded (--force-unfit records it anyway)`);
            continue;
          }
          io.err(`warning: ${name} is not fit for use (${c.fit_for_use.reason}); recording its threshold because of --force-unfit`);
        }
        if (op && typeof op.threshold === 'number' && Number.isFinite(op.threshold)) {
          thresholds[name] = op.threshold;
          rules.add(`${op.rule} (${op.chosen_on})`);
        }
      }
      if (Object.keys(thresholds).length === 0) io.err('no class has an operating point to record (none chosen, or every class not fit for use); model.json left unchanged');
      else {
        saveOperatingPoints(modelDir, thresholds, [...rules].join('; '));
        io.out(`recorded ${Object.keys(thresholds).length} operating point(s) in ${join(modelDir, 'model.json')}`);
      }
    }
    for (const m of results.messages) io.err(`${m.level}: ${m.text}`);
    for (const c of Object.values(results.classes)) {
      const a = c.auroc;
      const op = c.operating_point;
      const f = (x: number | null) => (x === null ? '—' : x.toFixed(3));
      io.out(
        `${c.name}: n=${c.n} (${c.n_positive} positive)  AUROC ${f(a.estimate)}${a.ci95 ? ` [${f(a.ci95[0])}, ${f(a.ci95[1])}]` : ''}  AUPRC ${f(c.auprc.estimate)}  ` +
          `sens ${f(op.sensitivity.estimate)} spec ${f(op.specificity.estimate)} at ${f(op.threshold)} (${op.rule})  Brier ${f(c.brier)}  ECE ${f(c.ece)}`,
      );
      if (c.fit_for_use && !c.fit_for_use.fit) io.out(`  NOT FIT FOR USE: ${c.fit_for_use.reason}`);
      for (const m of c.messages) io.err(`  ${c.name}: ${m}`);
      const concerns = c.flags.filter((x) => x.severity === 'concern');
      for (const fl of concerns) io.out(`  concern: ${fl.text}`);
    }
    io.out(`wrote ${join(out, 'report.html')}, results.json, calibration.json, model-card.md, checklist.md`);
    return 0;
  },
};
