/**
 * AUROC + 2,000-resample stratified bootstrap CI on 100,000 predictions: radml against a scikit-learn
 * loop (bench/evaluate/peer.py), in the same run, plus DeLong timing across n to show O(n log n).
 * Usage: node --import tsx bench/evaluate/run.ts [--n 100000] [--resamples 2000] [--peer-resamples 2000]
 * The machine is shared (2 cores, other work running), so timings are noisy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../../src/util/rng.js';
import { rankScores, auroc, delongComponents, delongVariance } from '../../src/evaluate/ranking.js';
import { bootstrapAuroc } from '../../src/evaluate/bootstrap.js';
import { aurocDelong } from '../../src/evaluate/discrimination.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, resamples: { type: 'string', default: '2000' }, 'peer-resamples': { type: 'string' } } });
const n = Number(values.n);
const B = Number(values.resamples);
const peerB = Number(values['peer-resamples'] ?? B);

function data(size: number, seed: number) {
  const rng = new Rng(seed);
  const scores = new Float64Array(size);
  const labels = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const y = rng.bernoulli(0.3) ? 1 : 0;
    labels[i] = y;
    // Rounded to 4 decimals so there are realistic ties.
    scores[i] = Number((1 / (1 + Math.exp(-(rng.normal() + 1.2 * y - 0.4)))).toFixed(4));
  }
  return { scores, labels };
}

const { scores, labels } = data(n, 42);
const t0 = performance.now();
const ranked = rankScores(scores, labels);
const est = auroc(ranked);
const boot = bootstrapAuroc(ranked, { resamples: B, seed: 1 });
const radmlSeconds = (performance.now() - t0) / 1000;
console.log(`n=${n}, positives=${ranked.nPositive}, distinct scores=${ranked.groupScore.length}, resamples=${B}`);
console.log(`radml:        AUROC ${est.toFixed(6)}  bootstrap 95% CI [${boot.aurocCi[0].toFixed(5)}, ${boot.aurocCi[1].toFixed(5)}]  ${radmlSeconds.toFixed(2)} s`);

const dir = mkdtempSync(join(tmpdir(), 'radml-bench-'));
const file = join(dir, 'data.f64');
const buf = new Float64Array(2 * n);
buf.set(scores, 0);
buf.set(Float64Array.from(labels), n);
writeFileSync(file, Buffer.from(buf.buffer));
const here = dirname(fileURLToPath(import.meta.url));
const r = spawnSync('python3', [join(here, 'peer.py'), file, String(peerB), '1'], { encoding: 'utf8' });
rmSync(dir, { recursive: true, force: true });
if (r.status !== 0) {
  console.log(`scikit-learn peer failed: ${r.stderr}`);
} else {
  const p = JSON.parse(r.stdout) as { auroc: number; ci95: [number, number]; seconds: number; resamples: number };
  const peerFull = (p.seconds * B) / p.resamples;
  console.log(
    `scikit-learn: AUROC ${p.auroc.toFixed(6)}  bootstrap 95% CI [${p.ci95[0].toFixed(5)}, ${p.ci95[1].toFixed(5)}]  ${p.seconds.toFixed(2)} s` +
      (p.resamples !== B ? ` for ${p.resamples} resamples (→ ${peerFull.toFixed(1)} s for ${B}, extrapolated linearly)` : ''),
  );
  console.log(`ratio (scikit-learn / radml): ${(peerFull / radmlSeconds).toFixed(1)}×`);
}

// DeLong: time per n; O(n log n) shows as a near-constant time / (n log n).
console.log('\nDeLong AUROC + variance (one sort, midranks from running counts):');
for (const size of [10_000, 100_000, 1_000_000]) {
  const d = data(size, 7);
  const reps = size >= 1_000_000 ? 1 : 3;
  let best = Infinity;
  let ci: [number, number] | null = null;
  for (let k = 0; k < reps; k++) {
    const s = performance.now();
    const res = aurocDelong(d.scores, d.labels);
    best = Math.min(best, performance.now() - s);
    ci = res.ci95;
  }
  console.log(`  n=${String(size).padStart(9)}  ${best.toFixed(1).padStart(8)} ms   ns/(n·log2 n) = ${((best * 1e6) / (size * Math.log2(size))).toFixed(2)}   CI [${ci?.[0].toFixed(5)}, ${ci?.[1].toFixed(5)}]`);
}
void delongComponents;
void delongVariance;
