/** The ingest summary: what went in, what was skipped and why, and how the data is spread. */
import type { Manifest } from '../manifest.js';
import { ageBand } from '../manifest.js';

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface FindingCounts {
  positive: number;
  negative: number;
  uncertain: number;
  blank: number;
}

export interface IngestSummary {
  ingested: number;
  skipped: SkippedFile[];
  labelKind: Manifest['labelKind'];
  /** Categorical: count per class. Multi-label: positive/negative/uncertain/blank per finding. */
  classes: Record<string, number | FindingCounts>;
  bySite: Record<string, number>;
  bySex: Record<string, number>;
  byView: Record<string, number>;
  byAgeBand: Record<string, number>;
  bySplit: Record<string, number>;
  byModality: Record<string, number>;
  patients: number | null;
  imageSize: number;
  source: string;
  seconds: number;
}

function count(values: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const k = v === undefined || v === '' ? '(blank)' : v;
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => a[0].localeCompare(b[0])));
}

export function summarise(m: Manifest, skipped: SkippedFile[], info: { imageSize: number; source: string; seconds: number }): IngestSummary {
  const recs = m.records;
  let classes: IngestSummary['classes'] = {};
  if (m.labelKind === 'categorical') {
    classes = count(recs.map((r) => r.label));
  } else if (m.labelKind === 'multilabel') {
    for (const f of m.classes) {
      const c: FindingCounts = { positive: 0, negative: 0, uncertain: 0, blank: 0 };
      for (const r of recs) {
        const v = r.findings?.[f] ?? null;
        if (v === 1) c.positive++;
        else if (v === 0) c.negative++;
        else if (v === -1) c.uncertain++;
        else c.blank++;
      }
      classes[f] = c;
    }
  }
  const ids = recs.map((r) => r.patientId).filter((x): x is string => Boolean(x));
  return {
    ingested: recs.length,
    skipped,
    labelKind: m.labelKind,
    classes,
    bySite: count(recs.map((r) => r.site)),
    bySex: count(recs.map((r) => r.sex)),
    byView: count(recs.map((r) => r.view)),
    byAgeBand: count(recs.map((r) => ageBand(r.age))),
    bySplit: count(recs.map((r) => r.split)),
    byModality: count(recs.map((r) => r.columns['modality'])),
    patients: ids.length === recs.length ? new Set(ids).size : null,
    imageSize: info.imageSize,
    source: info.source,
    seconds: Math.round(info.seconds * 100) / 100,
  };
}

function table(title: string, counts: Record<string, number>, total: number): string[] {
  const keys = Object.keys(counts);
  if (keys.length === 0 || (keys.length === 1 && keys[0] === '(blank)')) return [];
  const w = Math.max(...keys.map((k) => k.length), 8);
  return [`${title}:`, ...keys.map((k) => `  ${k.padEnd(w)} ${String(counts[k]).padStart(7)}  ${((100 * counts[k]!) / total).toFixed(1).padStart(5)}%`)];
}

/** Human-readable summary for the terminal. */
export function formatSummary(s: IngestSummary): string {
  const lines = [`Ingested ${s.ingested} image(s) at ${s.imageSize}×${s.imageSize} in ${s.seconds}s; skipped ${s.skipped.length}.`];
  if (s.patients !== null) lines.push(`Patients: ${s.patients}`);
  if (s.labelKind === 'categorical') lines.push(...table('Classes', s.classes as Record<string, number>, s.ingested));
  else if (s.labelKind === 'multilabel') {
    const w = Math.max(...Object.keys(s.classes).map((k) => k.length), 8);
    lines.push(`Findings:  ${''.padEnd(w - 8)}positive negative uncertain    blank`);
    for (const [f, c] of Object.entries(s.classes) as [string, FindingCounts][]) {
      lines.push(`  ${f.padEnd(w)} ${String(c.positive).padStart(8)} ${String(c.negative).padStart(8)} ${String(c.uncertain).padStart(9)} ${String(c.blank).padStart(8)}`);
    }
  } else lines.push('No labels (prediction-only data).');
  lines.push(...table('Sites', s.bySite, s.ingested), ...table('Sex', s.bySex, s.ingested), ...table('Age band', s.byAgeBand, s.ingested), ...table('View', s.byView, s.ingested), ...table('Split', s.bySplit, s.ingested), ...table('Modality', s.byModality, s.ingested));
  if (s.skipped.length) {
    lines.push('Skipped:');
    for (const k of s.skipped.slice(0, 20)) lines.push(`  ${k.path}: ${k.reason}`);
    if (s.skipped.length > 20) lines.push(`  … and ${s.skipped.length - 20} more (see summary.json)`);
  }
  return lines.join('\n');
}
