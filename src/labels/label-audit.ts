/**
 * A label audit over a predictions CSV (DESIGN.md predictions contract: the manifest's columns
 * plus `score_<class>`), using confident learning. Two shapes:
 *
 * - categorical: a label column (default `label`) and one `score_<class>` per class (rows are
 *   renormalised to sum to 1); or a binary label with a single `score_<positive>` column, the
 *   other class getting 1 − score;
 * - multi-label: for every finding column `F` with a `score_F` column, a binary audit of the 1/0
 *   labels (-1 and blank are skipped).
 *
 * The scores must be out-of-fold (each case predicted by a model that did not train on it).
 */
import type { CsvTable } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { confidentLearning, type RankBy } from './confident-learning.js';

export interface AuditRow {
  rank: number;
  id: string;
  /** The label column or finding audited. */
  column: string;
  given_label: string;
  suggested_label: string;
  self_confidence: number;
  normalized_margin: number;
  [score: `score_${string}`]: number;
}

export interface AuditResult {
  mode: 'categorical' | 'multi-label';
  header: string[];
  rows: AuditRow[];
  /** Per audited column: examples used, estimated errors, thresholds. */
  summary: { column: string; examples: number; flagged: number; estimatedErrors: number; thresholds: Record<string, number> }[];
  skipped: { line: number; reason: string }[];
}

const ID_COLUMNS = ['id', 'path', 'study_id', 'patient_id'];

/**
 * @example auditPredictions(readCsv('oof.csv'), { file: 'oof.csv' }).rows[0] // most suspicious case
 */
export function auditPredictions(
  table: CsvTable,
  options: { file?: string; label?: string; positive?: string; rankBy?: RankBy; idColumn?: string } = {},
): AuditResult {
  const file = options.file ?? '<predictions>';
  const idColumn = options.idColumn ?? ID_COLUMNS.find((c) => table.header.includes(c));
  if (!idColumn || !table.header.includes(idColumn)) throw new InputError('AUDIT_COLUMNS', `${file}: no id column (one of ${ID_COLUMNS.join(', ')}, or --id-column)`, { file });
  const scoreCols = table.header.filter((h) => h.startsWith('score_'));
  if (scoreCols.length === 0) throw new InputError('AUDIT_COLUMNS', `${file}: no score_<class> columns (out-of-fold predicted probabilities)`, { file });
  const skipped: { line: number; reason: string }[] = [];
  const labelCol = options.label ?? (table.header.includes('label') ? 'label' : undefined);
  const num = (s: string | undefined) => {
    const v = Number((s ?? '').trim());
    return (s ?? '').trim() !== '' && Number.isFinite(v) && v >= 0 && v <= 1 ? v : NaN;
  };
  const rows: AuditRow[] = [];
  const summary: AuditResult['summary'] = [];

  if (labelCol !== undefined) {
    if (!table.header.includes(labelCol)) throw new InputError('AUDIT_COLUMNS', `${file}: no label column "${labelCol}"`, { file });
    let classes = scoreCols.map((c) => c.slice('score_'.length));
    let binaryPositive: string | undefined;
    const labelValues = [...new Set(table.rows.map((r) => (r[labelCol] ?? '').trim()).filter((v) => v !== ''))].sort();
    if (options.positive !== undefined || classes.length === 1) {
      const pos = options.positive ?? classes[0]!;
      if (!table.header.includes(`score_${pos}`)) throw new InputError('AUDIT_COLUMNS', `${file}: no score_${pos} column for the positive class`, { file });
      const others = labelValues.filter((v) => v !== pos);
      if (others.length !== 1) throw new InputError('AUDIT_COLUMNS', `${file}: a binary audit with --positive ${pos} needs exactly one other class in "${labelCol}", found ${others.length}`, { file });
      classes = [others[0]!, pos];
      binaryPositive = pos;
    }
    const given: number[] = [];
    const probs: number[][] = [];
    const used: number[] = [];
    table.rows.forEach((r, i) => {
      const line = table.lines[i] ?? i + 2;
      const g = classes.indexOf((r[labelCol] ?? '').trim());
      if (g < 0) {
        skipped.push({ line, reason: `label is not one of the scored classes (${classes.join(', ')})` });
        return;
      }
      let p: number[];
      if (binaryPositive !== undefined) {
        const s = num(r[`score_${binaryPositive}`]);
        p = [1 - s, s];
      } else p = classes.map((c) => num(r[`score_${c}`]));
      if (p.some((x) => Number.isNaN(x))) {
        skipped.push({ line, reason: 'a score is missing or not a probability in [0, 1]' });
        return;
      }
      const z = p.reduce((a, b) => a + b, 0);
      if (z <= 0) {
        skipped.push({ line, reason: 'scores sum to 0' });
        return;
      }
      given.push(g);
      probs.push(p.map((x) => x / z));
      used.push(i);
    });
    if (given.length === 0) throw new InputError('AUDIT_EMPTY', `${file}: no usable rows`, { file });
    const cl = confidentLearning(given, probs, options.rankBy ? { rankBy: options.rankBy } : {});
    for (const x of cl.issues) {
      const row: AuditRow = {
        rank: x.rank,
        id: table.rows[used[x.index]!]![idColumn] ?? '',
        column: labelCol,
        given_label: classes[x.given]!,
        suggested_label: classes[x.suggested]!,
        self_confidence: x.selfConfidence,
        normalized_margin: x.normalizedMargin,
      };
      classes.forEach((c, k) => (row[`score_${c}`] = probs[x.index]![k]!));
      rows.push(row);
    }
    summary.push({ column: labelCol, examples: given.length, flagged: cl.issues.length, estimatedErrors: cl.estimatedErrors, thresholds: Object.fromEntries(classes.map((c, k) => [c, cl.thresholds[k]!])) });
    return { mode: 'categorical', header: ['rank', 'id', 'column', 'given_label', 'suggested_label', 'self_confidence', 'normalized_margin', ...classes.map((c) => `score_${c}`)], rows, summary, skipped };
  }

  const findings = scoreCols.map((c) => c.slice('score_'.length)).filter((f) => table.header.includes(f));
  if (findings.length === 0) throw new InputError('AUDIT_COLUMNS', `${file}: no "label" column and no finding column F with a matching score_F`, { file });
  const all: (AuditRow & { key: number })[] = [];
  for (const f of findings) {
    const given: number[] = [];
    const probs: number[][] = [];
    const used: number[] = [];
    table.rows.forEach((r, i) => {
      const v = (r[f] ?? '').trim();
      if (v !== '1' && v !== '0' && v !== '1.0' && v !== '0.0') return; // uncertain or not mentioned: nothing to audit
      const s = num(r[`score_${f}`]);
      if (Number.isNaN(s)) {
        skipped.push({ line: table.lines[i] ?? i + 2, reason: `score_${f} is missing or not a probability in [0, 1]` });
        return;
      }
      given.push(Number(v));
      probs.push([1 - s, s]);
      used.push(i);
    });
    if (given.length === 0) continue;
    const cl = confidentLearning(given, probs, options.rankBy ? { rankBy: options.rankBy } : {});
    for (const x of cl.issues) {
      all.push({
        key: options.rankBy === 'normalized-margin' ? x.normalizedMargin : x.selfConfidence,
        rank: 0,
        id: table.rows[used[x.index]!]![idColumn] ?? '',
        column: f,
        given_label: String(x.given),
        suggested_label: String(x.suggested),
        self_confidence: x.selfConfidence,
        normalized_margin: x.normalizedMargin,
        score: probs[x.index]![1]!,
      } as AuditRow & { key: number });
    }
    summary.push({ column: f, examples: given.length, flagged: cl.issues.length, estimatedErrors: cl.estimatedErrors, thresholds: { '0': cl.thresholds[0]!, '1': cl.thresholds[1]! } });
  }
  all.sort((a, b) => a.key - b.key);
  all.forEach((r, k) => {
    r.rank = k + 1;
    delete (r as { key?: number }).key;
    rows.push(r);
  });
  return { mode: 'multi-label', header: ['rank', 'id', 'column', 'given_label', 'suggested_label', 'self_confidence', 'normalized_margin', 'score'], rows, summary, skipped };
}
