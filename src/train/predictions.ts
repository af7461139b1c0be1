/**
 * The predictions contract (DESIGN.md): every manifest column, then `score_<class>` (probability,
 * calibrated when the model has a calibration) per class or finding, one row per image in manifest
 * order; `raw_score_<class>` (the model's own probability) when the scores are calibrated; and
 * `rejected` / `reason` when the out-of-distribution gate ran (a rejected image has blank scores).
 */
import type { Dataset } from '../data/dataset.js';
import type { CsvCell } from '../util/csv.js';

export interface PredictionsTable {
  header: string[];
  rows: Record<string, CsvCell>[];
}

/** Internal columns of the dataset cache that are not the user's manifest. */
const INTERNAL = new Set(['cache_index']);

export interface PredictionsExtras {
  /** Raw (uncalibrated) probabilities [count, K]: adds raw_score_<class> columns. */
  raw?: Float32Array;
  /** Gate decisions per image: adds `rejected` (0/1) and `reason` columns. */
  checks?: { accepted: boolean; reasons: string[] }[] | null;
}

const cell = (v: number): CsvCell => (Number.isFinite(v) ? Number(v.toPrecision(7)) : '');

/**
 * @example const t = predictionsTable(dataset, ['normal', 'pneumonia'], probs, { raw, checks }); writeCsv('preds.csv', t.header, t.rows);
 */
export function predictionsTable(ds: Dataset, classes: string[], probs: Float32Array, extras: PredictionsExtras = {}): PredictionsTable {
  const scoreCols = classes.map((c) => `score_${c}`);
  const rawCols = extras.raw ? classes.map((c) => `raw_score_${c}`) : [];
  const gateCols = extras.checks ? ['rejected', 'reason'] : [];
  const ours = new Set([...scoreCols, ...rawCols, ...gateCols]);
  // Earlier columns with the same names (re-scoring a predictions file) are replaced.
  const base = ds.manifest.header.filter((h) => !INTERNAL.has(h) && !ours.has(h));
  const k = classes.length;
  const rows = ds.manifest.records.map((r, i) => {
    const row: Record<string, CsvCell> = {};
    for (const h of base) row[h] = r.columns[h] ?? '';
    scoreCols.forEach((c, j) => (row[c] = cell(probs[i * k + j]!)));
    rawCols.forEach((c, j) => (row[c] = cell(extras.raw![i * k + j]!)));
    if (extras.checks) {
      const c = extras.checks[i]!;
      row.rejected = c.accepted ? 0 : 1;
      row.reason = c.reasons.join('; ');
    }
    return row;
  });
  return { header: [...base, ...scoreCols, ...rawCols, ...gateCols], rows };
}
