/**
 * A verified model folder loaded for the service: loading, preprocessing, scoring and calibration
 * are the shared Predictor's (src/predict/), so the service and `radml predict` agree; this file
 * adds the service's heatmap target and occlusion map.
 */
import { Predictor, readOperatingPoint, type OperatingPoint } from '../predict/index.js';
import type { GreyImage } from '../data/grey-image.js';
import type { ModelJson } from '../train/model-folder.js';
import { InputError } from '../util/errors.js';
import { contentRect } from './results-dicom.js';

export { readOperatingPoint, type OperatingPoint };

export interface ImagePrediction {
  /** Calibrated probabilities when the model has a calibration (what decisions use). */
  scores: Record<string, number>;
  /** The model's own probabilities before calibration. */
  raw: Record<string, number>;
  decisions: Record<string, boolean>;
}

export class ModelRunner {
  private constructor(readonly predictor: Predictor) {}

  /**
   * Verify and load a model folder (through the shared Predictor, so served scores are
   * `radml predict`'s scores). The gate is applied by InputGuard in the service.
   * @example const r = await ModelRunner.load('models/cxr/v1'); (await r.predict([img]))[0].scores
   */
  static async load(dir: string, opts: { threads?: number } = {}): Promise<ModelRunner> {
    return new ModelRunner(await Predictor.open(dir, { threads: opts.threads ?? 1, oodGate: false, gradients: false }));
  }

  get dir(): string { return this.predictor.dir; }
  get meta(): ModelJson { return this.predictor.meta; }
  get onnxSha256(): string { return this.predictor.onnxSha256; }
  get operatingPoint(): OperatingPoint { return this.predictor.operatingPoint; }
  get classes(): string[] {
    return this.meta.classes;
  }

  /** Model input for one image: the Predictor's pixel path (as `radml predict`), channels replicated. */
  prepare(img: GreyImage): Float32Array {
    return this.predictor.prepare(img);
  }

  /** Calibrated probabilities [batch × K] for already-prepared inputs. */
  async scoreInputs(x: Float32Array, batch: number): Promise<Float32Array> {
    return this.predictor.scoreInputs(x, batch);
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
    const raw = await this.predictor.rawProbabilitiesOfInputs(x, n);
    const p = this.predictor.calibrate(raw, n);
    const k = this.classes.length;
    return Array.from({ length: n }, (_, i) => {
      const scores: Record<string, number> = {};
      const rawScores: Record<string, number> = {};
      const decisions: Record<string, boolean> = {};
      this.classes.forEach((c, j) => {
        scores[c] = p[i * k + j]!;
        rawScores[c] = raw[i * k + j]!;
        const t = this.operatingPoint.thresholds[c];
        if (t !== undefined) decisions[c] = scores[c] >= t;
      });
      return { scores, raw: rawScores, decisions };
    });
  }

  /**
   * The finding a single heatmap explains (`?heatmap=1`): the highest-scoring positive finding; with
   * none positive, the highest-scoring finding that has an operating point (the positive class of a
   * binary model), else the top score.
   */
  targetClass(pred: Pick<ImagePrediction, 'scores' | 'decisions'>): string {
    const byScore = Object.entries(pred.scores).sort((a, b) => b[1] - a[1]).map(([c]) => c);
    return byScore.find((c) => pred.decisions[c] === true)
      ?? byScore.find((c) => c in this.operatingPoint.thresholds)
      ?? this.meta.positiveClass
      ?? byScore[0]!;
  }

  /**
   * The findings the Secondary Captures show heatmaps for: every positive finding, highest score
   * first, at most `max`. A model with no operating point has no decisions: its top score is shown.
   * A model with operating points and nothing positive gets none (a heatmap of a negative finding
   * would invite reading it as one).
   */
  heatmapTargets(pred: Pick<ImagePrediction, 'scores' | 'decisions'>, max: number): string[] {
    const byScore = Object.entries(pred.scores).sort((a, b) => b[1] - a[1]).map(([c]) => c);
    if (Object.keys(this.operatingPoint.thresholds).length === 0) return byScore.slice(0, Math.min(1, max));
    return byScore.filter((c) => pred.decisions[c] === true).slice(0, max);
  }

  /**
   * Occlusion sensitivity (Zeiler & Fergus 2014): the drop in the target class's score when each
   * cell of a grid × grid partition of the model input is replaced by the mean of the image. Model
   * agnostic (forward passes only), so it works for imported ONNX models too. Returns grid² values,
   * row-major, clipped at 0 (cells whose removal raises the score carry no evidence for it). Only
   * the image's own pixels are occluded: cells wholly in the padding of a letterboxed (resize "pad")
   * image are 0 and cost no forward pass, so no heat lands on the padding.
   */
  async occlusionHeatmap(img: GreyImage, cls: string, grid: number): Promise<Float32Array> {
    const j = this.classes.indexOf(cls);
    if (j < 0) throw new InputError('CLASS_UNKNOWN', `class "${cls}" is not one of ${this.classes.join(', ')}`);
    const base = this.prepare(img);
    const s = this.meta.input.size;
    const c = this.meta.input.channels;
    const plane = s * s;
    const content = contentRect(img, s, this.meta.preprocessing.resize);
    const cx1 = content.x + content.width, cy1 = content.y + content.height;
    let mean = 0;
    for (let yy = content.y; yy < cy1; yy++) for (let xx = content.x; xx < cx1; xx++) mean += base[yy * s + xx]!;
    mean /= content.width * content.height;
    const n = grid * grid;
    const cells: { g: number; y0: number; y1: number; x0: number; x1: number }[] = [];
    for (let g = 0; g < n; g++) {
      const gy = Math.floor(g / grid);
      const gx = g % grid;
      const y0 = Math.max(content.y, Math.floor((gy * s) / grid)), y1 = Math.min(cy1, Math.floor(((gy + 1) * s) / grid));
      const x0 = Math.max(content.x, Math.floor((gx * s) / grid)), x1 = Math.min(cx1, Math.floor(((gx + 1) * s) / grid));
      if (y1 > y0 && x1 > x0) cells.push({ g, y0, y1, x0, x1 });
    }
    const x = new Float32Array((cells.length + 1) * base.length);
    x.set(base, 0);
    cells.forEach((cell, i) => {
      const off = (i + 1) * base.length;
      x.set(base, off);
      for (let ch = 0; ch < c; ch++) for (let yy = cell.y0; yy < cell.y1; yy++) x.fill(mean, off + ch * plane + yy * s + cell.x0, off + ch * plane + yy * s + cell.x1);
    });
    const p = await this.scoreInputs(x, cells.length + 1);
    const k = this.classes.length;
    const ref = p[j]!;
    const out = new Float32Array(n);
    cells.forEach((cell, i) => (out[cell.g] = Math.max(0, ref - p[(i + 1) * k + j]!)));
    return out;
  }

  async release(): Promise<void> {
    await this.predictor.release();
  }
}
