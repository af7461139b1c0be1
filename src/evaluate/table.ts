/**
 * A predictions table held by column. `radml evaluate` reads tables of a million rows: one object per
 * row (util/csv's `CsvTable`) costs several hundred bytes a row; here a column of few distinct values
 * costs a pointer a row, any other column is re-read from the text only when asked for, and columns
 * nobody asks for (ids, paths) cost nothing. Short rows are an error here, not padded: a row that lost
 * a cell would otherwise be read with an empty score or label and silently change the results.
 */
import { readFileSync } from 'node:fs';
import type { CsvTable } from '../util/csv.js';
import { InputError } from '../util/errors.js';

export interface PredictionsTable {
  /** Column names in file order. */
  header: string[];
  rowCount: number;
  /** The cells of one column (trimmed of nothing; '' for an empty cell), or undefined when absent. */
  column(name: string): readonly string[] | undefined;
  /** 1-based line of the file where row `i` starts (the header is line 1), for messages. */
  line(i: number): number;
  /** The file name shown in messages. */
  file: string;
}

/**
 * View a row-object `CsvTable` (util/csv) as a predictions table.
 * @example tableFromCsv(parseCsv('label,score_x\n1,0.4\n'), 'preds.csv').column('score_x') // ['0.4']
 */
export function tableFromCsv(t: CsvTable, file = 'predictions'): PredictionsTable {
  const cache = new Map<string, string[]>();
  return {
    header: t.header,
    rowCount: t.rows.length,
    file,
    column(name) {
      if (!t.header.includes(name)) return undefined;
      let c = cache.get(name);
      if (!c) {
        c = t.rows.map((r) => r[name] ?? '');
        cache.set(name, c);
      }
      return c;
    },
    line: (i) => t.lines[i] ?? i + 2,
  };
}

/** Past this many distinct values a column (ids, scores) stops interning: its values rarely repeat. */
const INTERN_LIMIT = 512;

/**
 * Parse CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF, optional BOM) into columns.
 * Blank lines are skipped; a row with fewer cells than the header, or with extra non-empty cells, is an
 * error naming its line.
 * @example parsePredictions('label,score_a\n1,0.9\n0,0.2\n', 'p.csv').column('score_a') // ['0.9', '0.2']
 */
export function parsePredictions(text: string, file = 'predictions'): PredictionsTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const n = text.length;
  let i = 0;
  let line = 1;
  /** Parse one record starting at i; returns its cells, or null at end of text. Advances i and line. */
  const cells: string[] = [];
  const readRecord = (): boolean => {
    cells.length = 0;
    if (i >= n) return false;
    for (;;) {
      if (text.charCodeAt(i) === 34 /* " */) {
        i++;
        let value = '';
        let from = i;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new InputError('CSV_UNTERMINATED_QUOTE', `${file}: a quoted field on line ${line} is never closed`, { file });
          for (let k = text.indexOf('\n', i); k >= 0 && k < q; k = text.indexOf('\n', k + 1)) line++;
          if (text.charCodeAt(q + 1) === 34) {
            value += text.slice(from, q + 1);
            i = q + 2;
            from = i;
            continue;
          }
          value += text.slice(from, q);
          i = q + 1;
          break;
        }
        // Anything after the closing quote up to the delimiter is kept literally (as util/csv does).
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === 44 || c === 10 || c === 13) break;
          j++;
        }
        if (j > i) value += text.slice(i, j);
        i = j;
        cells.push(value);
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === 44 || c === 10 || c === 13) break;
          j++;
        }
        cells.push(text.slice(i, j));
        i = j;
      }
      if (i >= n) return true;
      const c = text.charCodeAt(i);
      if (c === 44) {
        i++;
        if (i >= n) {
          cells.push('');
          return true;
        }
        continue;
      }
      // End of line.
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      line++;
      return true;
    }
  };
  const isBlank = () => cells.length === 1 && cells[0] === '';
  let headerLine = line;
  do {
    headerLine = line;
    if (!readRecord()) throw new InputError('CSV_EMPTY', `${file}: the file is empty (no header row)`, { file });
  } while (isBlank());
  const header = cells.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, k) => {
    if (h === '') throw new InputError('CSV_HEADER', `${file}: column ${k + 1} of the header (line ${headerLine}) has no name`, { file });
    if (seen.has(h)) throw new InputError('CSV_HEADER', `${file}: column "${h}" appears twice in the header`, { file });
    seen.add(h);
  });
  const width = header.length;
  // Columns with few distinct values (label, split, site, sex) are kept, interned; the others (ids,
  // scores) are dropped once they pass INTERN_LIMIT and re-read from the text when asked for, so a
  // million-row file costs its text plus an offset per row, not a string per cell.
  let cols: (string[] | null)[] = header.map(() => []);
  const intern: (Map<string, string> | null)[] = header.map(() => new Map());
  let starts = new Int32Array(1024);
  let lineOf = new Int32Array(1024);
  let rows = 0;
  for (;;) {
    const start = line;
    const offset = i;
    if (!readRecord()) break;
    if (isBlank()) continue;
    if (cells.length < width) {
      throw new InputError(
        'CSV_ROW_SHORT',
        `${file}: line ${start} has ${cells.length} cell(s) but the header has ${width} (missing: ${header.slice(cells.length).join(', ')}); every row needs a cell per column, empty cells as ",,"`,
        { file },
      );
    }
    if (cells.length > width && cells.slice(width).some((v) => v.trim() !== '')) {
      throw new InputError('CSV_ROW_WIDTH', `${file}: line ${start} has ${cells.length} cells but the header has ${width}`, { file });
    }
    if (rows === starts.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      starts = grow(starts);
      lineOf = grow(lineOf);
    }
    starts[rows] = offset;
    lineOf[rows] = start;
    rows++;
    for (let k = 0; k < width; k++) {
      const col = cols[k];
      if (!col) continue;
      let v = cells[k]!;
      const map = intern[k]!;
      const seenValue = map.get(v);
      if (seenValue !== undefined) v = seenValue;
      else if (map.size < INTERN_LIMIT) map.set(v, v);
      else {
        cols[k] = null;
        intern[k] = null;
        continue;
      }
      col.push(v);
    }
  }
  const index = new Map(header.map((h, k) => [h, k]));
  /** Re-read column k from the text (the row offsets were recorded on the first pass). */
  const reread = (k: number): string[] => {
    const out = new Array<string>(rows);
    for (let r = 0; r < rows; r++) {
      i = starts[r]!;
      line = lineOf[r]!;
      readRecord();
      out[r] = cells[k]!;
    }
    return out;
  };
  return {
    header,
    rowCount: rows,
    file,
    column: (name) => {
      const k = index.get(name);
      if (k === undefined) return undefined;
      return cols[k] ?? reread(k);
    },
    line: (r) => (r < rows ? lineOf[r]! : r + 2),
  };
}

/**
 * Read a predictions CSV from disk by column (see `parsePredictions`).
 * @example readPredictions('predictions.csv').rowCount
 */
export function readPredictions(path: string, file = path): PredictionsTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError('FILE_UNREADABLE', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: path, cause: e });
  }
  return parsePredictions(text, file);
}
