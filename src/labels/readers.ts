/**
 * Reading several readers' labels from CSV, in one of two layouts:
 *
 * - long: one row per (case, reader): `id,reader,<finding>,<finding>,…` (other columns such as
 *   `path` or `patient_id` are carried to the consensus output from the case's first row);
 * - wide: one row per case: `id,<finding>__<reader>,…`, e.g. `Effusion__r1,Effusion__r2` (double
 *   underscore between the finding and the reader name; other columns are carried through).
 *
 * Cells are 1 / 0 / -1 (uncertain) / blank (not read). Missing reads are fine; an invalid cell is
 * an error naming row and column.
 */
import type { FindingValue } from '../data/manifest.js';
import type { CsvTable } from '../util/csv.js';
import { InputError, ManifestError, type ManifestIssue } from '../util/errors.js';

export interface ReaderTable {
  ids: string[];
  readers: string[];
  findings: string[];
  /** ratings.get(finding)[case][reader]: 1 / 0 / -1, or null for no read. */
  ratings: Map<string, FindingValue[][]>;
  /** Columns carried through per case (e.g. path), in input order. */
  extraColumns: string[];
  extra: Record<string, string>[];
}

const VALUES = new Map<string, FindingValue>([['', null], ['1', 1], ['0', 0], ['-1', -1], ['1.0', 1], ['0.0', 0], ['-1.0', -1]]);

export type ReaderFormat = 'long' | 'wide';

/** Which layout a table is in: `reader` column → long; `<finding>__<reader>` columns → wide. */
export function detectReaderFormat(header: readonly string[]): ReaderFormat | null {
  if (header.includes('reader')) return 'long';
  if (header.some((h) => /^[^_].*?__.+$/.test(h))) return 'wide';
  return null;
}

/**
 * Parse a reader table. `findings` restricts the finding columns (default: all columns that are
 * not id/reader/known metadata and hold only 1/0/-1/blank).
 *
 * @example parseReaderTable(readCsv('readers.csv'), { file: 'readers.csv' })
 */
export function parseReaderTable(
  table: CsvTable,
  options: { file?: string; format?: ReaderFormat; idColumn?: string; findings?: readonly string[] } = {},
): ReaderTable {
  const file = options.file ?? '<readers>';
  const idColumn = options.idColumn ?? 'id';
  if (!table.header.includes(idColumn)) throw new InputError('READERS_COLUMNS', `${file}: no "${idColumn}" column (columns: ${table.header.join(', ')})`, { file });
  const format = options.format ?? detectReaderFormat(table.header);
  if (!format) throw new InputError('READERS_FORMAT', `${file}: neither long form (a "reader" column) nor wide form ("<finding>__<reader>" columns)`, { file });
  const issues: ManifestIssue[] = [];
  const ids: string[] = [];
  const index = new Map<string, number>();
  const extra: Record<string, string>[] = [];
  const cell = (row: number, column: string, raw: string): FindingValue => {
    const v = VALUES.get(raw.trim());
    if (v === undefined) {
      issues.push({ row, column, value: raw.slice(0, 20), message: 'must be 1, 0, -1 or blank' });
      return null;
    }
    return v;
  };
  const caseIndex = (id: string, row: Record<string, string>, extraColumns: string[]) => {
    let i = index.get(id);
    if (i === undefined) {
      i = ids.length;
      index.set(id, i);
      ids.push(id);
      extra.push(Object.fromEntries(extraColumns.map((c) => [c, row[c] ?? ''])));
    }
    return i;
  };
  const ratings = new Map<string, FindingValue[][]>();
  if (format === 'long') {
    if (!table.header.includes('reader')) throw new InputError('READERS_COLUMNS', `${file}: long form needs a "reader" column`, { file });
    const isBinaryColumn = (h: string) => table.rows.every((r) => VALUES.has((r[h] ?? '').trim()));
    const findings = options.findings
      ? [...options.findings]
      : table.header.filter((h) => h !== idColumn && h !== 'reader' && isBinaryColumn(h));
    for (const f of findings) if (!table.header.includes(f)) throw new InputError('READERS_COLUMNS', `${file}: no finding column "${f}"`, { file });
    if (findings.length === 0) throw new InputError('READERS_COLUMNS', `${file}: no finding columns (1/0/-1/blank)`, { file });
    const extraColumns = table.header.filter((h) => h !== idColumn && h !== 'reader' && !findings.includes(h));
    const readers: string[] = [];
    const readerIndex = new Map<string, number>();
    const reads: { c: number; r: number; values: FindingValue[] }[] = [];
    const seen = new Set<string>();
    table.rows.forEach((row, k) => {
      const line = table.lines[k] ?? k + 2;
      const id = (row[idColumn] ?? '').trim();
      const reader = (row['reader'] ?? '').trim();
      if (id === '' || reader === '') {
        issues.push({ row: line, column: id === '' ? idColumn : 'reader', value: '', message: 'is empty' });
        return;
      }
      const key = `${id}\u0000${reader}`;
      if (seen.has(key)) {
        issues.push({ row: line, column: 'reader', value: reader.slice(0, 20), message: 'this reader already read this case in an earlier row' });
        return;
      }
      seen.add(key);
      let r = readerIndex.get(reader);
      if (r === undefined) {
        r = readers.length;
        readerIndex.set(reader, r);
        readers.push(reader);
      }
      reads.push({ c: caseIndex(id, row, extraColumns), r, values: findings.map((f) => cell(line, f, row[f] ?? '')) });
    });
    if (issues.length) throw new ManifestError(file, issues);
    for (const [fi, f] of findings.entries()) {
      const m: FindingValue[][] = ids.map(() => new Array<FindingValue>(readers.length).fill(null));
      for (const x of reads) m[x.c]![x.r] = x.values[fi]!;
      ratings.set(f, m);
    }
    return { ids, readers, findings, ratings, extraColumns, extra };
  }
  // wide
  const pairs = table.header
    .map((h) => /^(.+?)__(.+)$/.exec(h))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ column: m[0], finding: m[1]!, reader: m[2]! }))
    .filter((p) => !options.findings || options.findings.includes(p.finding));
  const findings = [...new Set(pairs.map((p) => p.finding))];
  const readers = [...new Set(pairs.map((p) => p.reader))];
  if (findings.length === 0) throw new InputError('READERS_COLUMNS', `${file}: no "<finding>__<reader>" columns`, { file });
  const extraColumns = table.header.filter((h) => h !== idColumn && !pairs.some((p) => p.column === h) && !/__/.test(h));
  const rowsByCase: FindingValue[][][] = findings.map(() => []);
  table.rows.forEach((row, k) => {
    const line = table.lines[k] ?? k + 2;
    const id = (row[idColumn] ?? '').trim();
    if (id === '') {
      issues.push({ row: line, column: idColumn, value: '', message: 'is empty' });
      return;
    }
    if (index.has(id)) {
      issues.push({ row: line, column: idColumn, value: id.slice(0, 20), message: 'repeated id (wide form has one row per case)' });
      return;
    }
    caseIndex(id, row, extraColumns);
    findings.forEach((f, fi) => {
      const v = new Array<FindingValue>(readers.length).fill(null);
      for (const p of pairs) if (p.finding === f) v[readers.indexOf(p.reader)] = cell(line, p.column, row[p.column] ?? '');
      rowsByCase[fi]!.push(v);
    });
  });
  if (issues.length) throw new ManifestError(file, issues);
  findings.forEach((f, fi) => ratings.set(f, rowsByCase[fi]!));
  return { ids, readers, findings, ratings, extraColumns, extra };
}
