/**
 * The labels part of `radml demo`: on a synthetic cohort folder, label the reports and compare
 * them with the true labels, and build a Dawid–Skene consensus from the simulated readers,
 * comparing the estimated reader sensitivity/specificity with the truth.
 *
 * Expected files (ids join on the manifest's `study_id`):
 * - `reports.csv`  `id,findings,impression`
 * - `readers.csv`  long form `id,reader,<finding>…` with 1/0
 * - `manifest.csv` true labels in the same finding columns, plus `study_id`
 * - `cohort.json`  optional reader truth. Its layout is read defensively: anywhere in the JSON, an
 *   array of objects with a reader name (`id`/`name`/`reader`/`reader_id`) and `sensitivity`/
 *   `specificity` (numbers, or per-finding objects), or an object keyed by reader name whose values
 *   hold `sensitivity`/`specificity`. Without it, the truth is measured from the manifest labels.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FindingValue } from '../data/manifest.js';
import { readCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { dawidSkene, majorityVote } from './consensus.js';
import { parseReaderTable } from './readers.js';
import { compileLexicon, labelReport } from './report-labeller.js';
import { scorePositives, type PositiveScores } from './scoring.js';

export interface ReaderComparison {
  reader: string;
  finding: string;
  estimatedSensitivity: number;
  estimatedSpecificity: number;
  /** From cohort.json when it states them (NaN otherwise). */
  statedSensitivity: number;
  statedSpecificity: number;
  /** Measured against the manifest's true labels. */
  observedSensitivity: number;
  observedSpecificity: number;
}

export interface LabelDemoResult {
  findings: string[];
  reports: { labelled: number; matched: number; scores: PositiveScores; scoresUncertainAsPositive: PositiveScores };
  readers: ReaderComparison[];
  /** Per finding: accuracy of Dawid–Skene and of majority vote against the true labels. */
  consensusAccuracy: { finding: string; dawidSkene: number; majority: number; cases: number }[];
  /** What was assumed about the cohort files (for the demo log). */
  assumptions: string[];
}

type Truth = Map<string, { sensitivity: number | Record<string, number>; specificity: number | Record<string, number> }>;

/** Find reader truth anywhere in a cohort.json value (layout not fixed; see the module header). */
export function findReaderTruth(json: unknown, readers: readonly string[]): Truth | null {
  const known = new Set(readers);
  const isRate = (v: unknown) => typeof v === 'number' || (v !== null && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'number'));
  const entry = (o: Record<string, unknown>) => {
    const s = o['sensitivity'] ?? o['sens'] ?? o['tpr'];
    const c = o['specificity'] ?? o['spec'] ?? o['tnr'];
    return isRate(s) && isRate(c) ? { sensitivity: s as number | Record<string, number>, specificity: c as number | Record<string, number> } : null;
  };
  const visit = (v: unknown, depth: number): Truth | null => {
    if (depth > 6 || v === null || typeof v !== 'object') return null;
    if (Array.isArray(v)) {
      const t: Truth = new Map();
      v.forEach((item, k) => {
        if (!item || typeof item !== 'object') return;
        const o = item as Record<string, unknown>;
        const name = [o['id'], o['name'], o['reader'], o['reader_id'], o['readerId']].find((x) => typeof x === 'string' || typeof x === 'number');
        const e = entry(o);
        if (e) t.set(name !== undefined ? String(name) : readers[k] ?? String(k), e);
      });
      if (t.size > 0 && [...t.keys()].some((k) => known.has(k))) return t;
      for (const item of v) {
        const r = visit(item, depth + 1);
        if (r) return r;
      }
      return null;
    }
    const o = v as Record<string, unknown>;
    const t: Truth = new Map();
    for (const [k, val] of Object.entries(o)) {
      if (known.has(k) && val && typeof val === 'object') {
        const e = entry(val as Record<string, unknown>);
        if (e) t.set(k, e);
      }
    }
    if (t.size > 0) return t;
    for (const val of Object.values(o)) {
      const r = visit(val, depth + 1);
      if (r) return r;
    }
    return null;
  };
  return visit(json, 0);
}

const rate = (v: number | Record<string, number> | undefined, finding: string) => (v === undefined ? NaN : typeof v === 'number' ? v : v[finding] ?? NaN);

/**
 * Run the labels demo on a cohort folder.
 *
 * @example const r = labelDemo('cohort/'); r.readers.map((x) => [x.reader, x.estimatedSensitivity, x.statedSensitivity]);
 */
export function labelDemo(cohortDir: string): LabelDemoResult {
  const assumptions: string[] = [];
  const need = (f: string) => {
    const p = join(cohortDir, f);
    if (!existsSync(p)) throw new InputError('DEMO_COHORT', `${p}: missing (the labels demo needs reports.csv, readers.csv and manifest.csv)`, { file: p });
    return p;
  };
  const manifest = readCsv(need('manifest.csv'));
  const readersTable = parseReaderTable(readCsv(need('readers.csv')), { file: join(cohortDir, 'readers.csv') });
  const findings = readersTable.findings.filter((f) => manifest.header.includes(f));
  if (findings.length === 0) throw new InputError('DEMO_COHORT', `${cohortDir}: readers.csv and manifest.csv share no finding column`);
  const idCol = manifest.header.includes('study_id') ? 'study_id' : 'id';
  if (!manifest.header.includes(idCol)) throw new InputError('DEMO_COHORT', `${join(cohortDir, 'manifest.csv')}: no study_id column`);
  assumptions.push(`joined reports.id and readers.id to manifest.${idCol}; first manifest row per study holds its true labels`);
  const truth = new Map<string, Record<string, FindingValue>>();
  for (const r of manifest.rows) {
    const id = (r[idCol] ?? '').trim();
    if (id === '' || truth.has(id)) continue;
    truth.set(id, Object.fromEntries(findings.map((f) => [f, r[f] === '1' ? 1 : r[f] === '0' ? 0 : null])));
  }

  // Reports.
  const reports = readCsv(need('reports.csv'));
  const c = compileLexicon();
  const pred: Record<string, FindingValue>[] = [];
  const ref: Record<string, FindingValue>[] = [];
  for (const r of reports.rows) {
    const t = truth.get((r['id'] ?? '').trim());
    if (!t) continue;
    pred.push(labelReport(c, { findings: r['findings'], impression: r['impression'] }, false).values);
    ref.push(t);
  }
  if (pred.length < reports.rows.length) assumptions.push(`${reports.rows.length - pred.length} report(s) had no matching study in the manifest and were not scored`);

  // Readers.
  let stated: Truth | null = null;
  const cohortJson = join(cohortDir, 'cohort.json');
  if (existsSync(cohortJson)) {
    try {
      stated = findReaderTruth(JSON.parse(readFileSync(cohortJson, 'utf8')), readersTable.readers);
    } catch (e) {
      assumptions.push(`cohort.json unreadable (${(e as Error).message}); reader truth measured from the manifest only`);
    }
    assumptions.push(stated ? `reader truth from cohort.json for ${[...stated.keys()].join(', ')}` : 'cohort.json states no reader sensitivity/specificity that could be found');
  } else assumptions.push('no cohort.json; reader truth measured from the manifest only');

  const readers: ReaderComparison[] = [];
  const consensusAccuracy: LabelDemoResult['consensusAccuracy'] = [];
  for (const f of findings) {
    const ratings = readersTable.ratings.get(f)!;
    const ds = dawidSkene(ratings);
    const mv = majorityVote(ratings);
    const t = readersTable.ids.map((id) => truth.get(id)?.[f] ?? null);
    let cases = 0, dsOk = 0, mvOk = 0;
    t.forEach((v, i) => {
      if (v === null || ds.label[i] === null) return;
      cases++;
      if (ds.label[i] === v) dsOk++;
      if (mv.label[i] === v) mvOk++;
    });
    consensusAccuracy.push({ finding: f, dawidSkene: cases ? dsOk / cases : NaN, majority: cases ? mvOk / cases : NaN, cases });
    readersTable.readers.forEach((name, r) => {
      let tp = 0, p = 0, tn = 0, n = 0;
      ratings.forEach((row, i) => {
        const v = row[r];
        if ((v !== 1 && v !== 0) || t[i] === null) return;
        if (t[i] === 1) {
          p++;
          if (v === 1) tp++;
        } else {
          n++;
          if (v === 0) tn++;
        }
      });
      const s = stated?.get(name);
      readers.push({
        reader: name,
        finding: f,
        estimatedSensitivity: ds.readers![r]!.sensitivity,
        estimatedSpecificity: ds.readers![r]!.specificity,
        statedSensitivity: rate(s?.sensitivity, f),
        statedSpecificity: rate(s?.specificity, f),
        observedSensitivity: p ? tp / p : NaN,
        observedSpecificity: n ? tn / n : NaN,
      });
    });
  }
  return {
    findings,
    reports: {
      labelled: reports.rows.length,
      matched: pred.length,
      scores: scorePositives(pred, ref, findings),
      scoresUncertainAsPositive: scorePositives(pred, ref, findings, { uncertainAsPositive: true }),
    },
    readers,
    consensusAccuracy,
    assumptions,
  };
}

/** Short human-readable lines for the demo log. */
export function formatLabelDemo(r: LabelDemoResult): string[] {
  const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  const lines = [`report labeller on ${r.reports.matched} synthetic reports (positive findings):`];
  for (const s of r.reports.scores.perFinding) lines.push(`  ${s.finding.padEnd(16)} P ${f3(s.precision)}  R ${f3(s.recall)}  F1 ${f3(s.f1)}  (n+ ${s.support})`);
  lines.push(`  micro F1 ${f3(r.reports.scores.micro.f1)} (uncertain as positive: ${f3(r.reports.scoresUncertainAsPositive.micro.f1)})`);
  lines.push('readers, Dawid–Skene estimate vs truth (sensitivity / specificity):');
  for (const x of r.readers)
    lines.push(`  ${x.reader} ${x.finding.padEnd(14)} est ${f3(x.estimatedSensitivity)} / ${f3(x.estimatedSpecificity)}   stated ${f3(x.statedSensitivity)} / ${f3(x.statedSpecificity)}   observed ${f3(x.observedSensitivity)} / ${f3(x.observedSpecificity)}`);
  for (const a of r.consensusAccuracy) lines.push(`  consensus ${a.finding}: Dawid–Skene accuracy ${f3(a.dawidSkene)}, majority ${f3(a.majority)} (${a.cases} cases)`);
  return lines;
}
