/**
 * The out-of-distribution gate for prediction time, fitted by `radml train` (or refitted by
 * `radml stress --save-ood`) and saved as `ood.json` in the model folder, hashed in model.json: DICOM
 * header profile of the training images, Mahalanobis distance on penultimate features and the
 * energy score on logits. Thresholds give a chosen acceptance rate (default 95 %) of new
 * in-distribution images: set on the validation split's scores, with the distance threshold also
 * drawing on cross-fitted distances of the training images (ood.ts) because its far tail is too
 * noisy from a validation split alone. `checkInput` returns accept/reject with reasons; a rejected
 * image is never silently scored. The Predictor (src/predict/) applies it everywhere.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { hasDicomPreamble, readDicomHeader, type DicomHeader } from '../data/dicom/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { readImageBuffer } from '../data/image.js';
import { datasetImages, type LoadedModel } from '../explain/loaded-model.js';
import { addModelArtefacts, readModelJson, sha256File, type ModelJson } from '../train/model-folder.js';
import { trainingTargets } from '../train/build-targets.js';
import { parseTrainOptions } from '../train/options.js';
import { chooseValidation } from '../train/split.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { readJsonWithSchema } from '../util/json.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { buildHeaderProfile, checkHeader, fieldsFromColumns, fieldsFromHeader, headerProfileSchema, type HeaderFields } from './header-checks.js';
import { acceptanceThreshold, crossFittedMahalanobis, energyScores, fitMahalanobis, mahalanobisScores } from './ood.js';

export const OOD_FILE = 'ood.json';

export const oodDetectorSchema = z.object({
  format: z.literal('radml-ood'),
  version: z.literal(1),
  /** SHA-256 of the model.onnx the detector was fitted for. */
  modelSha256: z.string(),
  acceptanceRate: z.number().gt(0).lte(1),
  mahalanobis: z.object({
    dim: z.number().int().min(1),
    means: z.array(z.array(z.number())),
    precision: z.array(z.number()),
    shrinkage: z.number(),
    threshold: z.number(),
  }).nullable(),
  energy: z.object({ temperature: z.number().positive(), threshold: z.number() }).nullable(),
  headerProfile: headerProfileSchema.nullable(),
  fit: z.object({
    images: z.number().int(), calibrationImages: z.number().int(), calibrationAcceptance: z.number(),
    /** Held-out scores the distance threshold was set on (validation + cross-fitted training images). */
    thresholdImages: z.number().int().optional(), source: z.string(), split: z.string().default('unknown') }),
  createdAt: z.string(),
});
export type OodDetector = z.infer<typeof oodDetectorSchema>;

export interface OodScores {
  mahalanobis: Float64Array | null;
  energy: Float64Array;
}

/** Scores of grey intensity images [n, size²] at the model's size. */
export async function oodScores(model: LoadedModel, det: Pick<OodDetector, 'mahalanobis' | 'energy'> | null, images: Float32Array, n: number, batch = 64): Promise<OodScores & { features?: Float32Array }> {
  const px = model.size * model.size;
  const k = model.numClasses;
  const energy = new Float64Array(n);
  const useFeatures = model.gradient !== null && (det === null || det.mahalanobis !== null);
  const dim = useFeatures ? (await model.gradient!.features(new Float32Array(model.inputShape.reduce((a, b) => a * b, 1)), 1)).dim : 0;
  const features = useFeatures ? new Float32Array(n * dim) : undefined;
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const x = model.toInput(images.subarray(s * px, (s + m) * px), m);
    const logits = await model.logits(x, m);
    if (logits) energy.set(energyScores(logits, m, k, det?.energy?.temperature ?? 1), s);
    else {
      // Probability-only model without a graph: −log max p (maximum softmax probability) instead.
      const p = await model.rawScores(x, m);
      for (let i = 0; i < m; i++) { let mx = 0; for (let c = 0; c < k; c++) mx = Math.max(mx, p[i * k + c]!); energy[s + i] = -Math.log(Math.max(mx, 1e-12)); }
    }
    if (features) features.set((await model.gradient!.features(x, m)).features, s * dim);
  }
  const mahalanobis = det?.mahalanobis && features ? mahalanobisScores(det.mahalanobis, features, n) : null;
  return { mahalanobis, energy, ...(features && { features }) };
}

export interface FitOodOptions {
  /** Target share of in-distribution images accepted (default 0.95). */
  acceptanceRate?: number;
  /** Images used to estimate means/covariance; default the dataset's `train` split, else a random 80%. */
  fitIndices?: number[];
  /** Held-out images for the thresholds; default the `val` split, else the other 20%. */
  calibrationIndices?: number[];
  seed?: number;
  /** Pool cross-fitted training distances with the validation ones for the distance threshold (default true). */
  crossFit?: boolean;
  /** How the given fit / calibration indices were chosen, for the record. */
  splitName?: string;
  onProgress?: ProgressCallback;
}

/**
 * Default fit / calibration split of a dataset. When it is the data the model was trained on (same
 * pixel hash), the model's own train / validation split is reproduced from its provenance, so the
 * thresholds are set on images the model never trained on (features of training images are tighter
 * than those of new images, and thresholds set on them reject too many new in-distribution images).
 * Otherwise the `split` column (train vs val), else a seeded 80/20.
 */
export function oodSplit(ds: Dataset, seed = 1, meta?: ModelJson): { fit: number[]; calibration: number[]; method: string } {
  const recs = ds.manifest.records;
  const t = meta?.training;
  if (t && t.data.imagesSha256 === ds.meta.imagesSha256) {
    try {
      const o = parseTrainOptions(t.options as never);
      // The label choice `radml train` made (label column, one-vs-rest), so the split is the same.
      const { labels, targets } = trainingTargets(ds, o);
      const v = chooseValidation(labels.manifest.records, targets, o);
      if (v.trainRows.length === t.split.train && v.valRows.length === t.split.val && v.valRows.length >= 5) {
        return { fit: v.trainRows, calibration: v.valRows, method: 'the model\'s own train / validation split' };
      }
    } catch {
      // Provenance that cannot be replayed falls back to the generic split below.
    }
  }
  const fit = recs.filter((r) => r.split === 'train').map((r) => r.index);
  const cal = recs.filter((r) => r.split === 'val').map((r) => r.index);
  if (fit.length >= 10 && cal.length >= 10) return { fit, calibration: cal, method: 'the split column (train / val)' };
  const idx = new Rng(seed).shuffle(recs.map((r) => r.index));
  const cut = Math.round(idx.length * 0.8);
  return { fit: idx.slice(0, cut).sort((a, b) => a - b), calibration: idx.slice(cut).sort((a, b) => a - b), method: 'a seeded 80/20 split' };
}

/**
 * Fit the detector on a dataset of in-distribution images (normally the training data).
 * @example const det = await fitOodDetector(model, ds); saveOodDetector(model.dir, det);
 */
export async function fitOodDetector(model: LoadedModel, ds: Dataset, o: FitOodOptions = {}): Promise<OodDetector> {
  const rate = o.acceptanceRate ?? 0.95;
  const split = oodSplit(ds, o.seed, model.meta);
  const fit = o.fitIndices ?? split.fit;
  const cal = o.calibrationIndices ?? split.calibration;
  if (fit.length < 10 || cal.length < 5) throw new InputError('OOD_TOO_FEW', `need ≥ 10 images to fit and ≥ 5 to calibrate the OOD detector, got ${fit.length} and ${cal.length}`);
  const fitScores = await oodScores(model, null, datasetImages(ds, model.size, fit), fit.length);
  o.onProgress?.({ stage: 'ood fit', done: 1, total: 2 });
  let mahalanobis: OodDetector['mahalanobis'] = null;
  let fitLabels: number[] | undefined;
  if (fitScores.features) {
    const dim = fitScores.features.length / fit.length;
    // Class-conditional means need labels; predicted classes would leak model errors into the fit, so use the true ones when categorical.
    let labels: number[] | undefined = ds.meta.labelKind === 'categorical' && model.meta.labelKind === 'categorical'
      ? fit.map((i) => model.meta.classes.indexOf(ds.manifest.records[i]!.label ?? ''))
      : undefined;
    if (labels?.some((l) => l < 0)) labels = undefined; // unlabelled images: one overall mean instead
    fitLabels = labels;
    const mm = fitMahalanobis(fitScores.features, fit.length, dim, labels);
    mahalanobis = { ...mm, threshold: Infinity };
  }
  const calScores = await oodScores(model, { mahalanobis, energy: { temperature: 1, threshold: Infinity } }, datasetImages(ds, model.size, cal), cal.length);
  o.onProgress?.({ stage: 'ood fit', done: 2, total: 2 });
  // The energy score assumes softmax logits: with independent sigmoid findings a confidently normal
  // image has all logits low, i.e. a high energy, so multi-label models use the features alone.
  const useEnergy = model.meta.labelKind !== 'multilabel' || !mahalanobis;
  // The distance threshold is a far-tail quantile; from the validation split alone (often < 200
  // images, several per patient) it is too noisy: on the demo cohort it fell at the 90.7th
  // percentile of a fresh cohort, which was then accepted at 90 % instead of 95 %. So the
  // distances of the training images, cross-fitted (each scored without itself in the fit), join
  // the validation ones: ~5× as many held-out distances for the tail.
  let pooled: Float64Array | null = calScores.mahalanobis;
  if (mahalanobis && fitScores.features && calScores.mahalanobis && o.crossFit !== false) {
    const cross = crossFittedMahalanobis(fitScores.features, fit.length, mahalanobis.dim, fitLabels);
    pooled = new Float64Array(cross.length + cal.length);
    pooled.set(cross, 0);
    pooled.set(calScores.mahalanobis, cross.length);
  }
  let energy: OodDetector['energy'] = null;
  if (!useEnergy) mahalanobis!.threshold = acceptanceThreshold(pooled!, rate);
  else if (!mahalanobis || !calScores.mahalanobis) energy = { temperature: 1, threshold: acceptanceThreshold(calScores.energy, rate) };
  else {
    // Both scores: the same per-score quantile q (energy on validation, distance on the pooled set),
    // raised from `rate` until the joint acceptance on the validation images reaches it.
    for (let q = rate; ; q = Math.min(1, q + 0.0025)) {
      const te = acceptanceThreshold(calScores.energy, q);
      const tm = acceptanceThreshold(pooled!, q);
      let ok = 0;
      for (let i = 0; i < cal.length; i++) if (calScores.energy[i]! <= te && calScores.mahalanobis[i]! <= tm) ok++;
      if (ok >= rate * cal.length || q >= 1) { energy = { temperature: 1, threshold: te }; mahalanobis.threshold = tm; break; }
    }
  }
  let accepted = 0;
  for (let i = 0; i < cal.length; i++) if ((!energy || calScores.energy[i]! <= energy.threshold) && (!calScores.mahalanobis || calScores.mahalanobis[i]! <= mahalanobis!.threshold)) accepted++;
  const rows: HeaderFields[] = fit.map((i) => fieldsFromColumns(ds.manifest.records[i]!.columns));
  const profile = buildHeaderProfile(rows);
  const hasHeaders = profile.modality.length > 0 || profile.photometric.length > 0;
  const onnxPath = join(model.dir, 'model.onnx');
  return oodDetectorSchema.parse({
    format: 'radml-ood',
    version: 1,
    modelSha256: existsSync(onnxPath) ? sha256File(onnxPath) : '',
    acceptanceRate: rate,
    mahalanobis,
    energy,
    headerProfile: hasHeaders ? profile : null,
    fit: { images: fit.length, calibrationImages: cal.length, calibrationAcceptance: accepted / cal.length, thresholdImages: mahalanobis ? pooled?.length ?? cal.length : cal.length, source: ds.meta.source, split: o.fitIndices ? (o.splitName ?? 'given') : split.method },
    createdAt: new Date().toISOString(),
  });
}

/**
 * Write `ood.json` into a model folder. In a radml model folder its SHA-256 is recorded in
 * model.json like every artefact (so an edited gate is refused at load); beside an imported
 * ONNX + sidecar it is written as is.
 *
 * @example saveOodDetector('models/cxr', await fitOodDetector(model, trainingSet))
 */
export function saveOodDetector(modelDir: string, det: OodDetector): string {
  const file = join(modelDir, OOD_FILE);
  const body = JSON.stringify(det, null, 2) + '\n';
  if (isRadmlModelFolder(modelDir)) addModelArtefacts(modelDir, { [OOD_FILE]: body });
  else writeJsonAtomic(file, det);
  return file;
}

function isRadmlModelFolder(dir: string): boolean {
  try {
    readModelJson(dir);
    return true;
  } catch {
    return false;
  }
}

/** Read `ood.json` of a model folder; refuses a detector fitted for another model.onnx. */
export function loadOodDetector(modelDir: string): OodDetector {
  const file = join(modelDir, OOD_FILE);
  if (!existsSync(file)) throw new InputError('OOD_MISSING', `${modelDir}: no ${OOD_FILE}; fit one with \`radml stress --model ${modelDir} --data <training data> --tests ood --save-ood\``, { file });
  const det = readJsonWithSchema(file, oodDetectorSchema, 'OOD_CORRUPT');
  const onnx = join(modelDir, 'model.onnx');
  if (det.modelSha256 && existsSync(onnx) && sha256File(onnx) !== det.modelSha256) {
    throw new InputError('OOD_STALE', `${file}: fitted for a different model.onnx (SHA-256 differs); refit it`, { file });
  }
  return det;
}

export interface InputCheck {
  accepted: boolean;
  /** Every reason for rejection (header mismatches, OOD scores over threshold). */
  reasons: string[];
  mahalanobis: number | null;
  energy: number | null;
}

/** Decisions for already-scored images. */
export function decide(det: OodDetector, scores: OodScores, i: number, headerReasons: string[] = []): InputCheck {
  const reasons = headerReasons.slice();
  const e = scores.energy[i]!;
  const m = scores.mahalanobis ? scores.mahalanobis[i]! : null;
  if (det.energy && !(e <= det.energy.threshold)) reasons.push(`energy score ${e.toFixed(2)} above the in-distribution threshold ${det.energy.threshold.toFixed(2)}`);
  if (det.mahalanobis && m !== null && !(m <= det.mahalanobis.threshold)) reasons.push(`feature Mahalanobis distance ${m.toFixed(1)} above the in-distribution threshold ${det.mahalanobis.threshold.toFixed(1)}`);
  return { accepted: reasons.length === 0, reasons, mahalanobis: m, energy: e };
}

/**
 * Check images already at the model's size (grey intensities [n, size²]) with optional headers.
 * @example const checks = await checkImages(model, det, images, n);
 */
export async function checkImages(model: LoadedModel, det: OodDetector, images: Float32Array, n: number, headers?: (HeaderFields | null)[]): Promise<InputCheck[]> {
  const scores = await oodScores(model, det, images, n);
  return Array.from({ length: n }, (_, i) => {
    const h = headers?.[i];
    return decide(det, scores, i, h && det.headerProfile ? checkHeader(h, det.headerProfile) : []);
  });
}

/**
 * Accept or reject one input file (DICOM, PNG, JPEG…) before scoring it. DICOM header mismatches
 * reject without decoding pixels; otherwise the image is resized as in training and scored.
 *
 * @example const r = await checkInput(model, det, readFileSync('x.dcm'), 'x.dcm'); if (!r.accepted) console.log(r.reasons);
 */
export async function checkInput(model: LoadedModel, det: OodDetector, buf: Uint8Array, file: string): Promise<InputCheck> {
  let header: DicomHeader | null = null;
  if (hasDicomPreamble(buf)) {
    header = readDicomHeader(buf, file);
    const reasons = det.headerProfile ? checkHeader(fieldsFromHeader(header), det.headerProfile) : [];
    if (!header.hasPixelData) reasons.push('the DICOM file has no pixel data');
    if (reasons.length) return { accepted: false, reasons, mahalanobis: null, energy: null };
  }
  // The pixel path of the dataset cache the gate was fitted on: decode at the model's size, resize,
  // the 16-bit grid (Predictor.toModelSize), so a file is judged exactly as its ingested copy.
  const { image } = await readImageBuffer(buf, file, { decodeSize: model.size });
  const [r] = await checkImages(model, det, model.toModelSize(image), 1, header ? [fieldsFromHeader(header)] : undefined);
  return r!;
}

/** The image at the model's size, as the dataset cache holds it. */
export function toModelSize(image: GreyImage, model: LoadedModel): GreyImage {
  return { width: model.size, height: model.size, data: model.toModelSize(image) };
}
