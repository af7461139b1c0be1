/**
 * Reading a predictions table (DESIGN.md contract: manifest columns plus `score_<class>`) into binary
 * tasks — one per evaluated class or finding — and the tuning / evaluation row sets.
 */
import { InputError } from '../util/errors.js';
import { parseDecimal, readDecimalCell } from '../util/number.js';
import { METADATA_COLUMNS, ageBand, parseAge } from '../data/manifest.js';
import type { PredictionsTable } from './table.js';

export interface BinaryTask {
  name: string;
  scoreColumn: string;
  /** Per table row: score, NaN when missing (blank, or a missing-value marker such as NaN / NA). */
  scores: Float64Array;
  /** Per table row: 1 positive, 0 negative, -1 uncertain, -2 blank / not labelled, -3 unreadable label. */
  labels: Int8Array;
}

export interface TaskSet {
  labelKind: 'categorical' | 'multilabel';
  labelColumn: string | null;
  positive: string | null;
  tasks: BinaryTask[];
  notes: string[];
}

const NEGATIVE_NAMES = new Set(['normal', 'negative', 'no', 'none', 'absent', 'false', '0', 'no_finding', 'no finding', 'healthy', 'benign', 'control']);

/**
 * Scores of one column. Only decimal numbers are scores: `Number()` would read `0x1F` as 31 and `0b1`
 * as 1 and silently change every metric, so anything that is neither a decimal nor a missing-value
 * marker is an error naming the row, column and value.
 */
export function parseScores(table: PredictionsTable, column: string): Float64Array {
  const cells = table.column(column);
  const out = new Float64Array(table.rowCount).fill(NaN);
  if (!cells) return out;
  for (let i = 0; i < cells.length; i++) {
    const s = cells[i]!;
    const c = readDecimalCell(s);
    if (c.kind === 'number') out[i] = c.value;
    else if (c.kind === 'invalid') {
      throw new InputError(
        'PREDICTIONS_SCORE',
        `${table.file}: line ${table.line(i)}, column "${column}": "${s.length > 40 ? s.slice(0, 40) + '…' : s}" is not a decimal number (scores are written like 0.73 or 7.3e-1; leave the cell empty for a missing score)`,
        { file: table.file },
      );
    }
  }
  return out;
}

function findingValue(s: string): number {
  const v = s.trim();
  if (v === '') return -2;
  const n = parseDecimal(v);
  if (n === 1) return 1;
  if (n === 0) return 0;
  if (n === -1) return -1;
  return -3;
}

export interface TaskOptions {
  labelColumn?: string;
  positive?: string;
  /** Limit multi-label evaluation to these findings. */
  findings?: string[];
}

/**
 * Work out what to evaluate. Categorical (a `label` column or `labelColumn`): the `positive` class, or
 * with two classes and no `positive` the one that is not a "normal"-like name, or every class with a score
 * column one-vs-rest. Multi-label: every finding column that has a `score_<finding>` column.
 */
export function buildTasks(table: PredictionsTable, opts: TaskOptions = {}, file = table.file): TaskSet {
  const header = table.header;
  const scoreCols = header.filter((h) => h.startsWith('score_'));
  if (scoreCols.length === 0) throw new InputError('PREDICTIONS_NO_SCORES', `${file}: no score_<class> column found (the predictions contract needs one per class or finding)`, { file });
  const notes: string[] = [];
  const labelColumn = opts.labelColumn ?? (header.includes('label') ? 'label' : undefined);
  if (opts.labelColumn && !header.includes(opts.labelColumn)) throw new InputError('PREDICTIONS_LABEL', `${file}: label column "${opts.labelColumn}" not found (columns: ${header.join(', ')})`, { file });
  if (labelColumn) {
    const labelCells = table.column(labelColumn)!;
    const classes = [...new Set(labelCells.map((v) => v.trim()).filter((v) => v !== ''))].sort();
    const withScores = classes.filter((c) => header.includes(`score_${c}`));
    let chosen: string[];
    let positive: string | null = opts.positive ?? null;
    if (positive !== null) {
      if (!header.includes(`score_${positive}`)) throw new InputError('PREDICTIONS_POSITIVE', `${file}: --positive "${positive}" has no score column "score_${positive}" (score columns: ${scoreCols.join(', ')})`, { file });
      if (!classes.includes(positive)) notes.push(`The positive class "${positive}" never occurs in column "${labelColumn}"; every labelled case is a negative.`);
      chosen = [positive];
    } else if (classes.length <= 2 && withScores.length >= 1) {
      const candidates = withScores.filter((c) => !NEGATIVE_NAMES.has(c.toLowerCase()));
      positive = candidates.length ? candidates[candidates.length - 1]! : withScores[withScores.length - 1]!;
      chosen = [positive];
      notes.push(`No --positive given: "${positive}" is taken as the positive class (score column score_${positive}).`);
    } else {
      chosen = withScores;
      if (chosen.length === 0) {
        // Score columns for classes that never occur still define one-vs-rest tasks.
        chosen = scoreCols.map((c) => c.slice(6));
      }
      notes.push(`No --positive given and ${classes.length} classes: each class with a score column is evaluated one-vs-rest.`);
    }
    const tasks = chosen.map((c) => {
      const labels = new Int8Array(table.rowCount);
      labelCells.forEach((cell, i) => {
        const v = cell.trim();
        labels[i] = v === '' ? -2 : v === c ? 1 : 0;
      });
      return { name: c, scoreColumn: `score_${c}`, scores: parseScores(table, `score_${c}`), labels };
    });
    return { labelKind: 'categorical', labelColumn, positive, tasks, notes };
  }
  let findings = scoreCols.map((c) => c.slice(6)).filter((f) => header.includes(f) && !METADATA_COLUMNS.has(f));
  if (opts.findings) {
    for (const f of opts.findings) if (!findings.includes(f)) throw new InputError('PREDICTIONS_FINDING', `${file}: finding "${f}" needs both a "${f}" column and a "score_${f}" column`, { file });
    findings = opts.findings;
  }
  if (findings.length === 0) {
    throw new InputError(
      'PREDICTIONS_NO_LABELS',
      `${file}: no label to evaluate against — there is no "label" column (pass --label <column>) and no finding column matching a score column (${scoreCols.join(', ')})`,
      { file },
    );
  }
  const tasks = findings.map((f) => {
    const labels = new Int8Array(table.rowCount);
    table.column(f)!.forEach((cell, i) => (labels[i] = findingValue(cell)));
    return { name: f, scoreColumn: `score_${f}`, scores: parseScores(table, `score_${f}`), labels };
  });
  return { labelKind: 'multilabel', labelColumn: null, positive: null, tasks, notes };
}

/** Normalised split of each row ('' when absent). */
export function rowSplits(table: PredictionsTable): string[] {
  const cells = table.column('split');
  if (!cells) return new Array<string>(table.rowCount).fill('');
  // Split columns hold a handful of values: normalise each distinct one once.
  const norm = new Map<string, string>();
  return cells.map((cell) => {
    let s = norm.get(cell);
    if (s === undefined) {
      s = cell.trim().toLowerCase();
      if (s === 'valid' || s === 'validation') s = 'val';
      norm.set(cell, s);
    }
    return s;
  });
}

export interface RowDesign {
  tuningRows: number[];
  evaluationRows: number[];
  tuningLabel: string;
  evaluationLabel: string;
  sameData: boolean;
  notes: string[];
  warnings: string[];
}

/**
 * Tuning rows (thresholds and recalibration are fitted here) and evaluation rows (everything reported).
 * Defaults: tune on `val` when a split column has it; evaluate on `test`, else on every row that is
 * neither tuning nor `train`. With `sameData`, both are the evaluation rows and the report says so.
 */
export function designRows(table: PredictionsTable, opts: { tuneSplit?: string; evalSplit?: string; sameData?: boolean } = {}, file = table.file): RowDesign {
  const splits = rowSplits(table);
  const present = new Set(splits.filter((s) => s !== ''));
  const notes: string[] = [];
  const warnings: string[] = [];
  const all = splits.map((_, i) => i);
  const tuneSplit = opts.tuneSplit ?? (present.has('val') ? 'val' : undefined);
  if (opts.tuneSplit && !present.has(opts.tuneSplit.toLowerCase()))
    throw new InputError('PREDICTIONS_SPLIT', `${file}: --tune-split "${opts.tuneSplit}" matches no row (splits present: ${[...present].join(', ') || 'none — there is no split column'})`, { file });
  if (opts.evalSplit && !present.has(opts.evalSplit.toLowerCase()))
    throw new InputError('PREDICTIONS_SPLIT', `${file}: --eval-split "${opts.evalSplit}" matches no row (splits present: ${[...present].join(', ') || 'none'})`, { file });
  const tuneRows = tuneSplit ? all.filter((i) => splits[i] === tuneSplit.toLowerCase()) : [];
  let evalRows: number[];
  let evalLabel: string;
  if (opts.evalSplit) {
    evalRows = all.filter((i) => splits[i] === opts.evalSplit!.toLowerCase());
    evalLabel = `split = ${opts.evalSplit}`;
  } else if (present.has('test') && tuneSplit !== 'test') {
    evalRows = all.filter((i) => splits[i] === 'test');
    evalLabel = 'split = test';
  } else {
    const notTune = all.filter((i) => !tuneSplit || splits[i] !== tuneSplit.toLowerCase());
    const notTrain = notTune.filter((i) => splits[i] !== 'train');
    if (notTrain.length > 0) {
      evalRows = notTrain;
      evalLabel = tuneSplit ? `all rows not in split ${tuneSplit} or train` : present.size ? 'all rows not in split train' : 'all rows';
    } else {
      evalRows = notTune;
      evalLabel = tuneSplit ? `all rows not in split ${tuneSplit}` : 'all rows';
      if (notTune.length && present.has('train')) warnings.push('Only training rows are left to evaluate on: these results are in-sample and will overstate performance.');
    }
  }
  if (evalRows.length === 0) throw new InputError('PREDICTIONS_EMPTY', `${file}: no rows to evaluate (${evalLabel})`, { file });
  const isEval = new Uint8Array(splits.length);
  for (const i of evalRows) isEval[i] = 1;
  const overlap = tuneRows.length > 0 && tuneRows.some((i) => isEval[i] === 1);
  if (opts.sameData || overlap) {
    notes.push(
      opts.sameData
        ? 'Thresholds and recalibration were chosen on the same rows they are reported on (--same-data): operating-point metrics are optimistic.'
        : 'The tuning and evaluation splits overlap, so thresholds and recalibration were chosen on the rows they are reported on: operating-point metrics are optimistic.',
    );
    return { tuningRows: evalRows, evaluationRows: evalRows, tuningLabel: `${evalLabel} (same data as evaluation)`, evaluationLabel: evalLabel, sameData: true, notes, warnings };
  }
  if (tuneRows.length === 0) {
    warnings.push('No tuning split (no "val" rows and no --tune-split): only the fixed threshold is reported and no recalibration is fitted. Pass --tune-split <split>, or --same-data to choose thresholds on the evaluation rows (optimistic).');
  }
  return { tuningRows: tuneRows, evaluationRows: evalRows, tuningLabel: tuneSplit ? `split = ${tuneSplit}` : 'none', evaluationLabel: evalLabel, sameData: false, notes, warnings };
}

/**
 * Subgroup value of each row for a column; numeric `age` becomes an age band, and `age_band` is derived
 * from `age` when the table has no such column. Intersections are "a × b" column names.
 */
export function groupValues(table: PredictionsTable, column: string): (string | undefined)[] | null {
  const parts = column.split(' × ');
  if (parts.length > 1) {
    const each = parts.map((p) => groupValues(table, p));
    if (each.some((e) => e === null)) return null;
    return Array.from({ length: table.rowCount }, (_, i) => {
      const vs = each.map((e) => e![i]);
      return vs.some((v) => v === undefined) ? undefined : vs.join(' & ');
    });
  }
  const ageFrom = (s: string) => {
    const t = s.trim();
    if (t === '' || !(/^\d+(\.\d+)?$/.test(t) || /^\d{3}[DWMY]$/i.test(t))) return undefined;
    return ageBand(parseAge(t));
  };
  if (column === 'age_band' && !table.header.includes('age_band')) {
    const ages = table.column('age');
    if (!ages) return null;
    return ages.map(ageFrom);
  }
  const cells = table.column(column);
  if (!cells) return null;
  if (column === 'age') return cells.map(ageFrom);
  return cells.map((c) => {
    const v = c.trim();
    return v === '' ? undefined : v;
  });
}
