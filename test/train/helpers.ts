/** Tiny synthetic cohorts for training tests: PNGs whose class is visible (a bright blob's side). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Rng } from '../../src/util/rng.js';

export function tempDir(prefix = 'radml-train-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function blobImage(size: number, cx: number, cy: number, rng: Rng): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d2 = (x - cx) ** 2 + (y - cy) ** 2;
      const v = 0.25 + 0.6 * Math.exp(-d2 / (2 * (size / 6) ** 2)) + rng.normal(0, 0.05);
      const g = Math.max(0, Math.min(255, Math.round(v * 255)));
      const o = (y * size + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/**
 * Categorical cohort: `normal` has the blob on the left, `abnormal` on the right; 2 images per patient.
 * Returns the manifest path. With `split`, every 5th patient is `val`.
 */
export function writeCategoricalCohort(dir: string, opts: { n?: number; size?: number; split?: boolean; seed?: number; imbalance?: number } = {}): string {
  const n = opts.n ?? 48;
  const size = opts.size ?? 16;
  const rng = new Rng(opts.seed ?? 7);
  mkdirSync(join(dir, 'img'), { recursive: true });
  const lines = [opts.split ? 'path,label,patient_id,split' : 'path,label,patient_id'];
  for (let i = 0; i < n; i++) {
    const patient = Math.floor(i / 2);
    const abnormal = (patient % (opts.imbalance ?? 2)) !== 0;
    const cx = abnormal ? size * 0.72 : size * 0.28;
    const cy = size / 2 + rng.uniform(-2, 2);
    const file = `img/im${i}.png`;
    writeFileSync(join(dir, file), blobImage(size, cx + rng.uniform(-1, 1), cy, rng));
    const row = [file, abnormal ? 'abnormal' : 'normal', `P${patient}`];
    if (opts.split) row.push(patient % 5 === 0 ? 'val' : 'train');
    lines.push(row.join(','));
  }
  const manifest = join(dir, 'labels.csv');
  writeFileSync(manifest, lines.join('\n') + '\n');
  return manifest;
}

/** Multi-label cohort: findings `left` and `right` (blob present on that side), some blanks and -1s. */
export function writeMultilabelCohort(dir: string, opts: { n?: number; size?: number } = {}): string {
  const n = opts.n ?? 40;
  const size = opts.size ?? 16;
  const rng = new Rng(11);
  mkdirSync(join(dir, 'img'), { recursive: true });
  const lines = ['path,patient_id,left,right'];
  for (let i = 0; i < n; i++) {
    const left = i % 2 === 0;
    const right = i % 3 === 0;
    const png = new PNG({ width: size, height: size });
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      let v = 0.2 + rng.normal(0, 0.04);
      if (left) v += 0.6 * Math.exp(-((x - size * 0.25) ** 2 + (y - size / 2) ** 2) / 8);
      if (right) v += 0.6 * Math.exp(-((x - size * 0.75) ** 2 + (y - size / 2) ** 2) / 8);
      const g = Math.max(0, Math.min(255, Math.round(v * 255)));
      const o = (y * size + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      png.data[o + 3] = 255;
    }
    const file = `img/m${i}.png`;
    writeFileSync(join(dir, file), PNG.sync.write(png));
    // Every 7th left label is blank (not mentioned), every 5th right label uncertain.
    const l = i % 7 === 3 ? '' : left ? '1' : '0';
    const r = i % 5 === 4 ? '-1' : right ? '1' : '0';
    lines.push([file, `P${i}`, l, r].join(','));
  }
  const manifest = join(dir, 'labels.csv');
  writeFileSync(manifest, lines.join('\n') + '\n');
  return manifest;
}

/** Collects CLI output instead of printing it. */
export function captureIO(): { io: { out: (l: string) => void; err: (l: string) => void; interactive: boolean }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l), interactive: false }, out, err };
}
