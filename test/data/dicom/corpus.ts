/**
 * Test helper: decode a corpus of DICOM files with radml and with pydicom (corpus_oracle.py) and sort
 * each file into decoded-equal / refused-with-reason / mismatch (see compareCorpus).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDicomFile } from '../../../src/data/dicom/index.js';
import { RadmlError, UnsupportedError, errorMessage } from '../../../src/util/errors.js';
import { tmpDir } from './oracle.js';

const here = dirname(fileURLToPath(import.meta.url));

interface OracleRecord {
  file: string;
  status: 'ok' | 'no-pixels' | 'refused' | 'unreadable';
  error?: string;
  frames?: number;
  compared?: number[];
  rows?: number;
  columns?: number;
  transferSyntax?: string;
  photometric?: string;
}

export type Outcome =
  /** pydicom decoded it; radml's values agree within the tolerance. */
  | 'equal'
  /** pydicom decoded it; radml refused it with UnsupportedError (a feature out of scope, said plainly). */
  | 'refused'
  /** pydicom decoded it; radml's values differ, or radml failed with anything but UnsupportedError. */
  | 'mismatch'
  /** pydicom found no pixels; radml refused it with a typed error. */
  | 'no-pixels'
  /** pydicom could not decode it either; radml refused with a typed error (or decoded it). */
  | 'pydicom-refused';

export interface CorpusResult {
  file: string;
  outcome: Outcome;
  detail: string;
}

/** Lossy transfer syntaxes: ±1 grey level (decoders legitimately differ in IDCT rounding). */
const LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.203']);

/**
 * Files where pydicom itself is wrong, compared instead with pydicom's decoding of a twin file holding
 * the same image: pydicom 3.0 reads big-endian OW Palette Color LUT Data as little endian (each
 * 16-bit entry byte-swapped, e.g. 255 → 65280), so its colours for these files are not the image's.
 */
export const PYDICOM_TWINS: Record<string, { twin: string; why: string }> = {
  'OBXXXX1A_expb.dcm': { twin: 'OBXXXX1A.dcm', why: 'pydicom byte-swaps big-endian palette LUT data' },
  'OBXXXX1A_expb_2frame.dcm': { twin: 'OBXXXX1A_2frame.dcm', why: 'pydicom byte-swaps big-endian palette LUT data' },
};

/** Name of a corpus file without the folder prefix the test gives flattened copies (`data__`, `test_files__`). */
function plainName(path: string): string {
  return basename(path).replace(/^.*__/, '');
}

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * Compare radml with pydicom on each file. Values are compared on radml's `modalityValues` scale
 * for every frame the oracle reports, in stored grey levels (difference / |Rescale Slope|).
 */
export async function compareCorpus(files: string[]): Promise<CorpusResult[]> {
  const out = tmpDir('radml-dicom-corpus-');
  const twinOf = (f: string): string => {
    const t = PYDICOM_TWINS[plainName(f)];
    if (!t) return f;
    const twin = files.find((g) => plainName(g) === t.twin);
    return twin ?? f;
  };
  const lines = execFileSync('python3', [join(here, 'corpus_oracle.py'), out, ...files.map(twinOf)], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OracleRecord);
  const results: CorpusResult[] = [];
  for (const [i, o] of lines.entries()) {
    const path = files[i]!;
    const name = basename(path);
    const viaTwin = path !== o.file ? ` (reference: pydicom on ${basename(o.file)}; ${PYDICOM_TWINS[plainName(path)]!.why})` : '';
    let d;
    try {
      d = await readDicomFile(path);
    } catch (e) {
      const typed = e instanceof RadmlError;
      const msg = errorMessage(e);
      if (o.status === 'ok') {
        results.push({ file: name, outcome: e instanceof UnsupportedError ? 'refused' : 'mismatch', detail: msg });
      } else {
        results.push({ file: name, outcome: typed ? (o.status === 'no-pixels' ? 'no-pixels' : 'pydicom-refused') : 'mismatch', detail: `${msg}${o.error ? ` | pydicom: ${o.error}` : ''}` });
      }
      continue;
    }
    if (o.status !== 'ok') {
      // pydicom found no pixels or failed; radml decoded something. Listed, not failed: the report shows them.
      results.push({ file: name, outcome: 'pydicom-refused', detail: `radml decoded ${d.frames} frame(s); pydicom: ${o.status} ${o.error ?? ''}` });
      continue;
    }
    const ref = f32(join(out, `${i}.f32`));
    const n = o.rows! * o.columns!;
    if (d.frames !== o.frames) {
      results.push({ file: name, outcome: 'mismatch', detail: `radml sees ${d.frames} frame(s), pydicom ${o.frames}` });
      continue;
    }
    const slope = d.header.samplesPerPixel === 1 && d.header.photometricInterpretation !== 'PALETTE COLOR' ? Math.abs(d.header.rescaleSlope) || 1 : 1;
    let worst = 0;
    let problem = '';
    for (const [k, frame] of o.compared!.entries()) {
      const fr = await d.readFrame(frame);
      if (fr.image.width !== o.columns || fr.image.height !== o.rows) {
        problem = `frame ${frame}: radml ${fr.image.width}×${fr.image.height}, pydicom ${o.columns}×${o.rows}`;
        break;
      }
      for (let j = 0; j < n; j++) {
        const a = fr.modalityValues[j]!, b = ref[k * n + j]!;
        // Float Pixel Data: compare relative to the magnitude (float32 both sides, so exact in practice).
        const diff = Number.isNaN(a) && Number.isNaN(b) ? 0 : Math.abs(a - b) / slope / Math.max(1, Math.abs(b) * 1e-6);
        if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
      }
    }
    // Lossy YCbCr: ±1 level in each decoded component (checked separately for examples_ybr_color.dcm)
    // becomes up to ~1.6 levels of luma after the conversion to 8-bit RGB rounds and clips each channel.
    const ybr = o.photometric?.startsWith('YBR_FULL') || o.photometric === 'RGB';
    const allowed = LOSSY.has(o.transferSyntax ?? '') ? (d.header.samplesPerPixel === 3 && ybr ? 2 : 1) : 1e-3;
    if (problem) results.push({ file: name, outcome: 'mismatch', detail: problem });
    else if (worst > allowed + 1e-3) results.push({ file: name, outcome: 'mismatch', detail: `max |Δ| = ${worst.toFixed(3)} grey levels (allowed ${allowed})${viaTwin}` });
    else results.push({ file: name, outcome: 'equal', detail: `max |Δ| = ${worst.toFixed(3)} over ${o.compared!.length} frame(s)${viaTwin}` });
  }
  return results;
}
