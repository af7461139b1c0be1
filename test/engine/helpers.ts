/** Shared helpers for engine tests: the numpy oracle, random parameters and tolerant comparisons. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import type { LayerGraph, ParamSet } from '../../src/engine/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Runs test/engine/reference.py with a JSON job and returns its JSON answer. */
export function numpyOracle<T = any>(job: unknown): T {
  const r = spawnSync('python3', [path.join(here, 'reference.py')], { input: JSON.stringify(job), maxBuffer: 1 << 28, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reference.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Parameters with every entry random (BN gamma near 1, positive running variances). */
export function randomParams(g: LayerGraph, seed: number): ParamSet {
  const rng = new Rng(seed);
  const mk = (shape: number[], f: () => number) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f);
  return {
    trainable: g.params.map((p) => ({
      name: p.name, shape: p.shape.slice(),
      data: p.kind === 'bn_weight' ? mk(p.shape, () => rng.uniform(0.5, 1.5)) : mk(p.shape, () => rng.normal(0, 1 / Math.sqrt(p.fanIn))),
    })),
    buffers: g.buffers.map((b) => ({
      name: b.name, shape: b.shape.slice(),
      data: b.kind === 'running_var' ? mk(b.shape, () => rng.uniform(0.5, 2)) : mk(b.shape, () => rng.normal(0, 0.3)),
    })),
  };
}

export function randomArray(n: number, seed: number, sd = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal(0, sd));
}

export function pickIndices(n: number, count: number, seed: number): number[] {
  const rng = new Rng(seed);
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const s = new Set<number>();
  while (s.size < count) s.add(rng.int(n));
  return [...s].sort((a, b) => a - b);
}

/** |a−b| ≤ rel·max(|ref|) + abs, elementwise, with a readable failure. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 2e-3, abs = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= rel * scale + abs)) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (scale ${scale})`);
    }
  }
}

export function tensorJson(p: ParamSet) {
  return {
    params: p.trainable.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(t.data) })),
    buffers: p.buffers.map((t) => ({ name: t.name, shape: t.shape, data: Array.from(t.data) })),
  };
}
