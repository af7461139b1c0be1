/**
 * The manifest contract (DESIGN.md): a CSV with `path` (relative to the manifest's folder), then
 * either one categorical `label` column or one column per finding coded 1 / 0 / -1 (uncertain) /
 * blank (not mentioned); optional `patient_id`, `study_id`, `split`, `site`, `sex`, `age`, `view`,
 * `manufacturer`, and any other columns, all kept verbatim through every step.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { type CsvTable, readCsv, parseCsv } from '../util/csv.js';
import { InputError, ManifestError, type ManifestIssue } from '../util/errors.js';
import { didYouMean, editDistance } from '../util/suggest.js';

export const STANDARD_COLUMNS = ['path', 'label', 'patient_id', 'study_id', 'split', 'site', 'sex', 'age', 'view', 'manufacturer'] as const;

/**
 * Columns that are metadata, never findings, even when their values look like 0/1. Includes the
 * DICOM-derived columns written by the readers and the prediction columns of the predictions contract.
 */
export const METADATA_COLUMNS = new Set<string>([
  ...STANDARD_COLUMNS,
  'modality', 'body_part', 'study_uid', 'series_uid', 'sop_uid', 'institution', 'photometric', 'rows', 'columns', 'frame',
  'age_band', 'mask', 'mask_path', 'report', 'report_id', 'reader', 'fold', 'cache_index', 'sha256', 'weight',
]);

export type Split = 'train' | 'val' | 'test';
export type Sex = 'M' | 'F' | 'O';
export type FindingValue = 1 | 0 | -1 | null;

const blankToUndefined = (s: string) => (s.trim() === '' ? undefined : s.trim());

/** One schema per standard column: validates the cell text and yields the typed value. */
export const standardCellSchemas = {
  path: z.string().trim().min(1, 'path is empty'),
  patient_id: z.string().transform(blankToUndefined),
  study_id: z.string().transform(blankToUndefined),
  site: z.string().transform(blankToUndefined),
  view: z.string().transform((s) => blankToUndefined(s)?.toUpperCase()),
  manufacturer: z.string().transform(blankToUndefined),
  split: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .transform((s) => (s === 'valid' || s === 'validation' ? 'val' : s))
    .pipe(z.enum(['', 'train', 'val', 'test'], { message: 'split must be train, val, test or blank' }))
    .transform((s) => (s === '' ? undefined : (s as Split))),
  sex: z
    .string()
    .transform((s) => s.trim().toUpperCase())
    .transform((s) => ({ MALE: 'M', FEMALE: 'F', OTHER: 'O' })[s] ?? s)
    .pipe(z.enum(['', 'M', 'F', 'O'], { message: 'sex must be M, F, O (or male/female/other) or blank' }))
    .transform((s) => (s === '' ? undefined : (s as Sex))),
  age: z
    .string()
    .transform((s) => s.trim())
    .refine((s) => s === '' || /^\d+(\.\d+)?$/.test(s) || /^\d{3}[DWMY]$/i.test(s), 'age must be a number of years (or a DICOM age like 045Y) or blank')
    .transform((s) => (s === '' ? undefined : parseAge(s)))
    .refine((a) => a === undefined || (a >= 0 && a <= 130), 'age must be between 0 and 130 years'),
};

/** Years from "45", "45.5" or a DICOM Age String ("045Y", "006M", "010W", "003D"). */
export function parseAge(s: string): number {
  const m = /^(\d{3})([DWMY])$/i.exec(s.trim());
  if (!m) return Number(s);
  const n = Number(m[1]);
  switch (m[2]!.toUpperCase()) {
    case 'D': return n / 365.25;
    case 'W': return (n * 7) / 365.25;
    case 'M': return n / 12;
    default: return n;
  }
}

const FINDING_VALUE = new Map<string, FindingValue>([
  ['', null], ['1', 1], ['0', 0], ['-1', -1], ['1.0', 1], ['0.0', 0], ['-1.0', -1],
]);

export interface ManifestRecord {
  /** 0-based position in the manifest. */
  index: number;
  /** Line in the CSV where the row starts (header is line 1). */
  line: number;
  /** `path` as written. */
  path: string;
  /** `path` resolved against the manifest's folder. */
  absPath: string;
  label?: string;
  findings?: Record<string, FindingValue>;
  patientId?: string;
  studyId?: string;
  split?: Split;
  site?: string;
  sex?: Sex;
  age?: number;
  view?: string;
  manufacturer?: string;
  /** Every column of the row, verbatim, so nothing is lost downstream. */
  columns: Record<string, string>;
}

export type LabelKind = 'categorical' | 'multilabel' | 'none';

export interface Manifest {
  file: string;
  dir: string;
  header: string[];
  labelKind: LabelKind;
  /** Categorical: sorted distinct labels. Multi-label: the finding names. */
  classes: string[];
  /** Categorical: the column the labels were read from. */
  labelColumn?: string;
  records: ManifestRecord[];
  /**
   * What the user should know about how labels were chosen: a `label` column passed over for the
   * finding columns asked for, finding-like columns left unused, a misspelled label column.
   */
  notes?: string[];
}

/**
 * Class names that mean "no finding": with two classes and no positive class named, the other one is
 * the positive (training, evaluation). Lower-case.
 */
export const NEGATIVE_CLASS_NAMES = new Set(['normal', 'negative', 'no', 'none', 'absent', 'false', '0', 'no_finding', 'no finding', 'healthy', 'benign', 'control']);

// Column names people use for a categorical label when they do not call it `label`.
const LABEL_LIKE = ['label', 'labels', 'class', 'classes', 'category', 'finding', 'findings', 'diagnosis', 'target', 'outcome', 'y'];

/** Columns that look like a label column by name (`Label`, `lable`, `class`, `finding`, …). */
export function labelLikeColumns(header: string[]): string[] {
  return header.filter((h) => {
    const l = h.trim().toLowerCase();
    if (h === 'label' || METADATA_COLUMNS.has(h) || l.startsWith('score_')) return false;
    return LABEL_LIKE.includes(l) || editDistance(l, 'label') <= 2;
  });
}

export interface ManifestOptions {
  /** Finding columns to use (multi-label). Default: detected, see `detectFindingColumns`. */
  findings?: string[];
  /** Column holding a categorical label. Default `label` when present. */
  labelColumn?: string;
  /** Allow rows without a label (prediction-only manifests). Default true. */
  allowUnlabelled?: boolean;
}

/**
 * Finding columns are the non-metadata, non-`score_*` columns whose every cell is 1, 0, -1 or blank
 * (and at least one is not blank). Pass `findings` explicitly to override.
 */
export function detectFindingColumns(table: CsvTable): string[] {
  return table.header.filter((h) => {
    if (METADATA_COLUMNS.has(h) || h.startsWith('score_') || h.startsWith('pred_')) return false;
    let nonBlank = 0;
    for (const r of table.rows) {
      const v = (r[h] ?? '').trim();
      if (!FINDING_VALUE.has(v)) return false;
      if (v !== '') nonBlank++;
    }
    return nonBlank > 0;
  });
}

/** Validate a parsed CSV table as a manifest; collects every problem before throwing one ManifestError. */
export function manifestFromTable(table: CsvTable, file: string, opts: ManifestOptions = {}): Manifest {
  const dir = dirname(resolve(file));
  const issues: ManifestIssue[] = [];
  if (!table.header.includes('path')) {
    throw new ManifestError(file, [{ row: 1, column: 'path', value: table.header.join(','), message: 'the manifest needs a "path" column' }]);
  }
  const notes: string[] = [];
  if (opts.labelColumn !== undefined && opts.findings !== undefined) {
    throw new InputError('CLI_ARGS', `${file}: give either a label column (${opts.labelColumn}) or finding columns (${opts.findings.join(', ')}), not both`, { file });
  }
  const others = table.header.filter((h) => h !== 'path' && h !== 'cache_index');
  if (opts.labelColumn !== undefined && !table.header.includes(opts.labelColumn)) {
    throw new ManifestError(file, [{ row: 1, column: opts.labelColumn, value: '', message: `label column not found in the header${didYouMean(opts.labelColumn, others, (c) => `"${c}"`)} (columns: ${others.join(', ')})` }]);
  }
  // An explicit choice wins; a column called `label` wins only when nothing was asked for.
  const labelColumn = opts.labelColumn ?? (opts.findings === undefined && table.header.includes('label') ? 'label' : undefined);
  let findings: string[] = [];
  if (!labelColumn) {
    findings = opts.findings ?? detectFindingColumns(table);
    for (const f of findings) if (!table.header.includes(f)) issues.push({ row: 1, column: f, value: '', message: `finding column not found in the header${didYouMean(f, others, (c) => `"${c}"`)}` });
    if (opts.findings !== undefined && table.header.includes('label')) notes.push(`the "label" column is not used: the labels are the finding columns asked for (${opts.findings.join(', ')})`);
  } else if (opts.labelColumn === undefined) {
    const unused = detectFindingColumns(table);
    if (unused.length) notes.push(`column(s) ${unused.join(', ')} look like findings (1/0/-1/blank) but are not used: the labels are the "label" column; give --findings ${unused.join(',')} to use them instead`);
  }
  const labelKind: LabelKind = labelColumn ? 'categorical' : findings.length ? 'multilabel' : 'none';
  if (labelKind === 'none') {
    const like = labelLikeColumns(table.header);
    notes.push(`no labels: there is no "label" column and no finding column coded 1/0/-1/blank${like.length ? `; column ${like.map((c) => `"${c}"`).join(', ')} looks like a label: give --label-column ${like[0]}` : ''} (columns: ${others.join(', ') || 'none'})`);
  }
  const allowUnlabelled = opts.allowUnlabelled ?? true;
  const classes = new Set<string>();
  const records: ManifestRecord[] = [];

  table.rows.forEach((row, i) => {
    const line = table.lines[i] ?? i + 2;
    const rec: ManifestRecord = { index: i, line, path: '', absPath: '', columns: row };
    for (const [col, schema] of Object.entries(standardCellSchemas)) {
      if (!(col in row) && col !== 'path') continue;
      const parsed = schema.safeParse(row[col] ?? '');
      if (!parsed.success) {
        issues.push({ row: line, column: col, value: row[col] ?? '', message: parsed.error.issues[0]?.message ?? 'invalid' });
        continue;
      }
      const v = parsed.data as never;
      switch (col) {
        case 'path': rec.path = v; rec.absPath = isAbsolute(v) ? v : resolve(dir, v); break;
        case 'patient_id': rec.patientId = v; break;
        case 'study_id': rec.studyId = v; break;
        case 'split': rec.split = v; break;
        case 'site': rec.site = v; break;
        case 'sex': rec.sex = v; break;
        case 'age': rec.age = v; break;
        case 'view': rec.view = v; break;
        case 'manufacturer': rec.manufacturer = v; break;
      }
      for (const k of Object.keys(rec) as (keyof ManifestRecord)[]) if (rec[k] === undefined) delete rec[k];
    }
    if (labelColumn) {
      const v = (row[labelColumn] ?? '').trim();
      if (v === '') {
        if (!allowUnlabelled) issues.push({ row: line, column: labelColumn, value: '', message: 'label is blank' });
      } else {
        rec.label = v;
        classes.add(v);
      }
    } else if (findings.length) {
      const f: Record<string, FindingValue> = {};
      for (const name of findings) {
        const raw = (row[name] ?? '').trim();
        const v = FINDING_VALUE.get(raw);
        if (v === undefined) issues.push({ row: line, column: name, value: raw, message: 'a finding must be 1, 0, -1 (uncertain) or blank (not mentioned)' });
        else f[name] = v;
      }
      rec.findings = f;
    }
    records.push(rec);
  });
  if (labelKind === 'categorical' && classes.size === 1 && !allowUnlabelled) {
    issues.push({ row: 1, column: labelColumn!, value: [...classes][0]!, message: 'only one class present; a classifier needs at least two' });
  }
  if (issues.length) throw new ManifestError(file, issues);
  if (records.length === 0) throw new InputError('MANIFEST_EMPTY', `${file}: the manifest has a header but no rows`, { file });
  return {
    file,
    dir,
    header: table.header,
    labelKind,
    classes: labelKind === 'categorical' ? [...classes].sort() : findings,
    ...(labelColumn !== undefined && { labelColumn }),
    records,
    ...(notes.length > 0 && { notes }),
  };
}

/**
 * The same rows with labels read another way (another label column, or finding columns), from the
 * verbatim cells every record keeps. Resolved image paths are kept as they were.
 *
 * @example relabelManifest(ds.manifest, { labelColumn: 'covid19' }).classes // ['0', '1']
 */
export function relabelManifest(m: Manifest, opts: ManifestOptions): Manifest {
  const table: CsvTable = { header: m.header, rows: m.records.map((r) => r.columns), lines: m.records.map((r) => r.line) };
  const out = manifestFromTable(table, m.file, opts);
  out.records.forEach((r, i) => (r.absPath = m.records[i]!.absPath));
  return out;
}

/** Read and validate a manifest CSV. Throws ManifestError naming row, column and value of each problem. */
export function readManifest(file: string, opts: ManifestOptions = {}): Manifest {
  return manifestFromTable(readCsv(file), file, opts);
}

export function parseManifest(text: string, file: string, opts: ManifestOptions = {}): Manifest {
  return manifestFromTable(parseCsv(text, file), file, opts);
}

/** Age band used for subgroup analysis: 0-17, 18-39, 40-59, 60-79, 80+. */
export function ageBand(age: number | undefined): string | undefined {
  if (age === undefined || !Number.isFinite(age)) return undefined;
  if (age < 18) return '0-17';
  if (age < 40) return '18-39';
  if (age < 60) return '40-59';
  if (age < 80) return '60-79';
  return '80+';
}
