/**
 * `radml evaluate` end to end on a large predictions file: CPU time, wall time and peak RSS of the
 * whole command (reading the CSV, every metric, 2,000 bootstrap resamples, the report), measured by
 * /usr/bin/time -v in a child process.
 * Usage: node --import tsx bench/evaluate/million.ts [--n 1000000] [--val 100000] [--decimals 4] [--bootstrap 2000] [--runs 1]
 * --decimals 0 writes full-precision scores (nearly every score distinct); 4 gives realistic ties.
 * The machine is shared (2 cores, other work running): say so next to any number from here.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../../src/util/rng.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '1000000' }, val: { type: 'string', default: '100000' }, decimals: { type: 'string', default: '4' }, bootstrap: { type: 'string', default: '2000' }, runs: { type: 'string', default: '1' } },
});
const n = Number(values.n);
const nVal = Number(values.val);
const decimals = Number(values.decimals);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (!existsSync('/usr/bin/time')) throw new Error('needs /usr/bin/time (Debian package "time")');

const dir = mkdtempSync(join(tmpdir(), 'radml-million-'));
const csv = join(dir, 'predictions.csv');
const out = createWriteStream(csv);
const rng = new Rng(42);
out.write('study_id,label,split,score_pneumonia\n');
let chunk = '';
for (let i = 0; i < n + nVal; i++) {
  const y = rng.bernoulli(0.3) ? 1 : 0;
  const p = 1 / (1 + Math.exp(-(rng.normal() + 1.2 * y - 0.4)));
  chunk += `S${i},${y ? 'pneumonia' : 'normal'},${i < n ? 'test' : 'val'},${decimals > 0 ? p.toFixed(decimals) : String(p)}\n`;
  if (chunk.length > 1 << 20) {
    out.write(chunk);
    chunk = '';
  }
}
out.end(chunk);
await new Promise<void>((res) => out.on('finish', () => res()));

console.log(`${n} evaluation + ${nVal} tuning rows, scores ${decimals > 0 ? `rounded to ${decimals} decimals` : 'at full precision'}, ${values.bootstrap} bootstrap resamples`);
for (let run = 0; run < Number(values.runs); run++) {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, '--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'evaluate', '--predictions', csv, '--out', join(dir, 'out'), '--bootstrap', String(values.bootstrap)], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`radml evaluate failed: ${r.stderr.slice(-2000)}`);
  const field = (name: string) => new RegExp(`${name}: (.*)`).exec(r.stderr)?.[1]?.trim() ?? '?';
  const results = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as { classes: Record<string, { auroc: { estimate: number; ci95_bootstrap: [number, number] } }> };
  const a = results.classes['pneumonia']!.auroc;
  console.log(
    `run ${run + 1}: user ${field('User time \\(seconds\\)')} s, system ${field('System time \\(seconds\\)')} s, wall ${field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')}, ` +
      `peak RSS ${(Number(field('Maximum resident set size \\(kbytes\\)')) / 1024).toFixed(0)} MB; AUROC ${a.estimate.toFixed(5)} bootstrap CI [${a.ci95_bootstrap[0].toFixed(5)}, ${a.ci95_bootstrap[1].toFixed(5)}]`,
  );
}
rmSync(dir, { recursive: true, force: true });
