/**
 * DICOM ingest throughput: read + decode + rescale + VOI + resize to 256×256, radml vs pydicom
 * (+ pylibjpeg, numpy, PIL BOX) on the files in ../shared/data/dicom, in the same run.
 *
 *   node --import tsx bench/ingest/run.ts [--seconds 3] [--blocks 3] [--workers 2]
 *
 * `--workers N` also times radml's ingest pool (src/data/ingest/pool.ts: N decoder threads, WASM codecs
 * initialised once per thread) on the same files, against the single-process pydicom figure.
 *
 * Files pydicom cannot decode (jpeg_lossy.dcm: pylibjpeg rejects its stream) are left out of both
 * sides so the two do the same work; radml's time on them is printed separately.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, basename, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readDicom } from '../../src/data/dicom/index.js';
import { resizeImage } from '../../src/data/preprocess/resize.js';
import { IngestPool } from '../../src/data/ingest/pool.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = join(process.cwd(), '..', 'shared', 'data', 'dicom');
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const minSeconds = arg('--seconds', 3);
/** Sides alternate in blocks so that load from other work on the shared cores hits both alike. */
const blocks = arg('--blocks', 3);
const workers = arg('--workers', 0);

/** Throughput of the ingest worker pool on the files, cycled. */
async function pooled(files: string[], seconds: number, decodeSize?: number): Promise<{ images: number; seconds: number }> {
  const pool = new IngestPool(workers);
  try {
    const req = (path: string) => ({ path, size: 256, mode: 'stretch' as const, read: decodeSize !== undefined ? { decodeSize } : {} });
    await Promise.all(files.map((f) => pool.decode(req(f)))); // warm-up: threads start, codecs load
    // A continuous stream (no per-round barrier): each thread always has one image queued behind it.
    let images = 0;
    let next = 0;
    const start = performance.now();
    const stream = async () => {
      while ((performance.now() - start) / 1000 < seconds) {
        await pool.decode(req(files[next++ % files.length]!));
        images++;
      }
    };
    await Promise.all(Array.from({ length: workers * 2 }, stream));
    return { images, seconds: (performance.now() - start) / 1000 };
  } finally {
    await pool.close();
  }
}

async function ingest(path: string, decodeSize?: number): Promise<void> {
  const d = await readDicom(await readFile(path), path, decodeSize !== undefined ? { decodeSize } : {});
  const out = resizeImage(d.image, 256, 'stretch');
  if (out.data.length !== 256 * 256) throw new Error('bad resize');
}

interface Run {
  images: number;
  seconds: number;
  perFileMs: Record<string, number>;
}

async function radml(files: string[], seconds: number, decodeSize?: number): Promise<Run> {
  for (const f of files) await ingest(f, decodeSize); // warm-up: WASM codecs load lazily
  const per: Record<string, number> = Object.fromEntries(files.map((f) => [f, 0]));
  let images = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (const f of files) {
      const t = performance.now();
      await ingest(f, decodeSize);
      per[f]! += performance.now() - t;
      images++;
    }
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  const rounds = images / files.length;
  return { images, seconds: elapsed, perFileMs: Object.fromEntries(files.map((f) => [f, per[f]! / rounds])) };
}

/** Sum of images and seconds over blocks; per-file times weighted by each block's rounds. */
function combine(rs: Run[]): Run {
  const images = rs.reduce((a, r) => a + r.images, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  const perFileMs: Record<string, number> = {};
  const nFiles = Object.keys(rs[0]!.perFileMs).length;
  for (const f of Object.keys(rs[0]!.perFileMs)) {
    perFileMs[f] = rs.reduce((a, r) => a + r.perFileMs[f]! * (r.images / nFiles), 0) / (images / nFiles);
  }
  return { images, seconds, perFileMs };
}

async function main(): Promise<void> {
  if (!existsSync(dir)) {
    console.log(`skipped: needs ${dir}`);
    return;
  }
  const all = readdirSync(dir).filter((f) => f.endsWith('.dcm') && !f.startsWith('rtplan')).sort().map((f) => join(dir, f));
  const excluded = all.filter((f) => basename(f) === 'jpeg_lossy.dcm');
  const files = all.filter((f) => !excluded.includes(f));

  const runs: { ours: Run[]; reduced: Run[]; peer: Run[] } = { ours: [], reduced: [], peer: [] };
  let resize = '';
  for (let b = 0; b < blocks; b++) {
    runs.ours.push(await radml(files, minSeconds / blocks));
    runs.reduced.push(await radml(files, minSeconds / blocks, 256));
    const peerRun = spawnSync('python3', [join(here, 'peer.py'), String(minSeconds / blocks), ...files], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (peerRun.status !== 0) throw new Error(`peer failed: ${peerRun.stderr}`);
    const p = JSON.parse(peerRun.stdout) as { images: number; seconds: number; resize: string; per_file_ms: Record<string, number> };
    resize = p.resize;
    runs.peer.push({ images: p.images, seconds: p.seconds, perFileMs: p.per_file_ms });
  }
  const ours = combine(runs.ours), reduced = combine(runs.reduced);
  const peer = { ...combine(runs.peer), resize };

  const oursRate = ours.images / ours.seconds;
  const reducedRate = reduced.images / reduced.seconds;
  const peerRate = peer.images / peer.seconds;
  console.log(`DICOM read + decode + rescale + VOI + resize to 256×256, ${files.length} files (2 cores shared with other work: numbers are noisy)`);
  console.log(`${'file'.padEnd(38)} ${'radml ms'.padStart(9)} ${'radml@256 ms'.padStart(13)} ${'pydicom ms'.padStart(11)} ${'pydicom/radml'.padStart(14)}`);
  for (const f of files) {
    const a = ours.perFileMs[f]!, r = reduced.perFileMs[f]!, b = peer.perFileMs[f]!;
    console.log(`${basename(f).padEnd(38)} ${a.toFixed(2).padStart(9)} ${r.toFixed(2).padStart(13)} ${b.toFixed(2).padStart(11)} ${(b / a).toFixed(2).padStart(13)}×`);
  }
  console.log(`radml (full-resolution decode):            ${oursRate.toFixed(1)} images/s (${ours.images} in ${ours.seconds.toFixed(2)} s)`);
  console.log(`radml (decodeSize 256: J2K at a reduced level): ${reducedRate.toFixed(1)} images/s (${reduced.images} in ${reduced.seconds.toFixed(2)} s)`);
  console.log(`pydicom + pylibjpeg + numpy:               ${peerRate.toFixed(1)} images/s (${peer.images} in ${peer.seconds.toFixed(2)} s; resize: ${peer.resize})`);
  console.log(`ratio radml / pydicom: full ${(oursRate / peerRate).toFixed(2)}×, decodeSize 256 ${(reducedRate / peerRate).toFixed(2)}×`);
  if (workers > 0) {
    const full = await pooled(files, minSeconds);
    const red = await pooled(files, minSeconds, 256);
    const a = full.images / full.seconds, b = red.images / red.seconds;
    console.log(`radml ingest pool, ${workers} worker threads: full ${a.toFixed(1)} images/s (${(a / peerRate).toFixed(2)}× pydicom), decodeSize 256 ${b.toFixed(1)} images/s (${(b / peerRate).toFixed(2)}× pydicom)`);
  }
  if (excluded.length) {
    const extra = await radml(excluded, 0.5);
    console.log(`radml only (pydicom cannot decode): ${excluded.map((f) => basename(f)).join(', ')} ${(extra.seconds * 1000 / extra.images).toFixed(2)} ms/image`);
  }
}

await main();
