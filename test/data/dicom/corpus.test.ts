/**
 * radml's reader against pydicom on pydicom's own test corpus: the files shipped in the pydicom wheel
 * (test venv), plus — when RADML_PYDICOM_CORPUS names a folder — any further corpus (e.g. the full
 * pydicom repository's test files and pydicom-data). Every file pydicom decodes must decode to the
 * same values (±1 grey level for lossy JPEG) or be refused with UnsupportedError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseDicomBytes } from '../../../src/data/dicom/parse.js';
import { extractHeader } from '../../../src/data/dicom/header.js';
import { decodeRawFrame } from '../../../src/data/dicom/decode.js';
import { compareCorpus, type CorpusResult } from './corpus.js';
import { tmpDir } from './oracle.js';

const NOT_DICOM = /\.(txt|json|gz|icc|dump|py|pyc|md)$|README/i;

function wheelTestFiles(): string | undefined {
  try {
    const dir = execFileSync('python3', ['-c', 'import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files"))'], { encoding: 'utf8' }).trim();
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else if (!NOT_DICOM.test(name)) out.push(p);
  }
  return out.sort();
}

function summary(results: CorpusResult[]): Record<string, number> {
  const c: Record<string, number> = { equal: 0, refused: 0, mismatch: 0, 'no-pixels': 0, 'pydicom-refused': 0 };
  for (const r of results) c[r.outcome] = (c[r.outcome] ?? 0) + 1;
  return c;
}

async function checkCorpus(files: string[], t: { diagnostic(m: string): void }): Promise<Record<string, number>> {
  const results = await compareCorpus(files);
  const c = summary(results);
  t.diagnostic(`${files.length} files: ${c.equal} decoded equal, ${c.refused} refused with a reason, ${c.mismatch} mismatching; ${c['no-pixels']} without pixels, ${c['pydicom-refused']} pydicom cannot decode either`);
  for (const r of results) if (r.outcome !== 'equal' && r.outcome !== 'no-pixels') t.diagnostic(`${r.outcome}: ${r.file}: ${r.detail.split('\n')[0]}`);
  assert.deepEqual(results.filter((r) => r.outcome === 'mismatch'), []);
  return c;
}

const wheel = wheelTestFiles();

test("pydicom wheel's test files: radml decodes what pydicom decodes, to the same values", { skip: wheel ? false : 'needs python3 with pydicom (test/requirements.txt)' }, async (t) => {
  const files = listFiles(wheel!);
  assert.ok(files.length >= 50, `${files.length} files in ${wheel}`);
  const c = await checkCorpus(files, t);
  // Every image the wheel ships that pydicom decodes, radml decodes: no refusals left.
  assert.equal(c.refused, 0);
  assert.ok(c.equal >= 50, `${c.equal} equal`);
});

const extra = process.env['RADML_PYDICOM_CORPUS'];

test('further corpus from RADML_PYDICOM_CORPUS (full pydicom test files + pydicom-data)', { skip: !extra ? 'set RADML_PYDICOM_CORPUS to a folder of DICOM files to run' : !wheel ? 'needs python3 with pydicom' : false }, async (t) => {
  const files = listFiles(extra!);
  assert.ok(files.length > 0, `no files in ${extra}`);
  await checkCorpus(files, t);
});

test('lossy YCbCr JPEG: each decoded component within one level of pydicom (before the RGB conversion)', { skip: wheel ? false : 'needs python3 with pydicom (test/requirements.txt)' }, async () => {
  const file = join(wheel!, 'examples_ybr_color.dcm');
  const dir = tmpDir('radml-ybr-');
  execFileSync('python3', ['-c', `
import numpy as np, sys
from pydicom.pixels import pixel_array
a = pixel_array(sys.argv[1], as_rgb=False, index=0)
a.astype(np.uint8).tofile(sys.argv[2])
`, file, join(dir, 'ref.u8')]);
  const ref = new Uint8Array(readFileSync(join(dir, 'ref.u8')));
  const parsed = parseDicomBytes(new Uint8Array(readFileSync(file)), file);
  const h = extractHeader(parsed);
  assert.equal(h.photometricInterpretation, 'YBR_FULL_422');
  const raw = await decodeRawFrame(parsed.dataSet, parsed.dataSet.elements['x7fe00010']!, parsed.transferSyntax!, h, 0, file);
  assert.equal(raw.colour, 'ybr');
  assert.equal(raw.samples.length, ref.length);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(raw.samples[i]! - ref[i]!));
  assert.ok(worst <= 1, `max component difference ${worst}`);
});
