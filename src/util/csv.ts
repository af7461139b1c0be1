/** RFC 4180 CSV: quoted fields, embedded commas/quotes/newlines, CRLF or LF, optional UTF-8 BOM. */
import { readFileSync } from 'node:fs';
import { InputError } from './errors.js';
import { writeFileAtomic } from './atomic.js';

export interface CsvTable {
  header: string[];
  /** Data rows as objects keyed by header; missing trailing cells are ''. */
  rows: Record<string, string>[];
  /** 1-based line number (header is line 1) where each row starts, for error messages. */
  lines: number[];
}

/** Parse CSV text into raw records (arrays of cells) with the line each starts on. */
export function parseCsvRecords(text: string, file = '<csv>'): { records: string[][]; lines: number[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: string[][] = [];
  const lines: number[] = [];
  let field = '';
  let record: string[] = [];
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field.length === 0 && !fieldStarted) {
        inQuotes = true;
        fieldStarted = true;
      } else field += c; // a stray quote inside an unquoted field is kept literally
    } else if (c === ',') {
      record.push(field);
      field = '';
      fieldStarted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      if (!(record.length === 1 && record[0] === '')) {
        records.push(record);
        lines.push(recordLine);
      }
      record = [];
      field = '';
      fieldStarted = false;
      line++;
      recordLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (inQuotes) throw new InputError('CSV_UNTERMINATED_QUOTE', `${file}: a quoted field starting on or before line ${recordLine} is never closed`, { file });
  if (field.length > 0 || record.length > 0) {
    record.push(field);
    records.push(record);
    lines.push(recordLine);
  }
  return { records, lines };
}

/** Parse CSV text with a header row. Duplicate or empty header names are an error. */
export function parseCsv(text: string, file = '<csv>'): CsvTable {
  const { records, lines } = parseCsvRecords(text, file);
  if (records.length === 0) throw new InputError('CSV_EMPTY', `${file}: the file is empty (no header row)`, { file });
  const header = records[0]!.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new InputError('CSV_HEADER', `${file}: column ${i + 1} of the header has no name`, { file });
    if (seen.has(h)) throw new InputError('CSV_HEADER', `${file}: column "${h}" appears twice in the header`, { file });
    seen.add(h);
  });
  const rows: Record<string, string>[] = [];
  const rowLines: number[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    if (rec.length > header.length && rec.slice(header.length).some((v) => v.trim() !== '')) {
      throw new InputError('CSV_ROW_WIDTH', `${file}: line ${lines[r]} has ${rec.length} cells but the header has ${header.length}`, { file });
    }
    const obj: Record<string, string> = {};
    header.forEach((h, i) => (obj[h] = rec[i] ?? ''));
    rows.push(obj);
    rowLines.push(lines[r]!);
  }
  return { header, rows, lines: rowLines };
}

export function readCsv(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError('FILE_UNREADABLE', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { file: path, cause: e });
  }
  return parseCsv(text, path);
}

function quote(v: string): string {
  return /[",\r\n]/.test(v) || /^\s|\s$/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
}

export type CsvCell = string | number | boolean | null | undefined;

/** Format rows as CSV text with the given column order; numbers keep full precision. */
export function formatCsv(header: readonly string[], rows: readonly Record<string, CsvCell>[]): string {
  const out = [header.map(quote).join(',')];
  for (const row of rows) {
    out.push(
      header
        .map((h) => {
          const v = row[h];
          if (v === null || v === undefined) return '';
          if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
          return quote(String(v));
        })
        .join(','),
    );
  }
  return out.join('\n') + '\n';
}

export function writeCsv(path: string, header: readonly string[], rows: readonly Record<string, CsvCell>[]): void {
  writeFileAtomic(path, formatCsv(header, rows));
}
