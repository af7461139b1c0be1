/**
 * De-identifying a folder or a manifest of DICOM files into an output folder that can leave the
 * site: files named by their new UIDs (source names often carry names or IDs), a change log without
 * original values, a review list of images that may carry burned-in text, and — for a manifest —
 * the manifest with pseudonymised patient and study columns and the new paths.
 */
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readDicom } from '../data/dicom/index.js';
import { folderSource, isManifestPath, manifestSource, type SourceTable } from '../data/ingest/sources.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { formatCsv, type CsvCell } from '../util/csv.js';
import { errorMessage, InputError } from '../util/errors.js';
import { noProgress, type ProgressCallback } from '../util/progress.js';
import { blackoutPixels, detectBurnedInText, type BlackoutConfig } from './burned-in.js';
import { deidentifyDicom, type Change, type SafePrivateRule } from './dicom.js';
import { deidentifiedHeader, deidentifyRow } from './manifest.js';
import { makeProfile, type DeidOption } from './profile.js';
import { makePseudonymiser, newKeyText } from './pseudonyms.js';
import { TABLE_E1_1_EDITION } from './table-e1-1.js';
import { makeTextScrubber, type TextLexicon } from './text.js';
import { createHash } from 'node:crypto';

export interface DeidentifyRunOptions {
  /** A folder of DICOM files or a manifest CSV whose `path` column points at them. */
  input: string;
  out: string;
  options?: DeidOption[];
  /** The secret key (from a key file). Without one a new key is made and saved as `<out>/deid.key`. */
  key?: Uint8Array;
  safePrivate?: SafePrivateRule[];
  lexicon?: Partial<TextLexicon>;
  blackout?: BlackoutConfig;
  /** Run the pixel check for burned-in text (default true; costs one decode per file). */
  checkPixels?: boolean;
  columns?: Record<string, string>;
  onProgress?: ProgressCallback;
}

export interface DeidentifySummary {
  edition: string;
  options: DeidOption[];
  /** SHA-256 of the key, so runs can be matched to a key without revealing it. */
  keyFingerprint: string;
  keyFile?: string;
  files: number;
  written: number;
  skipped: { file: string; reason: string }[];
  changes: number;
  actions: Record<string, number>;
  burnedIn: { output: string; reason: string }[];
  pixelCleaned: number;
  manifest?: string;
}


/**
 * @example
 * const s = await deidentifyFiles({ input: 'export/', out: 'deid/', key: readKeyFile('site.key').key,
 *   options: ['retain-longitudinal-dates'] });
 * s.written; s.burnedIn;
 */
export async function deidentifyFiles(o: DeidentifyRunOptions): Promise<DeidentifySummary> {
  const onProgress = o.onProgress ?? noProgress;
  if (!existsSync(o.input)) throw new InputError('DEID_INPUT', `${o.input}: no such file or folder`, { file: o.input });
  const source: SourceTable = isManifestPath(o.input) ? manifestSource(o.input, o.columns ? { columns: o.columns } : {}) : folderSource(o.input);
  if (!source.table.header.includes('path')) throw new InputError('DEID_INPUT', `${o.input}: the manifest has no "path" column`, { file: o.input });
  const out = resolve(o.out);
  let key = o.key;
  let keyFile: string | undefined;
  if (!key) {
    const text = newKeyText();
    keyFile = join(out, 'deid.key');
    writeFileAtomic(keyFile, text + '\n');
    chmodSync(keyFile, 0o600);
    // The same bytes `readKeyFile` returns for this file, so a later run with --key-file links up.
    key = Buffer.from(text, 'utf8');
  }
  const options = o.options ?? [];
  const pseudonyms = makePseudonymiser(key);
  const scrubber = makeTextScrubber(o.lexicon ?? {});
  const profile = makeProfile(options);
  const logRows: Record<string, CsvCell>[] = [];
  const summary: DeidentifySummary = {
    edition: TABLE_E1_1_EDITION,
    options,
    keyFingerprint: '',
    ...(keyFile ? { keyFile } : {}),
    files: source.table.rows.length,
    written: 0,
    skipped: [],
    changes: 0,
    actions: {},
    burnedIn: [],
    pixelCleaned: 0,
  };
  const manifestRows: Record<string, string>[] = [];
  const rows = source.table.rows;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const rel = row['path'] ?? '';
    const file = join(source.root, rel);
    onProgress({ stage: 'deidentify', done: i, total: rows.length });
    try {
      const bytes = readFileSync(file);
      const result = deidentifyDicom(bytes, rel, {
        profile,
        pseudonyms,
        safePrivate: o.safePrivate ?? [],
        cleanText: (t) => scrubber.scrub(t).text,
        ...(o.blackout ? { cleanPixels: (f) => blackoutPixels(f, o.blackout!, rel) } : {}),
      });
      const outRel = `dicom/${result.studyInstanceUid ?? 'unknown-study'}/${result.sopInstanceUid ?? `row${i + 1}`}.dcm`;
      writeFileAtomic(join(out, outRel), result.bytes);
      summary.written++;
      if (result.pixelCleaned) summary.pixelCleaned++;
      for (const c of result.changes) addChange(summary, logRows, outRel, c);
      if (result.burnedInAnnotation === 'YES' && !result.pixelCleaned) summary.burnedIn.push({ output: outRel, reason: 'Burned In Annotation (0028,0301) is YES' });
      else if (o.checkPixels !== false && !result.pixelCleaned) {
        const reason = await pixelTextReason(result.bytes, outRel);
        if (reason) summary.burnedIn.push({ output: outRel, reason });
      }
      if (source.kind === 'manifest') manifestRows.push(deidentifyRow(row, { pseudonyms, options, path: outRel }));
    } catch (e) {
      summary.skipped.push({ file: rel, reason: errorMessage(e) });
    }
  }
  onProgress({ stage: 'deidentify', done: rows.length, total: rows.length });
  summary.keyFingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
  writeFileAtomic(join(out, 'deid-log.csv'), formatCsv(['output', 'path', 'tag', 'keyword', 'action'], logRows));
  writeFileAtomic(
    join(out, 'burned-in-review.csv'),
    formatCsv(['output', 'reason'], summary.burnedIn.map((b) => ({ output: b.output, reason: b.reason }))),
  );
  if (source.kind === 'manifest') {
    const header = ['path', ...deidentifiedHeader(source.table.header).filter((h) => h !== 'path')];
    writeFileAtomic(join(out, 'manifest.csv'), formatCsv(header, manifestRows));
    summary.manifest = join(out, 'manifest.csv');
  }
  writeJsonAtomic(join(out, 'summary.json'), summary);
  return summary;
}

function addChange(summary: DeidentifySummary, logRows: Record<string, CsvCell>[], output: string, c: Change): void {
  summary.changes++;
  summary.actions[c.action] = (summary.actions[c.action] ?? 0) + 1;
  logRows.push({ output, path: c.path, tag: c.tag, keyword: c.keyword, action: c.action });
}

async function pixelTextReason(bytes: Uint8Array, file: string): Promise<string | undefined> {
  let image;
  try {
    image = (await readDicom(bytes, file)).image;
  } catch {
    // No decodable image (an SR, a plan, an unsupported codec): nothing for the pixel check to see.
    return undefined;
  }
  const check = detectBurnedInText(image);
  if (!check.likely) return undefined;
  const r = check.regions[0]!;
  return `text-like pixels near the border (${check.regions.length} line(s); first at x=${r.x}, y=${r.y}, ${r.width}×${r.height} px, ${r.glyphs} glyphs)`;
}
