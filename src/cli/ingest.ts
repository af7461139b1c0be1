import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import { DEFAULT_IMAGE_SIZE, formatSummary, ingestToDir } from '../data/ingest/index.js';
import { isDatasetDir } from '../data/dataset.js';
import { type Command, bool, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

/** `--columns path=filename,label=finding` → { path: 'filename', label: 'finding' } */
function parseMapping(items: string[] | undefined): Record<string, string> | undefined {
  if (!items) return undefined;
  const out: Record<string, string> = {};
  for (const it of items) {
    const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(it);
    if (!m) throw new InputError('CLI_ARGS', `--columns takes name=source pairs, got "${it}"`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export const command: Command = {
  name: 'ingest',
  summary: 'Decode images (PNG/JPEG/TIFF/DICOM) once into a dataset cache for training, with a summary',
  usage: '<folder|manifest.csv> --out <dataset-dir> [options]',
  help: `
Reads a manifest CSV (DESIGN.md contract: path, then label or one column per finding) or a folder of
images (sub-folder names become labels when every image sits in a class folder; DICOM files may lack an
extension). Each image is decoded once, resized to a square and cached in <dataset-dir> with index.csv,
dataset.json and summary.json. DICOM header fields (sex, age, view, manufacturer, modality, body part,
institution as site, study UID) fill blank manifest columns; patient IDs are hashed unless
--keep-patient-ids. Unreadable files are skipped and listed with the reason; the exit status is 0 when
anything was ingested.

Examples:
  radml ingest cohort/manifest.csv --out cohort-ds
  radml ingest metadata.csv --image-root images --columns path=filename,label=finding,patient_id=patientid --out ds
  radml ingest /pacs-export/ --out ds --image-size 256`,
  options: {
    out: { type: 'string', short: 'o', arg: '<dir>', description: 'dataset folder to write' },
    'image-size': { type: 'string', arg: 'N', description: 'side of the square cached image', default: String(DEFAULT_IMAGE_SIZE) },
    resize: { type: 'string', arg: 'pad|crop|stretch', description: 'how to make images square (pad keeps aspect)', default: 'pad' },
    columns: { type: 'string', arg: 'to=from,…', description: 'rename source CSV columns to the manifest contract' },
    'image-root': { type: 'string', arg: '<dir>', description: 'folder image paths are relative to (default: the manifest folder)' },
    findings: { type: 'string', arg: 'a,b,…', description: 'finding columns (default: detected 1/0/-1/blank columns)' },
    'label-column': { type: 'string', arg: '<col>', description: 'categorical label column (default: label)' },
    'keep-patient-ids': { type: 'boolean', description: 'keep raw DICOM patient IDs instead of salted hashes' },
    salt: { type: 'string', arg: '<text>', description: 'salt for hashing DICOM patient IDs' },
    json: { type: 'boolean', description: 'print summary.json instead of the readable summary' },
  },
  async run(args, io) {
    const source = args.positionals[0];
    if (!source || args.positionals.length > 1) throw new InputError('CLI_ARGS', 'radml ingest: give exactly one folder or manifest. See `radml ingest --help`.');
    const out = requireStr(args, 'out', 'ingest');
    if (existsSync(out) && readdirSync(out).length > 0 && !isDatasetDir(out)) {
      throw new InputError('CLI_ARGS', `${out}: the folder exists, is not empty and is not a radml dataset; choose another --out`);
    }
    const resize = str(args, 'resize') ?? 'pad';
    if (!['pad', 'crop', 'stretch'].includes(resize)) throw new InputError('CLI_ARGS', `--resize must be pad, crop or stretch, got "${resize}"`);
    const bar = progressBar(io);
    const columns = parseMapping(list(args, 'columns'));
    const findings = list(args, 'findings');
    const imageRoot = str(args, 'image-root');
    const labelColumn = str(args, 'label-column');
    const salt = str(args, 'salt');
    const res = await ingestToDir(source, out, {
      imageSize: num(args, 'image-size', { integer: true, min: 8, max: 2048 }) ?? DEFAULT_IMAGE_SIZE,
      resize: resize as 'pad' | 'crop' | 'stretch',
      keepPatientIds: bool(args, 'keep-patient-ids'),
      onProgress: bar.callback,
      ...(columns && { columns }),
      ...(findings && { findings }),
      ...(imageRoot && { imageRoot }),
      ...(labelColumn && { labelColumn }),
      ...(salt && { salt }),
    });
    bar.stop();
    io.out(bool(args, 'json') ? JSON.stringify(res.summary, null, 2) : formatSummary(res.summary));
    io.out(`Dataset written to ${out} (${join(out, 'summary.json')}).`);
    return 0;
  },
};
