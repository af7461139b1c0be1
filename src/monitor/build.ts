/**
 * Building and storing reference profiles for a model: from any dataset (`radml monitor reference`)
 * or, at the end of training, from the model's own validation rows (studies it never trained on).
 * The profile is written into the model folder as a hashed artefact (src/train's addModelArtefacts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { LoadedModel } from '../explain/loaded-model.js';
import { loadOodDetector, oodSplit, OOD_FILE, type OodDetector } from '../robustness/ood-detector.js';
import { addModelArtefacts, sha256File } from '../train/model-folder.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { observeDataset } from './observe.js';
import { fitReference, REFERENCE_FILE, type ReferenceProfile } from './profile.js';

/** The model's OOD gate when its folder has a current one, else null. */
export function optionalOod(modelDir: string): OodDetector | null {
  if (!existsSync(join(modelDir, OOD_FILE))) return null;
  try { return loadOodDetector(modelDir); } catch { return null; }
}

/**
 * Profile dataset rows (`indices`, default all) as scored by `model`.
 * @example const profile = await buildReference(model, ds, { source: 'val.csv' });
 */
export async function buildReference(model: LoadedModel, ds: Dataset, o: { indices?: number[]; source?: string; seed?: number; onProgress?: ProgressCallback } = {}): Promise<ReferenceProfile> {
  const ood = optionalOod(model.dir);
  const obs = await observeDataset(model, ds, { ood, ...(o.indices && { indices: o.indices }), ...(o.onProgress && { onProgress: o.onProgress }) });
  const onnx = join(model.dir, 'model.onnx');
  const thresholds: Record<string, number> = {};
  for (const c of model.meta.classes) thresholds[c] = model.meta.operatingPoints?.[c] ?? 0.5;
  return fitReference(obs, {
    classes: model.meta.classes, labelKind: model.meta.labelKind, thresholds,
    modelSha256: existsSync(onnx) ? sha256File(onnx) : '', source: o.source ?? ds.meta.source, seed: o.seed ?? 1,
  });
}

/** Write the profile into the model folder and record its SHA-256 in model.json. */
export function saveReferenceArtefact(modelDir: string, profile: ReferenceProfile): string {
  addModelArtefacts(modelDir, { [REFERENCE_FILE]: JSON.stringify(profile) });
  return join(modelDir, REFERENCE_FILE);
}

/**
 * After training: profile the model's own validation rows (the split its provenance replays) and
 * store it in the folder. Throws InputError when there are fewer than 20 such rows.
 * @example await writeTrainingReference('models/cxr', dataset);
 */
export async function writeTrainingReference(modelDir: string, ds: Dataset, o: { threads?: number; onProgress?: ProgressCallback } = {}): Promise<{ file: string; profile: ReferenceProfile; rows: string }> {
  const model = await LoadedModel.open(modelDir, { threads: o.threads ?? 1 });
  try {
    const split = oodSplit(ds, 1, model.meta);
    if (split.calibration.length < 20) throw new InputError('MONITOR_REFERENCE_TOO_SMALL', `${modelDir}: only ${split.calibration.length} held-out rows to build a monitoring reference from (need 20)`);
    const profile = await buildReference(model, ds, { indices: split.calibration, ...(o.onProgress && { onProgress: o.onProgress }) });
    profile.notes.push(`built at training time from ${split.calibration.length} held-out rows (${split.method})`);
    return { file: saveReferenceArtefact(modelDir, profile), profile, rows: split.method };
  } finally {
    await model.release();
  }
}
