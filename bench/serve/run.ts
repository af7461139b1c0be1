/**
 * bench/serve: (1) single-image inference over HTTP under concurrency — requests/s and p50/p99
 * latency for `POST /v1/predict` (auth, audit, metrics and all), side by side with a minimal
 * Python peer (ThreadingHTTPServer + pydicom + numpy + onnxruntime) serving the same ONNX model on
 * the same DICOM with the same preprocessing (VOI window, then model.json's resize and normalise),
 * its scores checked equal to radml's before anything is timed; (2) studies/minute through the Orthanc bridge (change feed → WADO-RS → model →
 * SR + SC by STOW-RS), and in silent mode.
 *
 *   node --import tsx bench/serve/run.ts [--seconds 5] [--studies 24]
 *
 * The load generator runs in this process and shares the machine's 2 cores with the server (and
 * with other engineers' work): numbers are noisy and a lower bound.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCohort } from '../../src/data/synth/index.js';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { freePort, makeModelFolder, orthancSkip, startOrthanc } from '../../test/serve/fixtures.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ModelRegistry } from '../../src/serve/registry.js';
import { addToken } from '../../src/serve/auth.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, studies: { type: 'string', default: '24' }, size: { type: 'string', default: '128' } } });
const SECONDS = Number(values.seconds);
const STUDIES = Number(values.studies);
const SIZE = Number(values.size);

interface LoadResult { concurrency: number; requests: number; errors: number; rps: number; p50: number; p99: number }

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Closed-loop load: `concurrency` clients each send the next request when the last one answered. */
async function load(url: string, body: Uint8Array, headers: Record<string, string>, concurrency: number, seconds: number): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  // Warm-up (model load, JIT) outside the measured window.
  for (let i = 0; i < 3; i++) await (await fetch(url, { method: 'POST', headers, body })).arrayBuffer();
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const r = await fetch(url, { method: 'POST', headers, body });
        await r.arrayBuffer();
        if (r.ok) lat.push(performance.now() - s);
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { concurrency, requests: lat.length, errors, rps: lat.length / elapsed, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

function row(name: string, r: LoadResult): string {
  return `${name.padEnd(22)} c=${String(r.concurrency).padStart(2)}  ${r.rps.toFixed(1).padStart(7)} req/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  (${r.requests} ok, ${r.errors} errors)`;
}

async function inferenceBench(dir: string): Promise<void> {
  console.log(`\n## single-image inference (DICOM 512x512 16-bit DX → ${SIZE}px CNN), ${SECONDS} s per point`);
  const cohort = join(dir, 'cohort-inf');
  await generateCohort({ out: cohort, n: 1, sites: 1, seed: 3, size: 512 });
  const dcm = new Uint8Array(readFileSync(join(cohort, 'dicom', readdirSync(join(cohort, 'dicom'))[0]!)));
  const modelDir = makeModelFolder(join(dir, 'model'), 1, { size: SIZE });
  // The service runs as `radml serve` in its own process, like the peer, so the load generator
  // here does not share its event loop.
  const store = SqliteStore.open(join(dir, 'inf.db'));
  const registry = new ModelRegistry(store, join(dir, 'models-inf'));
  const { model } = await registry.registerFolder('bench', modelDir, 'bench');
  await registry.setStatus('bench', model.version, 'champion');
  await registry.close();
  await store.close();
  const token = addToken(join(dir, 'tokens.json'), 'bench', 'service');
  const svcPort = await freePort();
  writeFileSync(join(dir, 'inf.json'), JSON.stringify({ listen: { port: svcPort }, store: 'inf.db', modelsDir: 'models-inf', tokensFile: 'tokens.json', heatmapGrid: 0, logLevel: 'error' }));
  const svcProc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts'), 'serve', '--config', join(dir, 'inf.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const svcUrl = `http://127.0.0.1:${svcPort}`;
  for (let i = 0; i < 300; i++) {
    if ((await fetch(`${svcUrl}/health`).catch(() => undefined))?.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const port = await freePort();
  // The peer needs pydicom + numpy + onnxruntime: the project's test virtualenv has them (PEER_PYTHON overrides).
  const venvPython = join(import.meta.dirname, '..', '..', '.venv', 'bin', 'python3');
  const python = process.env.PEER_PYTHON ?? (existsSync(venvPython) ? venvPython : 'python3');
  const peer = spawn(python, [join(import.meta.dirname, 'peer_server.py'), join(modelDir, 'model.onnx'), String(SIZE), String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  let peerExit: number | null | undefined;
  peer.once('exit', (c) => (peerExit = c));
  try {
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok) break;
      if (peerExit !== undefined) throw new Error(`bench/serve: the Python peer exited (${peerExit}); it needs pydicom, numpy and onnxruntime (set PEER_PYTHON)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Same work on both sides: the same scores for the same DICOM, or no timing at all.
    const one = async (url: string, headers: Record<string, string>) => ((await (await fetch(url, { method: 'POST', headers, body: dcm })).json()) as { scores: Record<string, number> }).scores;
    const ours = await one(`${svcUrl}/v1/predict`, { authorization: `Bearer ${token}`, 'content-type': 'application/dicom' });
    const theirs = await one(`http://127.0.0.1:${port}/predict`, { 'content-type': 'application/dicom' });
    const diff = Math.max(...Object.keys(ours).map((k) => Math.abs(ours[k]! - (theirs[k] ?? NaN))));
    console.log(`outputs checked: radml ${JSON.stringify(ours)} vs peer ${JSON.stringify(theirs)}, max |difference| ${diff.toExponential(2)}`);
    if (!(diff < 1e-4)) throw new Error(`bench/serve: radml and the peer disagree (max |difference| ${diff}); the comparison would not be like for like`);
    for (const c of [1, 4, 16]) {
      const a = await load(`${svcUrl}/v1/predict`, dcm, { authorization: `Bearer ${token}`, 'content-type': 'application/dicom' }, c, SECONDS);
      const b = await load(`http://127.0.0.1:${port}/predict`, dcm, { 'content-type': 'application/dicom' }, c, SECONDS);
      console.log(row('radml serve', a));
      console.log(row('python peer', b));
      console.log(`${''.padEnd(22)} ratio radml/peer: ${(a.rps / b.rps).toFixed(2)}x req/s, p50 ${(a.p50 / b.p50).toFixed(2)}x`);
    }
  } finally {
    peer.kill('SIGTERM');
    const exited = new Promise((r) => svcProc.once('exit', r));
    svcProc.kill('SIGTERM');
    await exited;
  }
}

async function bridgeBench(dir: string, silent: boolean, heatmapGrid: number): Promise<void> {
  const orthanc = await startOrthanc(join(dir, `orthanc-${silent}-${heatmapGrid}`));
  try {
    const cohort = join(dir, 'cohort-bridge');
    if (!readdirSync(dir).includes('cohort-bridge')) await generateCohort({ out: cohort, n: STUDIES, sites: 2, seed: 9, size: 512 });
    for (const f of readdirSync(join(cohort, 'dicom'))) await orthanc.upload(readFileSync(join(cohort, 'dicom', f)));
    const tag = `${silent ? 'silent' : 'sr+sc'}-${heatmapGrid}`;
    const cfg = parseServeConfig({
      listen: { port: 0 }, store: `bridge-${tag}.db`, modelsDir: `models-${tag}`, tokensFile: 'none.json', silent, heatmapGrid,
      orthanc: { url: orthanc.url, watch: 'changes', startFrom: 'beginning', pollIntervalMs: 100 },
      worker: { concurrency: 2, idleMs: 20 },
    }, dir);
    const svc = await startService(cfg);
    const { model } = await svc.registry.registerFolder('bench', makeModelFolder(join(dir, `model-${tag}`), 1, { size: SIZE }), 'bench');
    // Studies are stable in Orthanc already (StableAge 1 s passed during upload); time from activation.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = performance.now();
    await svc.registry.setStatus('bench', model.version, 'champion');
    for (;;) {
      const c = await svc.store.jobCounts();
      if (c.done + c.failed >= STUDIES) {
        if (c.failed) console.log(`  ${c.failed} jobs failed`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`${(silent ? 'silent (record only)' : `SR + SC, heatmap ${heatmapGrid}x${heatmapGrid}`).padEnd(30)} ${STUDIES} studies in ${s.toFixed(2)} s = ${((STUDIES / s) * 60).toFixed(0)} studies/min`);
    await svc.stop();
  } finally {
    await orthanc.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'radml-bench-serve-'));
try {
  console.log(`# bench/serve — ${new Date().toISOString()}, node ${process.version}, 2 shared cores (noisy)`);
  await inferenceBench(dir);
  if (orthancSkip) console.log(`\n(bridge bench skipped: ${orthancSkip})`);
  else {
    console.log(`\n## Orthanc bridge: ${STUDIES} synthetic DX studies (512x512), change feed → WADO-RS → ${SIZE}px model → STOW-RS, worker concurrency 2`);
    await bridgeBench(dir, false, 8);
    await bridgeBench(dir, false, 0);
    await bridgeBench(dir, true, 0);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
