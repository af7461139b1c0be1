/**
 * Saliency methods. Inputs are model-input tensors x [N,C,H,W] (after preprocessing); maps are
 * per pixel [N,H,W] (channels summed). Gradient methods need a GradientModel; occlusion needs only
 * a score function, so it works on any ONNX model.
 */
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { lastConvLayer } from './graph-split.js';
import { GradientModel, oneHot } from './model.js';

/** Scores [n,K] of a batch [n, ...input]; logits or probabilities. */
export type ScoreFunction = (x: Float32Array, n: number) => Promise<Float32Array>;

export interface SaliencyResult {
  /** [N,H,W] */
  maps: Float32Array;
  height: number;
  width: number;
}

function dims(shape: number[]): { c: number; h: number; w: number; per: number } {
  const [c, h, w] = shape as [number, number, number];
  return { c, h, w, per: c * h * w };
}

function checkBatch(x: Float32Array, n: number, per: number, classes: ArrayLike<number>, k: number): void {
  if (x.length !== n * per) throw new InputError('BATCH_INVALID', `x has ${x.length} values, expected ${n} × ${per}`);
  if (classes.length !== n) throw new InputError('BATCH_INVALID', `${classes.length} target classes for ${n} images`);
  for (let i = 0; i < n; i++) if (!(classes[i]! >= 0 && classes[i]! < k)) throw new InputError('CLASS_INVALID', `target class ${classes[i]} is not in 0..${k - 1}`);
}

/** Sums channels: [N,C,H,W] → [N,H,W]. */
export function sumChannels(t: Float32Array, n: number, c: number, hw: number, abs = false): Float32Array {
  const out = new Float32Array(n * hw);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) {
    const src = (i * c + ch) * hw;
    for (let p = 0; p < hw; p++) out[i * hw + p] += abs ? Math.abs(t[src + p]!) : t[src + p]!;
  }
  return out;
}

/**
 * Bilinear resize of one map (half-pixel centres, edge clamped — PyTorch's
 * `interpolate(mode='bilinear', align_corners=False)`).
 */
export function upsampleBilinear(src: Float32Array, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const sy = h / H, sx = w / W;
  for (let y = 0; y < H; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(h - 1, Math.floor(fy)), y1 = Math.min(h - 1, y0 + 1), ay = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(w - 1, Math.floor(fx)), x1 = Math.min(w - 1, x0 + 1), ax = fx - x0;
      const top = src[y0 * w + x0]! * (1 - ax) + src[y0 * w + x1]! * ax;
      const bot = src[y1 * w + x0]! * (1 - ax) + src[y1 * w + x1]! * ax;
      out[y * W + x] = top * (1 - ay) + bot * ay;
    }
  }
  return out;
}

export interface GradCamResult extends SaliencyResult {
  layer: string;
  /** Coarse maps at the layer's resolution [N,h,w] (after ReLU, before upsampling). */
  coarse: Float32Array;
  coarseHeight: number;
  coarseWidth: number;
}

/**
 * Grad-CAM (Selvaraju et al. 2017): ReLU(Σ_k α_k A_k), α_k = spatial mean of d logit_c / d A_k, at
 * `layer` (default: the last conv block's output), upsampled bilinearly to the input size.
 *
 * @example const { maps } = await gradCam(model, x, 2, [1, 1]);
 */
export async function gradCam(model: GradientModel, x: Float32Array, n: number, classes: ArrayLike<number>, opts: { layer?: string } = {}): Promise<GradCamResult> {
  const { h: H, w: W, per } = dims(model.inputShape);
  const k = model.numClasses;
  checkBatch(x, n, per, classes, k);
  const layer = opts.layer ?? lastConvLayer(model.graph);
  const shape = model.graph.shapes[layer];
  if (!shape || shape.length !== 3) throw new InputError('LAYER_INVALID', `Grad-CAM needs a spatial layer; "${layer}" has shape [${shape?.join(',') ?? '?'}]`);
  const [c, h, w] = shape as [number, number, number];
  const a = await model.activations(layer, x, n);
  const { grad } = await model.activationGradient(layer, a, n, oneHot(classes, k, n));
  const hw = h * w;
  const coarse = new Float32Array(n * hw);
  const maps = new Float32Array(n * H * W);
  for (let i = 0; i < n; i++) {
    const cam = coarse.subarray(i * hw, (i + 1) * hw);
    for (let ch = 0; ch < c; ch++) {
      const off = (i * c + ch) * hw;
      let alpha = 0;
      for (let p = 0; p < hw; p++) alpha += grad[off + p]!;
      alpha /= hw;
      for (let p = 0; p < hw; p++) cam[p] += alpha * a[off + p]!;
    }
    for (let p = 0; p < hw; p++) if (cam[p]! < 0) cam[p] = 0;
    maps.set(upsampleBilinear(cam, h, w, H, W), i * H * W);
  }
  return { maps, height: H, width: W, layer, coarse, coarseHeight: h, coarseWidth: w };
}

/** Plain gradient of the class logit w.r.t. the input, [N,C,H,W]. */
export async function inputGradient(model: GradientModel, x: Float32Array, n: number, classes: ArrayLike<number>): Promise<Float32Array> {
  checkBatch(x, n, model.inputSize, classes, model.numClasses);
  return (await model.logitGradient(x, n, oneHot(classes, model.numClasses, n))).grad;
}

export interface IntegratedGradientsResult extends SaliencyResult {
  /** Attributions [N,C,H,W]. */
  attributions: Float32Array;
  /** Per image: Σ attributions − (f(x) − f(baseline)) for the class logit (completeness error). */
  delta: Float32Array;
}

/**
 * Integrated gradients (Sundararajan et al. 2017) with the midpoint Riemann rule over `steps`
 * points: (x − x') ⊙ mean_k ∇f(x' + (k−½)/m · (x − x')). The baseline defaults to zeros (in model
 * input space). Interpolated inputs are run `batch` at a time.
 *
 * @example const { attributions, delta } = await integratedGradients(model, x, 1, [1], { steps: 50 });
 */
export async function integratedGradients(
  model: GradientModel, x: Float32Array, n: number, classes: ArrayLike<number>,
  opts: { steps?: number; baseline?: Float32Array; batch?: number; onProgress?: ProgressCallback } = {},
): Promise<IntegratedGradientsResult> {
  const { c, h, w, per } = dims(model.inputShape);
  const k = model.numClasses;
  checkBatch(x, n, per, classes, k);
  const steps = opts.steps ?? 50;
  if (!Number.isInteger(steps) || steps < 1) throw new InputError('STEPS_INVALID', `steps must be a positive integer, got ${steps}`);
  const baseline = opts.baseline ?? new Float32Array(per);
  if (baseline.length !== per && baseline.length !== n * per) throw new InputError('BASELINE_INVALID', `baseline has ${baseline.length} values, expected ${per} or ${n * per}`);
  const batch = Math.max(1, opts.batch ?? 16);
  const attributions = new Float32Array(n * per);
  const delta = new Float32Array(n);
  const buf = new Float32Array(batch * per);
  for (let i = 0; i < n; i++) {
    const xi = x.subarray(i * per, (i + 1) * per);
    const bi = baseline.length === per ? baseline : baseline.subarray(i * per, (i + 1) * per);
    const sum = new Float64Array(per);
    for (let s0 = 0; s0 < steps; s0 += batch) {
      const m = Math.min(batch, steps - s0);
      for (let j = 0; j < m; j++) {
        const alpha = (s0 + j + 0.5) / steps;
        const dst = buf.subarray(j * per, (j + 1) * per);
        for (let p = 0; p < per; p++) dst[p] = bi[p]! + alpha * (xi[p]! - bi[p]!);
      }
      const { grad } = await model.logitGradient(buf.subarray(0, m * per), m, oneHot(classes[i]!, k, m));
      for (let j = 0; j < m; j++) for (let p = 0; p < per; p++) sum[p] += grad[j * per + p]!;
    }
    let total = 0;
    for (let p = 0; p < per; p++) {
      const v = ((xi[p]! - bi[p]!) * sum[p]!) / steps;
      attributions[i * per + p] = v;
      total += v;
    }
    const ends = new Float32Array(2 * per);
    ends.set(xi, 0);
    ends.set(bi, per);
    const lg = await model.logits(ends, 2);
    delta[i] = total - (lg[classes[i]!]! - lg[k + classes[i]!]!);
    opts.onProgress?.({ stage: 'integrated gradients', done: i + 1, total: n });
  }
  return { attributions, delta, maps: sumChannels(attributions, n, c, h * w), height: h, width: w };
}

/**
 * SmoothGrad (Smilkov et al. 2017): the mean input gradient over `samples` copies with Gaussian
 * noise of sd = noiseLevel × (max − min of each image). Maps are |mean gradient| summed over channels.
 */
export async function smoothGrad(
  model: GradientModel, x: Float32Array, n: number, classes: ArrayLike<number>,
  opts: { samples?: number; noiseLevel?: number; seed?: number; batch?: number } = {},
): Promise<SaliencyResult & { gradients: Float32Array }> {
  const { c, h, w, per } = dims(model.inputShape);
  const k = model.numClasses;
  checkBatch(x, n, per, classes, k);
  const samples = opts.samples ?? 25;
  const level = opts.noiseLevel ?? 0.15;
  const batch = Math.max(1, opts.batch ?? 16);
  const rng = new Rng(opts.seed ?? 1);
  const gradients = new Float32Array(n * per);
  const buf = new Float32Array(batch * per);
  for (let i = 0; i < n; i++) {
    const xi = x.subarray(i * per, (i + 1) * per);
    let lo = Infinity, hi = -Infinity;
    for (let p = 0; p < per; p++) { lo = Math.min(lo, xi[p]!); hi = Math.max(hi, xi[p]!); }
    const sd = level * (hi - lo || 1);
    const sum = new Float64Array(per);
    for (let s0 = 0; s0 < samples; s0 += batch) {
      const m = Math.min(batch, samples - s0);
      for (let j = 0; j < m; j++) for (let p = 0; p < per; p++) buf[j * per + p] = xi[p]! + rng.normal(0, sd);
      const { grad } = await model.logitGradient(buf.subarray(0, m * per), m, oneHot(classes[i]!, k, m));
      for (let j = 0; j < m; j++) for (let p = 0; p < per; p++) sum[p] += grad[j * per + p]!;
    }
    for (let p = 0; p < per; p++) gradients[i * per + p] = sum[p]! / samples;
  }
  return { gradients, maps: sumChannels(gradients, n, c, h * w, true), height: h, width: w };
}

/**
 * Occlusion sensitivity (Zeiler & Fergus 2014) for any model: slide a `patch`×`patch` square of
 * `fill` with `stride`; each pixel's value is the mean drop of the class score over the patches
 * covering it. Occluded copies are scored `batch` at a time.
 *
 * @example const { maps } = await occlusion(score, [1, 64, 64], x, 1, [1], { patch: 8, stride: 4 });
 */
export async function occlusion(
  score: ScoreFunction, inputShape: number[], x: Float32Array, n: number, classes: ArrayLike<number>,
  opts: { patch?: number; stride?: number; fill?: number; batch?: number; onProgress?: ProgressCallback } = {},
): Promise<SaliencyResult> {
  const { c, h, w, per } = dims(inputShape);
  if (x.length !== n * per) throw new InputError('BATCH_INVALID', `x has ${x.length} values, expected ${n} × ${per}`);
  const patch = opts.patch ?? Math.max(2, Math.round(Math.min(h, w) / 8));
  const stride = opts.stride ?? Math.max(1, Math.round(patch / 2));
  if (patch < 1 || stride < 1) throw new InputError('OCCLUSION_INVALID', 'patch and stride must be positive');
  const fill = opts.fill ?? 0;
  const batch = Math.max(1, opts.batch ?? 32);
  const starts = (size: number) => {
    const s: number[] = [];
    for (let v = 0; v + patch < size; v += stride) s.push(v);
    s.push(Math.max(0, size - patch));
    return [...new Set(s)];
  };
  const ys = starts(h), xs = starts(w);
  const positions = ys.flatMap((y) => xs.map((xx) => [y, xx] as const));
  const maps = new Float32Array(n * h * w);
  const base = await score(x, n);
  const k = base.length / n;
  const buf = new Float32Array(batch * per);
  for (let i = 0; i < n; i++) {
    const cls = classes[i]!;
    if (!(cls >= 0 && cls < k)) throw new InputError('CLASS_INVALID', `target class ${cls} is not in 0..${k - 1}`);
    const xi = x.subarray(i * per, (i + 1) * per);
    const sum = new Float64Array(h * w);
    const count = new Float64Array(h * w);
    for (let s0 = 0; s0 < positions.length; s0 += batch) {
      const m = Math.min(batch, positions.length - s0);
      for (let j = 0; j < m; j++) {
        const dst = buf.subarray(j * per, (j + 1) * per);
        dst.set(xi);
        const [py, px] = positions[s0 + j]!;
        for (let ch = 0; ch < c; ch++) for (let yy = py; yy < Math.min(h, py + patch); yy++) {
          dst.fill(fill, ch * h * w + yy * w + px, ch * h * w + yy * w + Math.min(w, px + patch));
        }
      }
      const sc = await score(buf.subarray(0, m * per), m);
      for (let j = 0; j < m; j++) {
        const drop = base[i * k + cls]! - sc[j * k + cls]!;
        const [py, px] = positions[s0 + j]!;
        for (let yy = py; yy < Math.min(h, py + patch); yy++) for (let xx = px; xx < Math.min(w, px + patch); xx++) {
          sum[yy * w + xx] += drop;
          count[yy * w + xx] += 1;
        }
      }
    }
    for (let p = 0; p < h * w; p++) maps[i * h * w + p] = count[p]! > 0 ? sum[p]! / count[p]! : 0;
    opts.onProgress?.({ stage: 'occlusion', done: i + 1, total: n });
  }
  return { maps, height: h, width: w };
}
