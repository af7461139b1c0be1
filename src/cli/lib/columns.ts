/**
 * The flags that say how to read a user's own CSV as a manifest, shared by `ingest` and `split`:
 * --columns (rename to the contract), --image-root, --label-column, --findings.
 */
import { InputError } from '../../util/errors.js';
import { type ManifestOptions } from '../../data/manifest.js';
import { type OptionSpec, type ParsedArgs, list, str } from './command.js';

export const MANIFEST_READING_OPTIONS: Record<string, OptionSpec> = {
  columns: { type: 'string', arg: 'to=from,…', description: 'rename the CSV\'s own columns to the manifest contract, e.g. path=filename,label=finding,patient_id=patientid' },
  'image-root': { type: 'string', arg: '<dir>', description: 'folder image paths are relative to (default: the manifest folder)' },
  'label-column': { type: 'string', arg: '<col>', description: 'categorical label column (default: label)' },
  findings: { type: 'string', arg: 'a,b,…', description: 'finding columns (default: detected 1/0/-1/blank columns)' },
};

/**
 * `--columns path=filename,label=finding` → { path: 'filename', label: 'finding' }
 *
 * @example parseColumnMapping(['path=filename', 'label=finding']) // { path: 'filename', label: 'finding' }
 */
export function parseColumnMapping(items: string[] | undefined): Record<string, string> | undefined {
  if (!items) return undefined;
  const out: Record<string, string> = {};
  for (const it of items) {
    const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(it);
    if (!m) throw new InputError('CLI_ARGS', `--columns takes name=source pairs like path=filename, got "${it}"`);
    if (out[m[1]!] !== undefined) throw new InputError('CLI_ARGS', `--columns maps "${m[1]}" twice`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export interface ManifestReading extends ManifestOptions {
  columns?: Record<string, string>;
  imageRoot?: string;
}

/** The manifest-reading flags of a command, as options for manifestSource / manifestFromTable. */
export function manifestReading(args: ParsedArgs): ManifestReading {
  const columns = parseColumnMapping(list(args, 'columns'));
  const findings = list(args, 'findings');
  const imageRoot = str(args, 'image-root');
  const labelColumn = str(args, 'label-column');
  if (findings !== undefined && findings.length === 0) throw new InputError('CLI_ARGS', '--findings needs at least one column name, e.g. --findings effusion,oedema');
  if (findings && labelColumn) throw new InputError('CLI_ARGS', '--label-column and --findings contradict each other: a categorical label column, or finding columns');
  return { ...(columns && { columns }), ...(findings && { findings }), ...(imageRoot && { imageRoot }), ...(labelColumn && { labelColumn }) };
}
