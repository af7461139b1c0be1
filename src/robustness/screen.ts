/**
 * Model-level checks run by `radml stress`: the poisoning screen over a training set, and OOD
 * acceptance on in-distribution and foreign inputs (files, folders, manifests).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { readManifest } from '../data/manifest.js';
import { datasetImages, type LoadedModel, modelTargets } from '../explain/loaded-model.js';
import { errorMessage } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { checkInput, type OodDetector } from './ood-detector.js';
import { flagAnomalousSamples, perSampleLossAndGradNorm, type PoisoningReport } from './poisoning.js';

/**
 * Flag training samples with anomalous loss / last-layer gradient norm under the trained model.
 * @example const r = await poisoningScreen(model, trainingDataset); r.flagged.map((f) => f.path)
 */
export async function poisoningScreen(model: LoadedModel, ds: Dataset, opts: { threshold?: number; batch?: number; onProgress?: ProgressCallback } = {}): Promise<PoisoningReport & { flaggedPaths: string[] }> {
  const { target, mask, labelled } = modelTargets(ds, model.meta);
  const idx = labelled.map((l, i) => (l ? i : -1)).filter((i) => i >= 0);
  const k = model.numClasses;
  const n = idx.length;
  const losses = new Float64Array(n), norms = new Float64Array(n);
  const batch = opts.batch ?? 128;
  for (let s = 0; s < n; s += batch) {
    const part = idx.slice(s, s + batch);
    const m = part.length;
    const x = model.toInput(datasetImages(ds, model.size, part), m);
    const logits = await model.rawScores(x, m);
    const feats = model.gradient ? (await model.gradient.features(x, m)).features : null;
    const t = new Float32Array(m * k), mk = new Float32Array(m * k);
    part.forEach((i, j) => { t.set(target.subarray(i * k, (i + 1) * k), j * k); mk.set(mask.subarray(i * k, (i + 1) * k), j * k); });
    const r = perSampleLossAndGradNorm(logits, feats, t, mk, m, k, model.meta.labelKind === 'multilabel' ? 'bce_logits' : 'softmax_ce');
    losses.set(r.losses, s);
    norms.set(r.gradientNorms, s);
    opts.onProgress?.({ stage: 'poisoning screen', done: Math.min(n, s + m), total: n });
  }
  // Group by the true class (categorical) so class imbalance does not decide what is "anomalous".
  const groups = model.meta.labelKind === 'categorical'
    ? idx.map((i) => { let b = 0; for (let c = 1; c < k; c++) if (target[i * k + c]! > target[i * k + b]!) b = c; return b; })
    : undefined;
  const rep = flagAnomalousSamples(losses, norms, { threshold: opts.threshold, groups });
  const flagged = rep.flagged.map((f) => ({ ...f, index: idx[f.index]! }));
  return { ...rep, flagged, flaggedPaths: flagged.map((f) => ds.manifest.records[f.index]!.path) };
}

const IMAGE_EXT = new Set(['.dcm', '.dicom', '.png', '.jpg', '.jpeg', '.tif', '.tiff', '']);

/** Files of a source: a manifest's images, a folder's image files (recursive) or one file; a seeded sample of `max`. */
export function sourceFiles(source: string, max: number, seed = 1): string[] {
  let files: string[];
  const st = statSync(source);
  if (st.isDirectory()) {
    files = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (IMAGE_EXT.has(extname(e.name).toLowerCase())) files.push(p);
      }
    };
    walk(source);
  } else if (extname(source).toLowerCase() === '.csv') {
    files = readManifest(source).records.map((r) => r.absPath);
  } else files = [source];
  return files.length > max ? new Rng(seed).shuffle(files).slice(0, max).sort() : files;
}

export interface SourceAcceptance {
  source: string;
  files: number;
  accepted: number;
  rejected: number;
  /** Unreadable or unsupported files (not counted as accepted or rejected). */
  skipped: { file: string; reason: string }[];
  /** Rejection reasons by kind (header field / score) with counts. */
  reasons: Record<string, number>;
}

/**
 * Run the OOD gate over every file of a source.
 * @example const r = await sourceAcceptance(model, det, '../shared/data/dicom');
 */
export async function sourceAcceptance(model: LoadedModel, det: OodDetector, source: string, opts: { max?: number; seed?: number; onProgress?: ProgressCallback } = {}): Promise<SourceAcceptance> {
  const files = sourceFiles(source, opts.max ?? 300, opts.seed);
  const r: SourceAcceptance = { source, files: files.length, accepted: 0, rejected: 0, skipped: [], reasons: {} };
  let done = 0;
  for (const f of files) {
    try {
      const c = await checkInput(model, det, new Uint8Array(readFileSync(f)), f);
      if (c.accepted) r.accepted++;
      else {
        r.rejected++;
        for (const reason of c.reasons) {
          const key = reason.replace(/ -?[\d.]+ above.*/, '').replace(/:.*/, '').replace(/^(modality|view|body part|photometric interpretation|bits stored) .*/, '$1');
          r.reasons[key] = (r.reasons[key] ?? 0) + 1;
        }
      }
    } catch (e) {
      r.skipped.push({ file: f, reason: errorMessage(e) });
    }
    opts.onProgress?.({ stage: `ood ${source}`, done: ++done, total: files.length });
  }
  return r;
}
