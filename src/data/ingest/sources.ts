/** Turning what the user points at (a manifest CSV, or a folder of images) into manifest rows. */
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve, dirname } from 'node:path';
import { type CsvTable, readCsv } from '../../util/csv.js';
import { InputError } from '../../util/errors.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp', '.dcm', '.dicom', '.ima', '']);
const SKIP_NAMES = new Set(['DICOMDIR', '.DS_Store', 'Thumbs.db']);

/** Source table plus the folder its paths are relative to. */
export interface SourceTable {
  table: CsvTable;
  /** File name used in messages (the manifest, or the folder for folder sources). */
  file: string;
  /** Folder that `path` values are relative to. */
  root: string;
  kind: 'manifest' | 'folder';
}

/**
 * Rename a user's columns to the manifest contract, e.g. `{ path: 'filename', label: 'finding',
 * patient_id: 'patientid' }` for a CSV that uses its own names. Unmapped columns stay as they are.
 */
export function mapColumns(table: CsvTable, mapping: Record<string, string>, file: string): CsvTable {
  for (const [to, from] of Object.entries(mapping)) {
    if (!table.header.includes(from)) throw new InputError('CLI_ARGS', `${file}: column "${from}" (mapped to "${to}") is not in the header: ${table.header.join(', ')}`, { file });
  }
  const rename = new Map(Object.entries(mapping).map(([to, from]) => [from, to] as const));
  const targets = new Set(Object.keys(mapping));
  // A column already named like a mapping target is dropped in favour of the mapped one.
  const header = table.header.filter((h) => rename.has(h) || !targets.has(h)).map((h) => rename.get(h) ?? h);
  const rows = table.rows.map((r) => {
    const o: Record<string, string> = {};
    for (const h of table.header) {
      if (rename.has(h)) o[rename.get(h)!] = r[h] ?? '';
      else if (!targets.has(h)) o[h] = r[h] ?? '';
    }
    return o;
  });
  return { header, rows, lines: table.lines };
}

function listFiles(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 16) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || SKIP_NAMES.has(name)) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) listFiles(p, out, depth + 1);
    else if (st.isFile() && IMAGE_EXTENSIONS.has(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

/**
 * A folder becomes a manifest: every image file below it (DICOM files often have no extension).
 * When every image sits exactly one level down in two or more sub-folders, the sub-folder name is
 * the categorical label (the common `class/image.png` layout).
 */
export function folderSource(dir: string): SourceTable {
  const root = resolve(dir);
  const files = listFiles(root);
  if (files.length === 0) throw new InputError('INGEST_EMPTY', `${dir}: no image files found (PNG, JPEG, TIFF, WebP or DICOM)`, { file: dir });
  const rel = files.map((f) => relative(root, f).split('\\').join('/'));
  const parents = rel.map((r) => r.split('/'));
  const byFolder = parents.every((p) => p.length === 2) && new Set(parents.map((p) => p[0])).size >= 2;
  const header = byFolder ? ['path', 'label'] : ['path'];
  const rows = rel.map((p, i): Record<string, string> => (byFolder ? { path: p, label: parents[i]![0]! } : { path: p }));
  return { table: { header, rows, lines: rows.map((_, i) => i + 2) }, file: dir, root, kind: 'folder' };
}

export function manifestSource(file: string, opts: { columns?: Record<string, string>; imageRoot?: string } = {}): SourceTable {
  let table = readCsv(file);
  if (opts.columns && Object.keys(opts.columns).length) table = mapColumns(table, opts.columns, file);
  const root = opts.imageRoot ? resolve(dirname(resolve(file)), opts.imageRoot) : dirname(resolve(file));
  return { table, file, root, kind: 'manifest' };
}

export function isManifestPath(path: string): boolean {
  return statSync(path).isFile() && ['.csv', '.tsv', '.txt'].includes(extname(path).toLowerCase());
}

export function describeSource(path: string): string {
  return basename(path);
}
