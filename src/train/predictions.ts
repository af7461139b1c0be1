/**
 * The predictions contract (DESIGN.md): every manifest column, then `score_<class>` (probability)
 * per class or finding, one row per scored image in manifest order.
 */
import type { Dataset } from '../data/dataset.js';
import type { CsvCell } from '../util/csv.js';

export interface PredictionsTable {
  header: string[];
  rows: Record<string, CsvCell>[];
}

/** Internal columns of the dataset cache that are not the user's manifest. */
const INTERNAL = new Set(['cache_index']);

/**
 * @example const t = predictionsTable(dataset, ['normal', 'pneumonia'], probs); writeCsv('preds.csv', t.header, t.rows);
 */
export function predictionsTable(ds: Dataset, classes: string[], probs: Float32Array): PredictionsTable {
  const scoreCols = classes.map((c) => `score_${c}`);
  const scoreSet = new Set(scoreCols);
  // Earlier score columns with the same names (re-scoring a predictions file) are replaced.
  const base = ds.manifest.header.filter((h) => !INTERNAL.has(h) && !scoreSet.has(h));
  const k = classes.length;
  const rows = ds.manifest.records.map((r, i) => {
    const row: Record<string, CsvCell> = {};
    for (const h of base) row[h] = r.columns[h] ?? '';
    scoreCols.forEach((c, j) => (row[c] = Number(probs[i * k + j]!.toPrecision(7))));
    return row;
  });
  return { header: [...base, ...scoreCols], rows };
}
