/** Writing a split back into a manifest copy, and counting what went where. */
import type { Manifest } from '../manifest.js';
import { writeCsv } from '../../util/csv.js';
import { NO_FINDING, UNLABELLED } from './groups.js';
import type { SplitAssignment } from './methods.js';

/**
 * The manifest's rows with the assignment in its column (`split` or `fold`, added at the end if
 * new). Every other column is kept verbatim and in order.
 */
export function manifestWithAssignment(manifest: Pick<Manifest, 'header' | 'records'>, a: SplitAssignment): { header: string[]; rows: Record<string, string>[] } {
  const header = manifest.header.includes(a.column) ? [...manifest.header] : [...manifest.header, a.column];
  const rows = manifest.records.map((r, i) => ({ ...r.columns, [a.column]: a.values[i] ?? '' }));
  return { header, rows };
}

/**
 * Write a copy of the manifest with the assignment column (atomically).
 * @example writeSplitManifest('splits.csv', manifest, holdoutSplit(manifest.records));
 */
export function writeSplitManifest(path: string, manifest: Pick<Manifest, 'header' | 'records'>, a: SplitAssignment): void {
  const { header, rows } = manifestWithAssignment(manifest, a);
  writeCsv(path, header, rows);
}

export interface SplitSummary {
  bins: string[];
  /** Categorical: labels; multi-label: findings then "none". */
  classes: string[];
  /** Records per bin. */
  records: Record<string, number>;
  /** Distinct patients per bin. */
  patients: Record<string, number>;
  /** bin → class → records (multi-label: records positive for the finding; "none": no positive finding). */
  byClass: Record<string, Record<string, number>>;
  sites: string[];
  /** bin → site → records ("(none)" for records without a site). */
  bySite: Record<string, Record<string, number>>;
  /** Records with no value (left out). */
  unassigned: number;
}

export const NO_SITE = '(none)';

/** Counts per bin × class and bin × site, for printing and for checking stratification. */
export function summariseSplit(manifest: Pick<Manifest, 'records'>, a: SplitAssignment): SplitSummary {
  const recs = manifest.records;
  const multilabel = recs.some((r) => r.findings !== undefined);
  const classSet = new Set<string>();
  if (multilabel) {
    for (const r of recs) for (const f of Object.keys(r.findings ?? {})) classSet.add(f);
  }
  const classesOf = (i: number): string[] => {
    const r = recs[i]!;
    if (r.findings) {
      const pos = Object.entries(r.findings).filter(([, v]) => v === 1).map(([f]) => f);
      return pos.length ? pos : [NO_FINDING];
    }
    return [r.label ?? UNLABELLED];
  };
  const out: SplitSummary = { bins: [...a.bins], classes: [], records: {}, patients: {}, byClass: {}, sites: [], bySite: {}, unassigned: 0 };
  const patients = new Map<string, Set<string>>();
  const siteSet = new Set<string>();
  const labelSet = new Set<string>();
  for (const b of a.bins) {
    out.records[b] = 0;
    out.byClass[b] = {};
    out.bySite[b] = {};
    patients.set(b, new Set());
  }
  recs.forEach((r, i) => {
    const b = a.values[i];
    if (b === undefined) {
      out.unassigned++;
      return;
    }
    out.records[b] = (out.records[b] ?? 0) + 1;
    patients.get(b)?.add(r.patientId !== undefined ? 'p' + r.patientId : r.studyId !== undefined ? 's' + r.studyId : 'r' + i);
    const bc = (out.byClass[b] ??= {});
    for (const c of classesOf(i)) {
      bc[c] = (bc[c] ?? 0) + 1;
      labelSet.add(c);
    }
    const site = r.site ?? NO_SITE;
    siteSet.add(site);
    const bs = (out.bySite[b] ??= {});
    bs[site] = (bs[site] ?? 0) + 1;
  });
  for (const b of a.bins) out.patients[b] = patients.get(b)?.size ?? 0;
  out.classes = multilabel ? [...classSet, ...(labelSet.has(NO_FINDING) ? [NO_FINDING] : [])] : [...labelSet].sort();
  out.sites = [...siteSet].sort();
  return out;
}

/**
 * A fixed-width text table of a summary part, for the CLI. `rowTotal` gives each row's true count
 * when the columns overlap (a study with two findings sits in two finding columns): the total
 * column then counts studies, not findings, and says so.
 */
export function formatCountTable(title: string, rows: readonly string[], columns: readonly string[], cell: (row: string, col: string) => number, rowTotal?: (row: string) => number): string {
  const head = [title, ...columns, rowTotal ? 'studies' : 'total'];
  const body = rows.map((r) => {
    const cells = columns.map((c) => cell(r, c));
    return [r, ...cells.map(String), String(rowTotal ? rowTotal(r) : cells.reduce((x, y) => x + y, 0))];
  });
  const totals = columns.map((c) => rows.reduce((s, r) => s + cell(r, c), 0));
  const grand = rowTotal ? rows.reduce((s, r) => s + rowTotal(r), 0) : totals.reduce((x, y) => x + y, 0);
  body.push(['total', ...totals.map(String), String(grand)]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((r) => r[j]!.length)));
  const fmt = (r: string[]) => r.map((v, j) => (j === 0 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n');
}
