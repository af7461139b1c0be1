/** Test helpers: run the pydicom oracle and the variant builder (Python scripts beside this file). */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** A fresh tmp dir, removed when the test process exits. */
export function tmpDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const SHARED_DICOM = join(process.cwd(), '..', 'shared', 'data', 'dicom');

/** Small real files committed with the tests (test/fixtures/dicom, licences beside them). */
export const FIXTURE_DICOM = join(here, '..', '..', 'fixtures', 'dicom');

/** Path of a test DICOM file: ../shared/data/dicom when present, else the committed copy, else undefined. */
export function dicomPath(name: string): string | undefined {
  for (const dir of [SHARED_DICOM, FIXTURE_DICOM]) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** `false` when every named test file is available (shared or committed), else a skip reason. */
export function needsDicom(...names: string[]): false | string {
  const missing = names.filter((n) => dicomPath(n) === undefined);
  return missing.length ? `needs ${missing.join(', ')} (../shared/data/dicom)` : false;
}

/** The folder holding the files make_variants.py starts from (mr_small, ct_small, jpeg_lossy). */
export function variantSource(): string {
  return existsSync(join(SHARED_DICOM, 'mr_small.dcm')) ? SHARED_DICOM : FIXTURE_DICOM;
}

export interface OracleResult {
  file: string;
  ok: boolean;
  error?: string;
  rows?: number;
  columns?: number;
  decoder?: string;
  voi?: string;
  modality?: Float32Array;
  display?: Float32Array;
}

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** pydicom's modality values and display image (see pydicom_oracle.py) for each file. */
export function pydicomOracle(files: string[]): OracleResult[] {
  const out = tmpDir('radml-dicom-oracle-');
  const json = execFileSync('python3', [join(here, 'pydicom_oracle.py'), out, ...files], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const results = JSON.parse(json) as OracleResult[];
  results.forEach((r, i) => {
    if (r.ok) {
      r.modality = f32(join(out, `${i}.mod.f32`));
      r.display = f32(join(out, `${i}.disp.f32`));
    }
  });
  return results;
}

let variants: { dir: string; files: Record<string, string> } | undefined;

/** Build the test variants into a tmp dir (once per process); returns name → path. */
export function makeVariants(): { dir: string; files: Record<string, string> } {
  if (variants) return variants;
  const dir = tmpDir('radml-dicom-variants-');
  const json = execFileSync('python3', [join(here, 'make_variants.py'), variantSource(), dir], { encoding: 'utf8' });
  variants = { dir, files: JSON.parse(json) as Record<string, string> };
  return variants;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
