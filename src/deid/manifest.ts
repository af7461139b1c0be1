/**
 * Manifest and dataset-index rows made safe to leave the site with the same keyed pseudonyms as the
 * de-identified DICOM: a patient, a study or an instance gets one replacement everywhere — in the
 * files, in manifests, in a dataset's index and in exports — for everyone holding the key.
 */
import type { DeidOption } from './profile.js';
import type { Pseudonymiser } from './pseudonyms.js';

/**
 * Columns dropped: the patient's name, and paths to other files (masks, reports) that were not
 * de-identified and whose names often carry identifiers.
 */
export const DROPPED_COLUMN = /^(patient_name|.*_path)$/;
/** Columns the Retain Patient Characteristics option governs, as it governs Patient's Sex and Age. */
const CHARACTERISTIC_COLUMNS = ['sex', 'age', 'weight', 'height', 'ethnic_group'];
/** DICOM UID columns (as `radml ingest` writes them) mapped exactly as the files' UIDs are. */
const UID_COLUMNS = ['study_uid', 'series_uid', 'sop_uid'];

export interface ManifestDeidOptions {
  pseudonyms: Pseudonymiser;
  options: readonly DeidOption[];
  /** The row's new path (e.g. the de-identified file); default: the keyed SOP UID, else a row number. */
  path?: string;
}

/** The header a de-identified table keeps. */
export function deidentifiedHeader(header: readonly string[]): string[] {
  return header.filter((h) => !DROPPED_COLUMN.test(h));
}

/**
 * One row with identifying columns replaced: patient_id → the patient pseudonym, study_id → a keyed
 * id, DICOM UIDs → the same keyed UIDs as in de-identified files, characteristics blanked unless
 * retained, name and file-path columns dropped.
 * @example deidentifyRow({ path: 'a.dcm', patient_id: 'MRN1' }, { pseudonyms, options: [], path: 'dicom/x.dcm' })
 */
export function deidentifyRow(row: Record<string, string>, o: ManifestDeidOptions): Record<string, string> {
  const p = o.pseudonyms;
  const next: Record<string, string> = {};
  for (const [k, v] of Object.entries(row)) if (!DROPPED_COLUMN.test(k)) next[k] = v;
  if (row['patient_id'] !== undefined) next['patient_id'] = row['patient_id'] ? p.patient(row['patient_id']) : '';
  if (row['study_id']) next['study_id'] = p.uid(`study-id:${row['study_id']}`);
  for (const c of UID_COLUMNS) if (row[c]) next[c] = p.uid(row[c]);
  if (!o.options.includes('retain-patient-characteristics')) for (const c of CHARACTERISTIC_COLUMNS) if (c in next) next[c] = '';
  if ('path' in next) next['path'] = o.path ?? (next['sop_uid'] ? `deid/${next['sop_uid']}` : '');
  return next;
}
