/**
 * The monitoring reference profile: what the model's in-distribution data looked like, stored as
 * `monitor-reference.json` in the model folder (hashed with the other artefacts). It holds a seeded
 * sample (≤ 2,000 studies) of every watched feature — DICOM header fields, image statistics,
 * whitened PCA coordinates of penultimate embeddings, scores per class, OOD decisions and labels —
 * plus summaries for reports, the PCA basis, per-class calibration maps (for label-free performance
 * estimation), reference prevalence and realized performance at the operating point.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { aurocDelong } from '../evaluate/discrimination.js';
import { fitIsotonicMap, fitPlatt, recalibrationMapSchema, type RecalibrationMap } from '../evaluate/calibration.js';
import { confusionAt } from '../evaluate/confusion.js';
import { quantileSorted } from '../evaluate/stats.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { readJsonWithSchema } from '../util/json.js';
import { Rng } from '../util/rng.js';
import { columnarSampleSchema, r5, toColumnar, type Observation } from './observation.js';
import { fitPca, pcaBasisSchema, projectWhitened, type PcaBasis } from './pca.js';

export const REFERENCE_FILE = 'monitor-reference.json';
export const MAX_REFERENCE_SAMPLE = 2000;

const perClassPerformance = z.object({
  sensitivity: z.number().nullable(),
  specificity: z.number().nullable(),
  auroc: z.number().nullable(),
  positives: z.number().int(),
  negatives: z.number().int(),
});

export const referenceProfileSchema = z.object({
  format: z.literal('radml-monitor-reference'),
  version: z.literal(1),
  /** SHA-256 of the model.onnx whose scores and embeddings the profile holds ('' when unknown). */
  modelSha256: z.string(),
  classes: z.array(z.string()).min(1),
  labelKind: z.enum(['categorical', 'multilabel']),
  /** Operating point per class (the model's saved thresholds, 0.5 when none). */
  thresholds: z.record(z.string(), z.number()),
  source: z.string(),
  /** Studies profiled, and how many of them are kept in the sample. */
  studies: z.number().int().min(0),
  sample: columnarSampleSchema,
  pca: pcaBasisSchema.nullable(),
  summaries: z.object({
    categorical: z.record(z.string(), z.record(z.string(), z.number().int())),
    numeric: z.record(z.string(), z.object({ count: z.number().int(), missing: z.number().int(), quantiles: z.array(z.number()), mean: z.number().nullable() })),
    /** Per class: 10-bin histogram of scores on [0, 1] and the mean score. */
    scores: z.record(z.string(), z.object({ histogram: z.array(z.number().int()), mean: z.number() })),
  }),
  prevalence: z.record(z.string(), z.number().nullable()),
  /** Score → calibrated probability per class, fitted on the labelled reference studies. */
  calibration: z.record(z.string(), recalibrationMapSchema),
  performance: z.record(z.string(), perClassPerformance),
  oodRejectionRate: z.number().nullable(),
  notes: z.array(z.string()),
  createdAt: z.string(),
});
export type ReferenceProfile = z.infer<typeof referenceProfileSchema>;

export interface FitReferenceOptions {
  classes: string[];
  labelKind: 'categorical' | 'multilabel';
  thresholds?: Record<string, number>;
  modelSha256?: string;
  source?: string;
  seed?: number;
  maxSample?: number;
  maxComponents?: number;
}

export const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/** Calibration map for one class: isotonic with ≥ 30 of each outcome, Platt with ≥ 5, else identity. */
export function fitCalibrationMap(scores: number[], labels: (0 | 1 | null)[]): RecalibrationMap {
  const p: number[] = [], y: number[] = [];
  scores.forEach((s, i) => { const l = labels[i]; if (l === 0 || l === 1) { p.push(s); y.push(l); } });
  const pos = y.filter((v) => v === 1).length, neg = y.length - pos;
  if (pos >= 30 && neg >= 30) return fitIsotonicMap(p, y);
  if (pos >= 5 && neg >= 5) return fitPlatt(p, y);
  return { method: 'none' };
}

/**
 * Build a reference profile from in-distribution observations (held-out studies the model did not
 * train on: scores and embeddings of training images are tighter than those of new images).
 *
 * @example const profile = fitReference(observations, { classes: meta.classes, labelKind: meta.labelKind });
 */
export function fitReference(obs: Observation[], o: FitReferenceOptions): ReferenceProfile {
  if (obs.length < 20) throw new InputError('MONITOR_REFERENCE_TOO_SMALL', `a monitoring reference needs at least 20 studies, got ${obs.length}`);
  const k = o.classes.length;
  const notes: string[] = [];
  const max = o.maxSample ?? MAX_REFERENCE_SAMPLE;
  let kept = obs;
  if (obs.length > max) {
    const idx = new Rng(`monitor-reference:${o.seed ?? 1}`).shuffle(obs.map((_, i) => i)).slice(0, max).sort((a, b) => a - b);
    kept = idx.map((i) => obs[i]!);
    notes.push(`sample of ${max} of ${obs.length} studies (seeded)`);
  }
  let pca: PcaBasis | null = null;
  if (kept.every((x) => x.embedding !== null && x.embedding.length > 0)) pca = fitPca(kept.map((x) => x.embedding!), o.maxComponents ?? 16);
  else notes.push('no penultimate embeddings (the model graph could not be rebuilt): embedding drift is not monitored');
  const sample = toColumnar(kept, k, pca ? (e) => projectWhitened(pca!, e) : null);
  const thresholds: Record<string, number> = {};
  for (const c of o.classes) thresholds[c] = o.thresholds?.[c] ?? 0.5;
  const categorical: ReferenceProfile['summaries']['categorical'] = {};
  for (const [f, vals] of Object.entries(sample.categorical)) {
    const counts: Record<string, number> = {};
    for (const v of vals) counts[v] = (counts[v] ?? 0) + 1;
    categorical[f] = counts;
  }
  const numeric: ReferenceProfile['summaries']['numeric'] = {};
  for (const [f, vals] of Object.entries(sample.numeric)) {
    const xs = Float64Array.from(vals.filter((v): v is number => v !== null)).sort();
    numeric[f] = { count: xs.length, missing: vals.length - xs.length, quantiles: xs.length ? QUANTILES.map((q) => r5(quantileSorted(xs, q))) : [], mean: xs.length ? r5(xs.reduce((s, v) => s + v, 0) / xs.length) : null };
  }
  const scores: ReferenceProfile['summaries']['scores'] = {};
  const prevalence: ReferenceProfile['prevalence'] = {};
  const calibration: ReferenceProfile['calibration'] = {};
  const performance: ReferenceProfile['performance'] = {};
  o.classes.forEach((c, ci) => {
    const s = sample.scores[ci]!;
    const hist = new Array<number>(10).fill(0);
    for (const v of s) hist[Math.min(9, Math.max(0, Math.floor(v * 10)))]!++;
    scores[c] = { histogram: hist, mean: r5(s.reduce((a, b) => a + b, 0) / s.length) };
    const labels = sample.labels?.[ci] ?? s.map(() => null);
    const ys: number[] = [], ss: number[] = [];
    labels.forEach((l, i) => { if (l !== null) { ys.push(l); ss.push(s[i]!); } });
    const pos = ys.filter((v) => v === 1).length;
    prevalence[c] = ys.length ? r5(pos / ys.length) : null;
    calibration[c] = fitCalibrationMap(s, labels);
    const conf = confusionAt(ss, ys, thresholds[c]!);
    const au = aurocDelong(ss, ys);
    performance[c] = {
      sensitivity: conf.tp + conf.fn ? r5(conf.tp / (conf.tp + conf.fn)) : null,
      specificity: conf.tn + conf.fp ? r5(conf.tn / (conf.tn + conf.fp)) : null,
      auroc: au.estimate === null ? null : r5(au.estimate), positives: pos, negatives: ys.length - pos,
    };
  });
  if (!sample.labels) notes.push('the reference has no labels: no calibration, prevalence or prior-shift correction');
  const ood = sample.oodRejected;
  return referenceProfileSchema.parse({
    format: 'radml-monitor-reference', version: 1, modelSha256: o.modelSha256 ?? '', classes: o.classes, labelKind: o.labelKind, thresholds,
    source: o.source ?? '', studies: obs.length, sample, pca, summaries: { categorical, numeric, scores }, prevalence, calibration, performance,
    oodRejectionRate: ood ? ood.filter(Boolean).length / ood.length : null, notes, createdAt: new Date().toISOString(),
  });
}

/** Write the profile into a model folder (atomically); returns the path. */
export function saveReference(dir: string, profile: ReferenceProfile): string {
  const file = join(dir, REFERENCE_FILE);
  writeJsonAtomic(file, profile);
  return file;
}

/**
 * Read a reference profile file (or `<model>/monitor-reference.json`), schema-checked.
 * @example const ref = loadReference('models/synth');
 */
export function loadReference(pathOrModelDir: string): ReferenceProfile {
  const file = pathOrModelDir.endsWith('.json') ? pathOrModelDir : join(pathOrModelDir, REFERENCE_FILE);
  if (!existsSync(file)) throw new InputError('MONITOR_REFERENCE_MISSING', `${pathOrModelDir}: no ${REFERENCE_FILE}; build one with \`radml monitor reference --model <dir> --data <held-out in-distribution data>\``, { file });
  return readJsonWithSchema(file, referenceProfileSchema, 'MONITOR_REFERENCE_CORRUPT');
}
