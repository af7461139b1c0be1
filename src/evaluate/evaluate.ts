/**
 * `evaluatePredictions`: the whole evaluation of a predictions table — per class or finding, overall,
 * per subgroup and per site, plus macro/micro averages, a paired model comparison and the
 * recalibration file. Degenerate inputs give messages and nulls, never NaN and never a crash.
 */
import type { CsvTable } from '../util/csv.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { type BinaryEvaluation, type Labelled, evaluateBinary, isProbability, thresholdFor } from './binary.js';
import type { CalibrationFile } from './calibration.js';
import { discordant, mcnemar, pairedDelong } from './compare.js';
import { aurocDelong } from './discrimination.js';
import { type BinaryTask, buildTasks, designRows, groupValues, parseScores } from './inputs.js';
import { type PredictionsTable, tableFromCsv } from './table.js';
import { type ThresholdRule, describeRule, ruleId } from './operating-point.js';
import { auroc, averagePrecision, rankScores } from './ranking.js';
import { type ClassResult, type Comparison, type EvaluationResults, evaluationResultsSchema } from './schema.js';
import { siteValidation } from './sites.js';
import { disparities, groupResult, subgroupFlags, subset } from './subgroups.js';
import { fin, gatherBytes, gatherFloat } from './stats.js';

export interface EvaluateOptions {
  /** Name shown for the input (a file's base name; never a full path with patient data). */
  source?: string;
  labelColumn?: string;
  positive?: string;
  findings?: string[];
  /** Subgroup columns, e.g. ['sex', 'age_band', 'site']. `age` is banded. */
  groups?: string[];
  /** Also evaluate every pair of group columns crossed. */
  intersections?: boolean;
  costs?: { fn: number; fp: number };
  /** Deployment prevalence: PPV/NPV are recomputed for it, and it enters the minimum-cost threshold. */
  prevalence?: number;
  tuneSplit?: string;
  evalSplit?: string;
  sameData?: boolean;
  fixedThreshold?: number;
  targetSensitivity?: number;
  targetSpecificity?: number;
  /** Which rule the headline `operating_point` uses; default: cost if costs given, else Youden. */
  primary?: 'fixed' | 'sensitivity' | 'specificity' | 'youden' | 'cost';
  bootstrap?: number;
  seed?: number;
  maxFpr?: number;
  minGroupN?: number;
  calibrationBins?: number;
  /** Two score columns to compare on the same cases, e.g. ['score_pneumonia', 'score_pneumonia_v2']. */
  compare?: [string, string];
  /** Provenance (e.g. the parsed model.json) carried into results for the model card. */
  provenance?: Record<string, unknown>;
}

export interface EvaluationOutput {
  results: EvaluationResults;
  calibration: CalibrationFile;
}

/** Labelled subset of rows for one task: drops non-0/1 labels and non-numeric scores, counting why. */
function labelled(task: BinaryTask, rows: number[], scores: Float64Array = task.scores, rejected?: Uint8Array): { data: Labelled; reasons: Record<string, number> } {
  const reasons: Record<string, number> = {};
  const keep: number[] = [];
  const bump = (k: string) => (reasons[k] = (reasons[k] ?? 0) + 1);
  for (const i of rows) {
    const l = task.labels[i]!;
    if (l === -1) bump('uncertain label (-1)');
    else if (l === -2) bump('blank label');
    else if (l === -3) bump('unreadable label');
    // `radml predict` leaves a gate-rejected image's scores blank and says so in `rejected`.
    else if (!Number.isFinite(scores[i]!)) bump(rejected?.[i] ? 'rejected by the out-of-distribution gate' : 'missing or non-numeric score');
    else keep.push(i);
  }
  return {
    data: { scores: gatherFloat(scores, keep), labels: gatherBytes(task.labels, keep), rows: keep },
    reasons,
  };
}

function rulesFor(opts: EvaluateOptions, hasTuning: boolean): { rules: ThresholdRule[]; primary: ThresholdRule } {
  const fixed: ThresholdRule = { kind: 'fixed', threshold: opts.fixedThreshold ?? 0.5 };
  if (!hasTuning) return { rules: [fixed], primary: fixed };
  const rules: ThresholdRule[] = [
    fixed,
    { kind: 'youden' },
    { kind: 'sensitivity', target: opts.targetSensitivity ?? 0.9 },
    { kind: 'specificity', target: opts.targetSpecificity ?? 0.9 },
  ];
  if (opts.costs) rules.push({ kind: 'cost', fn: opts.costs.fn, fp: opts.costs.fp, ...(opts.prevalence !== undefined ? { prevalence: opts.prevalence } : {}) });
  const want = opts.primary ?? (opts.costs ? 'cost' : opts.targetSensitivity !== undefined ? 'sensitivity' : opts.targetSpecificity !== undefined ? 'specificity' : opts.fixedThreshold !== undefined ? 'fixed' : 'youden');
  const primary = rules.find((r) => r.kind === want);
  if (!primary) throw new InputError('EVALUATE_RULE', `operating-point rule "${want}" needs ${want === 'cost' ? '--costs' : 'its target'}`);
  return { rules, primary };
}

const emptyEstimate = { estimate: null, ci95: null };

/** A minimal, valid class result for a task whose evaluation threw, so one bad task never sinks the run. */
function failedClass(task: BinaryTask, message: string, maxFpr: number): ClassResult {
  const op = {
    rule: 'none', rule_description: 'not evaluated', chosen_on: 'not evaluated', threshold: null, confusion: { tp: 0, fp: 0, tn: 0, fn: 0 },
    sensitivity: emptyEstimate, specificity: emptyEstimate, ppv: emptyEstimate, npv: emptyEstimate, accuracy: emptyEstimate,
    balanced_accuracy: emptyEstimate, f1: emptyEstimate, mcc: emptyEstimate, cohen_kappa: emptyEstimate,
    false_positive_rate: emptyEstimate, false_negative_rate: emptyEstimate,
  };
  return {
    name: task.name, score_column: task.scoreColumn, status: 'degenerate', messages: [`Evaluation of this class failed: ${message}`],
    n: 0, n_positive: 0, n_negative: 0, n_excluded: 0, excluded_reasons: {}, prevalence: null,
    auroc: { ...emptyEstimate, se: null, ci95_bootstrap: null, bootstrap_resamples: 0 }, auprc: emptyEstimate,
    partial_auroc: { max_fpr: maxFpr, raw: null, standardized: null }, brier: null, log_loss: null, ece: null, mce: null,
    calibration: { slope: null, intercept: null, bins: [] }, operating_point: op, operating_points: [op], decision_curve: [],
    curves: { roc: [], roc_band: null, pr: [] }, recalibration: {}, groups: {}, disparities: {}, flags: [], sites: null,
    fit_for_use: { fit: false, reason: 'the evaluation of this class failed' },
  };
}

/**
 * Fit for use: AUROC measured and its 95% interval (DeLong, else bootstrap) entirely above 0.5. A
 * finding the model does not rank better than chance must not be shipped with a threshold as if it did.
 * @example fitForUse(results.classes['nodule']) // { fit: false, reason: 'AUROC 0.54 (95% CI 0.45–0.63) includes 0.5: …' }
 */
export function fitForUse(c: Pick<ClassResult, 'auroc'>): { fit: boolean; reason: string | null } {
  const a = c.auroc;
  if (a.estimate === null) return { fit: false, reason: 'AUROC could not be measured on the evaluation rows' };
  const interval = a.ci95 ?? a.ci95_bootstrap;
  const f = (x: number) => x.toFixed(2);
  if (!interval) return { fit: false, reason: `AUROC ${f(a.estimate)} has no confidence interval (too few cases to tell it from chance)` };
  if (interval[0] <= 0.5) {
    return { fit: false, reason: `AUROC ${f(a.estimate)} (95% CI ${f(interval[0])}–${f(interval[1])}) includes 0.5: on these data the model does not rank cases better than chance` };
  }
  return { fit: true, reason: null };
}

/**
 * Group columns that split the rows identically (site and manufacturer when every site has its own
 * scanner): each later one points at the first (`primaryOf`), and the first gets, per value, the names
 * of the coinciding values (`aliases`), so one shortfall is flagged once and not once per column.
 */
function coincidingColumns(cols: string[], values: Map<string, (string | undefined)[]>, rows: number[]): { primaryOf: Map<string, string>; aliases: Map<string, Record<string, string>> } {
  const primaryOf = new Map<string, string>();
  const aliases = new Map<string, Record<string, string>>();
  const signature = (col: string): Int32Array => {
    const vals = values.get(col)!;
    const ids = new Map<string | undefined, number>();
    return Int32Array.from(rows, (r) => {
      const v = vals[r];
      let id = ids.get(v);
      if (id === undefined) ids.set(v, (id = ids.size));
      return id;
    });
  };
  const sigs = cols.map(signature);
  const same = (a: Int32Array, b: Int32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  cols.forEach((col, j) => {
    for (let i = 0; i < j; i++) {
      const first = cols[i]!;
      if (primaryOf.has(first) || !same(sigs[i]!, sigs[j]!)) continue;
      primaryOf.set(col, first);
      const a = aliases.get(first) ?? {};
      const fv = values.get(first)!;
      const cv = values.get(col)!;
      for (const r of rows) {
        const key = fv[r];
        const alias = cv[r];
        if (key === undefined || alias === undefined) continue;
        const text = `${col} = ${alias}`;
        if (!(a[key] ?? '').split(', ').includes(text)) a[key] = a[key] ? `${a[key]}, ${text}` : text;
      }
      aliases.set(first, a);
      break;
    }
  });
  return { primaryOf, aliases };
}

/**
 * Evaluate a predictions table (DESIGN.md contract) end to end.
 * @example
 * const { results, calibration } = evaluatePredictions(readCsv('preds.csv'), { groups: ['sex', 'site'], costs: { fn: 10, fp: 1 } });
 * results.classes['pneumonia'].auroc // { estimate, ci95, … }
 */
export function evaluatePredictions(input: CsvTable | PredictionsTable, opts: EvaluateOptions = {}, onProgress?: ProgressCallback): EvaluationOutput {
  const source = opts.source ?? ('rows' in input ? 'predictions' : input.file);
  const table: PredictionsTable = 'rows' in input ? tableFromCsv(input, source) : input;
  const taskSet = buildTasks(table, { ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}), ...(opts.positive ? { positive: opts.positive } : {}), ...(opts.findings ? { findings: opts.findings } : {}) }, source);
  const design = designRows(table, { ...(opts.tuneSplit ? { tuneSplit: opts.tuneSplit } : {}), ...(opts.evalSplit ? { evalSplit: opts.evalSplit } : {}), ...(opts.sameData ? { sameData: true } : {}) }, source);
  const bootstrap = opts.bootstrap ?? 2000;
  const seed = opts.seed ?? 1;
  const maxFpr = opts.maxFpr ?? 0.2;
  const minN = opts.minGroupN ?? 30;
  const nBins = opts.calibrationBins ?? 10;
  const { rules, primary } = rulesFor(opts, design.tuningRows.length > 0);
  const messages: EvaluationResults['messages'] = [];
  for (const t of taskSet.notes) messages.push({ level: 'info', text: t });
  for (const t of design.notes) messages.push({ level: 'warning', text: t });
  for (const t of design.warnings) messages.push({ level: 'warning', text: t });
  if (opts.prevalence !== undefined && !(opts.prevalence > 0 && opts.prevalence < 1)) throw new InputError('EVALUATE_PREVALENCE', `--prevalence must be between 0 and 1 (exclusive), got ${opts.prevalence}`);

  // Group columns: requested ones, plus site when there is one (external validation), plus intersections.
  let groupCols = [...(opts.groups ?? [])];
  const siteVals = groupValues(table, 'site');
  const valid: string[] = [];
  for (const c of groupCols) {
    if (groupValues(table, c) === null) messages.push({ level: 'warning', text: `Group column "${c}" is not in the predictions${c === 'age_band' ? ' (and there is no age column to band)' : ''}; skipped.` });
    else valid.push(c);
  }
  groupCols = valid;
  if (opts.intersections) {
    const base = [...groupCols];
    for (let i = 0; i < base.length; i++) for (let j = i + 1; j < base.length; j++) groupCols.push(`${base[i]} × ${base[j]}`);
  }
  const groupColumnValues = new Map(groupCols.map((c) => [c, groupValues(table, c)!]));

  const classes: Record<string, ClassResult> = {};
  const calibration: CalibrationFile = { format: 'radml.calibration/1', created: new Date().toISOString(), fitted_on: { split: design.tuningLabel, n: design.tuningRows.length }, classes: {} };
  const evaluated: { task: BinaryTask; data: Labelled }[] = [];
  const rejectedCells = table.column('rejected');
  const rejectedRows = rejectedCells ? Uint8Array.from(rejectedCells, (v) => (/^(1|true|yes)$/i.test(v.trim()) ? 1 : 0)) : undefined;
  taskSet.tasks.forEach((task, ti) => {
    try {
      const tune = labelled(task, design.tuningRows).data;
      const { data, reasons } = labelled(task, design.evaluationRows, task.scores, rejectedRows);
      evaluated.push({ task, data });
      const stage = taskSet.tasks.length > 1 ? `bootstrap ${ti + 1}/${taskSet.tasks.length}` : 'bootstrap';
      const be: BinaryEvaluation = evaluateBinary(tune, data, {
        rules,
        primaryRule: primary,
        tuningLabel: design.tuningLabel,
        ...(opts.prevalence !== undefined ? { deploymentPrevalence: opts.prevalence } : {}),
        bootstrap,
        seed: seed + ti,
        maxFpr,
        calibrationBins: nBins,
        ...(onProgress ? { onProgress } : {}),
        progressStage: stage,
      });
      const nExcluded = Object.values(reasons).reduce((a, b) => a + b, 0);
      const res: ClassResult = {
        name: task.name,
        score_column: task.scoreColumn,
        ...be.result,
        n_excluded: nExcluded,
        excluded_reasons: reasons,
        groups: {},
        disparities: {},
        flags: [],
        sites: null,
      };
      if (nExcluded > 0) res.messages.push(`${nExcluded} evaluation row(s) excluded: ${Object.entries(reasons).map(([k, v]) => `${v} ${k}`).join(', ')}.`);
      const probs = isProbability(data.scores);
      const chosenOn = res.operating_point.chosen_on;
      let citl: number | null = null;
      if (data.scores.length > 0) {
        let d = 0;
        for (let i = 0; i < data.scores.length; i++) d += data.scores[i]! - data.labels[i]!;
        citl = d / data.scores.length;
      }
      const { primaryOf, aliases } = coincidingColumns(groupCols, groupColumnValues, data.rows);
      for (const col of groupCols) {
        const vals = groupColumnValues.get(col)!;
        const names = [...new Set(data.rows.map((r) => vals[r]).filter((v): v is string => v !== undefined))].sort();
        const groups: Record<string, ReturnType<typeof groupResult>> = {};
        for (const v of names) groups[v] = groupResult(subset(data, (row) => vals[row] === v), primary, be.primaryThreshold, chosenOn, probs, minN, opts.prevalence);
        const missing = data.rows.filter((r) => vals[r] === undefined).length;
        if (missing > 0) res.messages.push(`${missing} row(s) have no value for "${col}" and are left out of that subgroup analysis.`);
        res.groups[col] = groups;
        res.disparities[col] = disparities(groups);
        const primaryCol = primaryOf.get(col);
        if (primaryCol === undefined) res.flags.push(...subgroupFlags(col, groups, { ...res, calibration_in_the_large: citl }, minN, 0.05, aliases.get(col)));
        else res.flags.push({ severity: 'info', text: `In these evaluation rows "${col}" coincides with "${primaryCol}" (each ${col} value is exactly one ${primaryCol} value), so its findings are reported once, under ${primaryCol}.` });
      }
      if (siteVals) {
        const sv = siteValidation(data, siteVals, design.tuningRows.length > 0 ? primary : { kind: 'youden' }, minN);
        res.sites = sv;
      }
      res.fit_for_use = fitForUse(res);
      classes[task.name] = res;
      calibration.classes[task.name] = {
        score_column: task.scoreColumn,
        n: tune.scores.length,
        n_positive: tune.labels.reduce((a, b) => a + b, 0),
        recommended: be.recommended,
        maps: be.maps,
        evaluation: Object.fromEntries(Object.entries(res.recalibration).map(([k, v]) => [k, v])),
        ...(be.calibrationNote ? { note: be.calibrationNote } : {}),
      };
    } catch (e) {
      if (e instanceof InputError) throw e;
      classes[task.name] = failedClass(task, errorMessage(e), maxFpr);
      messages.push({ level: 'warning', text: `Class "${task.name}" could not be evaluated: ${errorMessage(e)}` });
    }
  });

  // Macro / micro averages when several classes or findings are evaluated.
  let averages: EvaluationResults['averages'] = null;
  if (taskSet.tasks.length > 1) {
    const ok = Object.values(classes).filter((c) => c.auroc.estimate !== null);
    const mean = (xs: (number | null)[]) => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    let total = 0;
    for (const e of evaluated) total += e.data.scores.length;
    const pooledS = new Float64Array(total);
    const pooledL = new Uint8Array(total);
    let k = 0;
    for (const e of evaluated) {
      pooledS.set(e.data.scores, k);
      pooledL.set(e.data.labels, k);
      k += e.data.scores.length;
    }
    const pr = rankScores(pooledS, pooledL);
    const both = pr.nPositive > 0 && pr.nNegative > 0;
    averages = {
      macro_auroc: mean(ok.map((c) => c.auroc.estimate)),
      micro_auroc: both ? fin(auroc(pr)) : null,
      macro_auprc: mean(ok.map((c) => c.auprc.estimate)),
      micro_auprc: pr.nPositive > 0 ? fin(averagePrecision(pr)) : null,
      classes_averaged: ok.map((c) => c.name),
    };
    const skipped = Object.values(classes).filter((c) => c.auroc.estimate === null).map((c) => c.name);
    if (skipped.length) messages.push({ level: 'info', text: `Left out of the macro average (AUROC undefined): ${skipped.join(', ')}.` });
  }

  const comparison = opts.compare ? compareModels(table, taskSet.tasks[0]!, opts.compare, design, primary, source) : null;

  const results: EvaluationResults = {
    format: 'radml.evaluation/1',
    created: new Date().toISOString(),
    input: {
      predictions: source,
      n_rows: table.rowCount,
      label_kind: taskSet.labelKind,
      label_column: taskSet.labelColumn,
      positive: taskSet.positive,
      score_columns: taskSet.tasks.map((t) => t.scoreColumn),
    },
    design: {
      tuning: design.tuningLabel,
      evaluation: design.evaluationLabel,
      n_tuning: design.tuningRows.length,
      n_evaluation: design.evaluationRows.length,
      same_data: design.sameData,
      primary_rule: describeRule(primary),
      costs: opts.costs ?? null,
      deployment_prevalence: opts.prevalence ?? null,
      bootstrap_resamples: bootstrap,
      seed,
      min_group_n: minN,
      groups: groupCols,
      max_fpr: maxFpr,
      calibration_bins: nBins,
    },
    classes,
    averages,
    comparison,
    messages,
    provenance: opts.provenance ?? {},
  };
  const checked = evaluationResultsSchema.safeParse(results);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`internal: evaluation results do not match their schema at ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return { results: checked.data, calibration };
}

/** Paired comparison of two score columns against the first task's labels. */
function compareModels(table: PredictionsTable, task: BinaryTask, cols: [string, string], design: ReturnType<typeof designRows>, rule: ThresholdRule, source: string): Comparison {
  for (const c of cols) if (!table.header.includes(c)) throw new InputError('EVALUATE_COMPARE', `${source}: --compare column "${c}" not found (score columns: ${table.header.filter((h) => h.startsWith('score_')).join(', ')})`);
  const sa = parseScores(table, cols[0]);
  const sb = parseScores(table, cols[1]);
  const bothFinite = (rows: number[]) => rows.filter((i) => Number.isFinite(sa[i]!) && Number.isFinite(sb[i]!) && (task.labels[i] === 0 || task.labels[i] === 1));
  const evalRows = bothFinite(design.evaluationRows);
  const tuneRows = bothFinite(design.tuningRows);
  const labels = gatherBytes(task.labels, evalRows);
  const A = gatherFloat(sa, evalRows);
  const B = gatherFloat(sb, evalRows);
  const messages: string[] = [];
  const da = aurocDelong(A, labels);
  const db = aurocDelong(B, labels);
  const P = labels.reduce((s, v) => s + v, 0);
  const both = P > 0 && P < labels.length;
  const d = both ? pairedDelong(A, B, labels) : null;
  if (!both) messages.push('The paired DeLong test needs positives and negatives in the evaluation rows.');
  const tl = gatherBytes(task.labels, tuneRows);
  const tA: Labelled = { scores: gatherFloat(sa, tuneRows), labels: tl, rows: tuneRows };
  const tB: Labelled = { scores: gatherFloat(sb, tuneRows), labels: tl, rows: tuneRows };
  const thA = thresholdFor(rule, tA).threshold;
  const thB = thresholdFor(rule, tB).threshold;
  const mc: Comparison['mcnemar'] = [];
  if (thA !== null && thB !== null) {
    const pa = Uint8Array.from(A, (s) => (s >= thA ? 1 : 0));
    const pb = Uint8Array.from(B, (s) => (s >= thB ? 1 : 0));
    const sets: [Comparison['mcnemar'][number]['cases'], string, (i: number) => boolean][] = [
      ['all', 'accuracy', () => true],
      ['positives', 'sensitivity', (i) => labels[i] === 1],
      ['negatives', 'specificity', (i) => labels[i] === 0],
    ];
    for (const [cases, measure, inc] of sets) {
      const dc = discordant(pa, pb, labels, inc);
      const m = mcnemar(dc.aOnly, dc.bOnly, dc.n);
      mc.push({ cases, measure, n: dc.n, ...m });
    }
  } else messages.push('McNemar tests need a threshold for both models; none could be chosen on the tuning rows.');
  return {
    class_name: task.name,
    score_a: cols[0],
    score_b: cols[1],
    n: evalRows.length,
    auroc_a: { estimate: da.estimate, ci95: da.ci95 },
    auroc_b: { estimate: db.estimate, ci95: db.ci95 },
    delong: d ? { difference: d.difference, ci95: d.ci95, z: d.z, p_value: d.p_value, correlation: d.correlation } : { difference: null, ci95: null, z: null, p_value: null, correlation: null },
    operating_points: { rule: ruleId(rule), threshold_a: fin(thA), threshold_b: fin(thB) },
    mcnemar: mc,
    messages,
  };
}
