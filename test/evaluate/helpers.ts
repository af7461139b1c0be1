/** Shared test helpers: a Python oracle runner and a seeded synthetic predictions table. */
import { spawnSync } from 'node:child_process';
import { Rng } from '../../src/util/rng.js';
import type { CsvTable } from '../../src/util/csv.js';

/** Run a Python script that reads JSON on stdin and prints JSON on stdout. */
export function python<T>(script: string, input: unknown): T {
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Run an R script (Rscript --vanilla -e) with the given text on stdin; returns stdout. */
export function rscript(script: string, stdin: string): string {
  const r = spawnSync('Rscript', ['--vanilla', '-e', script], { input: stdin, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`Rscript failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface SynthOptions {
  n: number;
  seed: number;
  /** Round scores to this many decimals to create ties. */
  decimals?: number;
  /** Score shift for the positive class (separation). */
  separation?: number;
}

/**
 * A predictions table in the DESIGN.md contract: path, label (normal/pneumonia), split (val/test),
 * sex, age, site, score_pneumonia and a second model's score_pneumonia_v2. Site C is harder and
 * women at site B are under-called, so subgroup and site analyses have something to find.
 */
export function syntheticPredictions(o: SynthOptions): CsvTable {
  const rng = new Rng(o.seed);
  const rows: Record<string, string>[] = [];
  const sep = o.separation ?? 1.5;
  for (let i = 0; i < o.n; i++) {
    const site = rng.pick(['A', 'A', 'B', 'C']);
    const sex = rng.bernoulli(0.5) ? 'F' : 'M';
    const age = Math.round(rng.uniform(5, 95));
    const pos = rng.bernoulli(site === 'C' ? 0.45 : 0.3);
    let z = rng.normal() + (pos ? sep * (site === 'C' ? 0.6 : 1) : 0) - 0.8;
    if (site === 'B' && sex === 'F' && pos) z -= 0.7;
    let p = 1 / (1 + Math.exp(-z));
    let p2 = 1 / (1 + Math.exp(-(z * 0.8 + rng.normal() * 0.7)));
    if (o.decimals !== undefined) {
      p = Number(p.toFixed(o.decimals));
      p2 = Number(p2.toFixed(o.decimals));
    }
    rows.push({
      path: `img/${i}.png`,
      label: pos ? 'pneumonia' : 'normal',
      split: rng.bernoulli(0.4) ? 'val' : 'test',
      sex,
      age: String(age),
      site,
      score_normal: String(1 - p),
      score_pneumonia: String(p),
      score_pneumonia_v2: String(p2),
    });
  }
  const header = ['path', 'label', 'split', 'sex', 'age', 'site', 'score_normal', 'score_pneumonia', 'score_pneumonia_v2'];
  return { header, rows, lines: rows.map((_, i) => i + 2) };
}

/** Random binary scores/labels: continuous, tied (rounded) or tiny. */
export function randomCase(rng: Rng, n: number, opts: { decimals?: number; prevalence?: number } = {}): { scores: number[]; labels: number[] } {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.bernoulli(opts.prevalence ?? 0.4) ? 1 : 0;
    let p = 1 / (1 + Math.exp(-(rng.normal() + 1.2 * y - 0.5)));
    if (opts.decimals !== undefined) p = Number(p.toFixed(opts.decimals));
    scores.push(p);
    labels.push(y);
  }
  // Both classes present.
  if (!labels.includes(1)) labels[0] = 1;
  if (!labels.includes(0)) labels[labels.length - 1] = 0;
  return { scores, labels };
}
