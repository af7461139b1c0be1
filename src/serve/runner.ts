/**
 * A verified model folder loaded for inference: the training engineer's loader checks every
 * artefact's SHA-256, the engine runs the ONNX, model.json's preprocessing is applied exactly as in
 * training, and the output activation and operating point come from model.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InferenceModel } from '../engine/index.js';
import { applyPreprocessing } from '../data/preprocess/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { loadModelFolder, MODEL_JSON, type ModelJson } from '../train/model-folder.js';
import { InputError } from '../util/errors.js';

/**
 * Optional operating point in model.json (read beside the training schema, which does not define
 * it): `"operatingPoint": { "threshold": 0.3, "class": "pneumonia", "rule": "sensitivity_0.9" }`
 * for one class, or `"operatingPoints": { "effusion": 0.4, … }` per finding. A class is called
 * positive when its score is ≥ its threshold (as in evaluate/).
 */
const operatingPointSchema = z.object({
  operatingPoint: z.object({ threshold: z.number(), class: z.string().optional(), rule: z.string().optional() }).optional(),
  operatingPoints: z.record(z.string(), z.number()).optional(),
  operatingPointRule: z.string().optional(),
});

export interface OperatingPoint {
  thresholds: Record<string, number>;
  rule: string | undefined;
}

export function readOperatingPoint(dir: string, meta: ModelJson): OperatingPoint {
  const raw = operatingPointSchema.safeParse(JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8')));
  if (!raw.success) throw new InputError('MODEL_CORRUPT', `${join(dir, MODEL_JSON)}: operatingPoint: ${raw.error.issues[0]?.message}`, { file: dir });
  const thresholds: Record<string, number> = { ...(raw.data.operatingPoints ?? {}) };
  const op = raw.data.operatingPoint;
  if (op) {
    const cls = op.class ?? meta.positiveClass ?? (meta.classes.length === 2 ? meta.classes[1]! : undefined);
    if (!cls) throw new InputError('MODEL_CORRUPT', `${join(dir, MODEL_JSON)}: operatingPoint needs "class" for a model with ${meta.classes.length} classes`, { file: dir });
    thresholds[cls] = op.threshold;
  }
  for (const c of Object.keys(thresholds)) {
    if (!meta.classes.includes(c)) throw new InputError('MODEL_CORRUPT', `${join(dir, MODEL_JSON)}: operating point for unknown class "${c}"`, { file: dir });
  }
  return { thresholds, rule: op?.rule ?? raw.data.operatingPointRule };
}

export interface ImagePrediction {
  scores: Record<string, number>;
  decisions: Record<string, boolean>;
}

function softmaxRow(v: Float32Array, off: number, k: number): number[] {
  let m = -Infinity;
  for (let j = 0; j < k; j++) m = Math.max(m, v[off + j]!);
  const e: number[] = [];
  let s = 0;
  for (let j = 0; j < k; j++) {
    const x = Math.exp(v[off + j]! - m);
    e.push(x);
    s += x;
  }
  return e.map((x) => x / s);
}

export class ModelRunner {
  private constructor(
    readonly dir: string,
    readonly meta: ModelJson,
    readonly onnxSha256: string,
    readonly operatingPoint: OperatingPoint,
    private readonly model: InferenceModel,
  ) {}

  /**
   * Verify and load a model folder.
   * @example const r = await ModelRunner.load('models/cxr/v1'); (await r.predict([img]))[0].scores
   */
  static async load(dir: string, opts: { threads?: number } = {}): Promise<ModelRunner> {
    const { meta, onnx } = loadModelFolder(dir);
    const sha = createHash('sha256').update(onnx).digest('hex');
    const op = readOperatingPoint(dir, meta);
    const model = await InferenceModel.load(onnx, { threads: opts.threads ?? 1 });
    return new ModelRunner(dir, meta, sha, op, model);
  }

  get classes(): string[] {
    return this.meta.classes;
  }

  /** Model input for one image: preprocessing from model.json, channels replicated. */
  prepare(img: GreyImage): Float32Array {
    const plane = applyPreprocessing(this.meta.preprocessing, img);
    const c = this.meta.input.channels;
    if (c === 1) return plane;
    const out = new Float32Array(plane.length * c);
    for (let i = 0; i < c; i++) out.set(plane, i * plane.length);
    return out;
  }

  /** Probabilities [batch × K] for already-prepared inputs. */
  async scoreInputs(x: Float32Array, batch: number): Promise<Float32Array> {
    const s = this.meta.input.size;
    const r = await this.model.run(x, batch, [this.meta.input.channels, s, s]);
    const k = this.meta.classes.length;
    // The same reading of the output as train/scoring.ts, so served and evaluated scores agree.
    const useProbabilities = this.meta.output.name === 'probabilities' && r.probabilities !== undefined;
    const values = useProbabilities ? r.probabilities! : r.logits;
    if (values.length !== batch * k) throw new InputError('MODEL_OUTPUT', `the model returned ${values.length / batch} scores per image but model.json lists ${k} classes`);
    if (useProbabilities || this.meta.output.kind === 'probabilities') return values;
    const out = new Float32Array(batch * k);
    for (let i = 0; i < batch; i++) {
      if (this.meta.output.activation === 'softmax') out.set(softmaxRow(values, i * k, k), i * k);
      else for (let j = 0; j < k; j++) out[i * k + j] = 1 / (1 + Math.exp(-values[i * k + j]!));
    }
    return out;
  }

  /** Scores and operating-point decisions for a batch of images. */
  async predict(images: readonly GreyImage[]): Promise<ImagePrediction[]> {
    if (images.length === 0) return [];
    const per = this.meta.input.channels * this.meta.input.size ** 2;
    const x = new Float32Array(images.length * per);
    images.forEach((img, i) => x.set(this.prepare(img), i * per));
    return this.predictInputs(x, images.length);
  }

  /** Scores and decisions for already-prepared inputs (see prepare), e.g. from the decode pool. */
  async predictInputs(x: Float32Array, n: number): Promise<ImagePrediction[]> {
    const p = await this.scoreInputs(x, n);
    const k = this.classes.length;
    return Array.from({ length: n }, (_, i) => {
      const scores: Record<string, number> = {};
      const decisions: Record<string, boolean> = {};
      this.classes.forEach((c, j) => {
        scores[c] = p[i * k + j]!;
        const t = this.operatingPoint.thresholds[c];
        if (t !== undefined) decisions[c] = scores[c] >= t;
      });
      return { scores, decisions };
    });
  }

  /** The class a heatmap explains: the positive class, else the first with a threshold, else the top score. */
  targetClass(pred: ImagePrediction): string {
    if (this.meta.positiveClass) return this.meta.positiveClass;
    const withOp = Object.keys(this.operatingPoint.thresholds)[0];
    if (withOp) return withOp;
    return Object.entries(pred.scores).sort((a, b) => b[1] - a[1])[0]![0];
  }

  /**
   * Occlusion sensitivity (Zeiler & Fergus 2014): the drop in the target class's score when each
   * cell of a grid × grid partition of the model input is replaced by the input's mean. Model
   * agnostic (forward passes only), so it works for imported ONNX models too. Returns grid² values,
   * row-major, clipped at 0 (cells whose removal raises the score carry no evidence for it).
   */
  async occlusionHeatmap(img: GreyImage, cls: string, grid: number): Promise<Float32Array> {
    const j = this.classes.indexOf(cls);
    if (j < 0) throw new InputError('CLASS_UNKNOWN', `class "${cls}" is not one of ${this.classes.join(', ')}`);
    const base = this.prepare(img);
    const s = this.meta.input.size;
    const c = this.meta.input.channels;
    const plane = s * s;
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += base[i]!;
    mean /= plane;
    const n = grid * grid;
    const x = new Float32Array((n + 1) * base.length);
    x.set(base, 0);
    for (let g = 0; g < n; g++) {
      const gy = Math.floor(g / grid);
      const gx = g % grid;
      const off = (g + 1) * base.length;
      x.set(base, off);
      const y0 = Math.floor((gy * s) / grid), y1 = Math.floor(((gy + 1) * s) / grid);
      const x0 = Math.floor((gx * s) / grid), x1 = Math.floor(((gx + 1) * s) / grid);
      for (let ch = 0; ch < c; ch++) for (let yy = y0; yy < y1; yy++) x.fill(mean, off + ch * plane + yy * s + x0, off + ch * plane + yy * s + x1);
    }
    const p = await this.scoreInputs(x, n + 1);
    const k = this.classes.length;
    const ref = p[j]!;
    const out = new Float32Array(n);
    for (let g = 0; g < n; g++) out[g] = Math.max(0, ref - p[(g + 1) * k + j]!);
    return out;
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}
