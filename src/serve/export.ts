/**
 * Recorded predictions as a predictions CSV (DESIGN.md contract: manifest columns plus
 * `score_<class>`), so shadow-mode results and champion/challenger pairs go straight into
 * `radml evaluate`. Labels come from radiologist feedback: per finding 1 (confirmed), 0 (rejected)
 * or blank (no feedback); for categorical models also a `label` column. Study and instance UIDs are
 * replaced by pseudonyms: the file can leave the hospital network without patient identifiers.
 */
import { formatCsv } from '../util/csv.js';
import type { Feedback, Prediction } from '../store/schema.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { Pseudonymiser as DeidPseudonymiser } from '../deid/pseudonyms.js';

export interface ExportModel {
  name: string;
  version: number;
  classes: string[];
  labelKind: 'categorical' | 'multilabel';
  positiveClass: string | null;
}

const SUBGROUP_COLUMNS = ['sex', 'age', 'view', 'manufacturer', 'site'];

/** Latest verdict per (study, finding). */
function verdicts(feedback: readonly Feedback[]): Map<string, Map<string, 'confirm' | 'reject'>> {
  const out = new Map<string, Map<string, 'confirm' | 'reject'>>();
  for (const f of [...feedback].sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)) {
    if (!out.has(f.studyUid)) out.set(f.studyUid, new Map());
    out.get(f.studyUid)!.set(f.finding, f.verdict);
  }
  return out;
}

function categoricalLabel(m: ExportModel, v: Map<string, 'confirm' | 'reject'> | undefined): string {
  if (!v) return '';
  for (const [finding, verdict] of v) if (verdict === 'confirm' && m.classes.includes(finding)) return finding;
  // A rejected positive finding in a binary model means the other class.
  if (m.classes.length === 2) {
    for (const [finding, verdict] of v) {
      if (verdict === 'reject' && m.classes.includes(finding)) return m.classes.find((c) => c !== finding)!;
    }
  }
  return '';
}

/**
 * @example exportPredictionsCsv(model, await store.listPredictions({ modelName: 'cxr', modelVersion: 1 }), feedback, p)
 */
export function exportPredictionsCsv(
  model: ExportModel,
  predictions: readonly Prediction[],
  feedback: readonly Feedback[],
  pseudonym: Pseudonymiser,
  compare?: { version: number; predictions: readonly Prediction[] },
  deid?: DeidPseudonymiser,
): string {
  const v = verdicts(feedback);
  const other = new Map((compare?.predictions ?? []).map((p) => [p.sopUid, p]));
  const header = ['path', 'study_id', ...(model.labelKind === 'categorical' ? ['label'] : []), ...model.classes, ...SUBGROUP_COLUMNS, 'model', 'model_version', 'silent',
    ...model.classes.map((c) => `score_${c}`), ...(compare ? model.classes.map((c) => `score_${c}_v${compare.version}`) : [])];
  const rows = predictions
    .filter((p) => p.modelName === model.name && p.modelVersion === model.version)
    .map((p) => {
      const fv = v.get(p.studyUid);
      const row: Record<string, string> = {
        // With the site's de-identification key: the names `radml deidentify` gives the same images.
        path: deid ? `dicom/${deid.uid(p.studyUid)}/${deid.uid(p.sopUid)}.dcm` : `pacs/${pseudonym(p.studyUid)}/${pseudonym(p.sopUid)}`,
        study_id: deid ? deid.uid(p.studyUid) : pseudonym(p.studyUid),
        model: p.modelName,
        model_version: String(p.modelVersion),
        silent: p.silent ? '1' : '0',
      };
      if (model.labelKind === 'categorical') row.label = categoricalLabel(model, fv);
      for (const c of model.classes) {
        const verdict = fv?.get(c);
        row[c] = verdict === 'confirm' ? '1' : verdict === 'reject' ? '0' : '';
        row[`score_${c}`] = String(p.scores[c] ?? '');
        if (compare) row[`score_${c}_v${compare.version}`] = String(other.get(p.sopUid)?.scores[c] ?? '');
      }
      for (const k of SUBGROUP_COLUMNS) row[k] = p.columns[k] ?? '';
      return row;
    });
  return formatCsv(header, rows);
}
