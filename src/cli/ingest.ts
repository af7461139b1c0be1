import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import { DEFAULT_IMAGE_SIZE, formatSummary, ingestToDir } from '../data/ingest/index.js';
import { isDatasetDir } from '../data/dataset.js';
import { type Command, bool, choice, num, requireStr, str } from './lib/command.js';
import { MANIFEST_READING_OPTIONS, manifestReading } from './lib/columns.js';
import { manifestFromTable } from '../data/manifest.js';
import { isManifestPath, manifestSource } from '../data/ingest/sources.js';
import { progressBar } from './lib/progress-bar.js';
import { deidentifyDatasetTables } from '../deid/dataset.js';
import { parseOptions } from '../deid/profile.js';
import { makePseudonymiser, readKeyFile } from '../deid/pseudonyms.js';

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
anything was ingested. The labels used (the \`label\` column, --label-column or --findings) are recorded
in dataset.json, and \`radml train\` trains on them unless told otherwise.

Examples:
  radml ingest cohort/manifest.csv --out cohort-ds
  radml ingest metadata.csv --image-root images --columns path=filename,label=finding,patient_id=patientid --out ds
  radml ingest /pacs-export/ --out ds --image-size 256`,
  options: {
    out: { type: 'string', short: 'o', arg: '<dir>', description: 'dataset folder to write' },
    'image-size': { type: 'string', arg: 'N', description: 'side of the square cached image', default: String(DEFAULT_IMAGE_SIZE) },
    resize: { type: 'string', arg: 'pad|crop|stretch', description: 'how to make images square (pad keeps aspect)', default: 'pad' },
    ...MANIFEST_READING_OPTIONS,
    'keep-patient-ids': { type: 'boolean', description: 'keep raw DICOM patient IDs instead of salted hashes' },
    salt: { type: 'string', arg: '<text>', description: 'salt for hashing DICOM patient IDs' },
    json: { type: 'boolean', description: 'print summary.json instead of the readable summary' },
    deidentify: { type: 'boolean', description: 'write a dataset that can leave the site: the same keyed pseudonyms as radml deidentify (needs --key-file)' },
    'key-file': { type: 'string', arg: '<file>', description: 'with --deidentify: the site key used by radml deidentify' },
    'deid-options': { type: 'string', arg: '<a,b>', description: 'with --deidentify: de-identification options (e.g. retain-patient-characteristics)' },
  },
  async run(args, io) {
    const source = args.positionals[0];
    if (!source || args.positionals.length > 1) throw new InputError('CLI_ARGS', 'give exactly one folder or manifest. See `radml ingest --help`.');
    const out = requireStr(args, 'out', 'ingest');
    if (existsSync(out) && readdirSync(out).length > 0 && !isDatasetDir(out)) {
      throw new InputError('CLI_ARGS', `${out}: the folder exists, is not empty and is not a radml dataset; choose another --out`);
    }
    const resize = choice(args, 'resize', ['pad', 'crop', 'stretch']) ?? 'pad';
    const reading = manifestReading(args);
    if (existsSync(source) && isManifestPath(source)) {
      // Read the table before decoding anything: a wrong column fails now, and what is not used is said.
      const src = manifestSource(source, reading);
      const m = manifestFromTable(src.table, src.file, reading);
      for (const n of m.notes ?? []) io.err(`${m.labelKind === 'none' ? 'warning' : 'note'}: ${n}`);
    } else {
      if (reading.labelColumn || reading.findings) io.err(`warning: --${reading.labelColumn ? 'label-column' : 'findings'} is ignored for a folder of images (labels come from sub-folder names); ingest a manifest CSV to choose label columns`);
      // A metadata table beside the images is not read when the folder is given: say how to use it.
      const tables = existsSync(source) && statSync(source).isDirectory() ? readdirSync(source).filter((f) => /\.(csv|tsv)$/i.test(f)) : [];
      if (tables.length) io.err(`warning: ${join(source, tables[0]!)} is not read when ingesting the folder (labels come from sub-folder names only); to use its labels and metadata: radml ingest ${join(source, tables[0]!)} --image-root <images folder> --columns path=<file column>,label=<label column> -o ${out}`);
    }
    const deid = bool(args, 'deidentify');
    const keyFile = str(args, 'key-file');
    if (deid && !keyFile) throw new InputError('CLI_ARGS', '--deidentify needs --key-file: the pseudonyms must come from the key radml deidentify uses at this site (create one with `openssl rand -hex 32 > site.key`)');
    if (!deid && (keyFile || str(args, 'deid-options'))) io.err('warning: --key-file and --deid-options are ignored without --deidentify');
    const deidKey = deid ? readKeyFile(keyFile!).key : undefined;
    const deidOptions = parseOptions(str(args, 'deid-options'));
    if (deid && bool(args, 'keep-patient-ids')) io.err('warning: --keep-patient-ids is ignored with --deidentify (patient IDs become keyed pseudonyms)');
    const bar = progressBar(io);
    const salt = str(args, 'salt');
    const res = await ingestToDir(source, out, {
      imageSize: num(args, 'image-size', { integer: true, min: 8, max: 2048 }) ?? DEFAULT_IMAGE_SIZE,
      resize,
      // De-identification needs the raw IDs for a moment, to map them to the site's pseudonyms.
      keepPatientIds: deid || bool(args, 'keep-patient-ids'),
      onProgress: bar.callback,
      ...reading,
      ...(salt && { salt }),
    });
    bar.stop();
    if (deidKey) {
      deidentifyDatasetTables(out, makePseudonymiser(deidKey), deidOptions);
      io.err('note: dataset tables de-identified with the site key (patient, study and instance ids pseudonymised, file paths and names removed); pixels are as decoded — check burned-in text with `radml deidentify` before the dataset leaves the site');
    }
    io.out(bool(args, 'json') ? JSON.stringify(res.summary, null, 2) : formatSummary(res.summary));
    io.out(`Dataset written to ${out} (${join(out, 'summary.json')}).`);
    return 0;
  },
};
