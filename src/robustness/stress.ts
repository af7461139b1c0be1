/**
 * The stress test behind `radml stress`: adversarial attacks (white-box FGSM / PGD L∞ / PGD L2 from
 * input gradients; the black-box Square Attack for any model) and natural corruptions, each swept
 * over its strength, with AUROC and sensitivity/specificity at a fixed operating point (chosen once
 * on the clean images, as it would be when deployed) at every step. Attacks work in intensity
 * space: ε is in grey levels of [0,1] images (e.g. 1/255), images stay in [0,1].
 */
import { z } from 'zod';
import { auroc, chooseThreshold, rankScores, type ThresholdRule } from '../evaluate/index.js';
import type { Dataset } from '../data/dataset.js';
import { datasetImages, type LoadedModel, modelTargets } from '../explain/loaded-model.js';
import { evaluationImages } from '../explain/run.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { attackLoss, fgsm, pgd, squareAttack, type LossGradientFunction, type QueryLossFunction } from './attacks.js';
import { CORRUPTION_LEVELS, CORRUPTION_UNITS, CORRUPTIONS, corrupt, type Corruption } from './corruptions.js';

export const ATTACKS = ['fgsm', 'pgd-linf', 'pgd-l2', 'square'] as const;
export type AttackName = (typeof ATTACKS)[number];

export const DEFAULT_EPSILONS = [0, 0.5, 1, 2, 4, 8].map((v) => v / 255);

export const curvePointSchema = z.object({
  /** ε (attacks; L2 radius for pgd-l2) or severity 0..5 (corruptions). */
  strength: z.number(),
  auroc: z.number().nullable(),
  sensitivity: z.number().nullable(),
  specificity: z.number().nullable(),
  accuracy: z.number().nullable(),
});
export type CurvePoint = z.infer<typeof curvePointSchema>;

export const stressCurveSchema = z.object({
  kind: z.enum(['attack', 'corruption']),
  name: z.string(),
  unit: z.string(),
  points: z.array(curvePointSchema),
});
export type StressCurve = z.infer<typeof stressCurveSchema>;

export const stressResultSchema = z.object({
  images: z.number().int(),
  /** The split the images came from ("test", "val", "all rows"); absent in files from before it was recorded. */
  split: z.string().optional(),
  classes: z.array(z.string()),
  /** Classes the AUROC/sensitivity refer to (the positive class, or each finding). */
  scoredClasses: z.array(z.string()),
  operatingPoint: z.object({ rule: z.string(), thresholds: z.record(z.string(), z.number()) }),
  curves: z.array(stressCurveSchema),
  notes: z.array(z.string()),
});
export type StressResult = z.infer<typeof stressResultSchema>;

export interface StressOptions {
  attacks?: AttackName[];
  corruptions?: Corruption[];
  /** L∞ radii in intensity units (default 0, 0.5, 1, 2, 4, 8 grey levels of 255). */
  epsilons?: number[];
  /** L2 radii; default the L∞ radii × √(pixels) / 4 (a perturbation of a quarter of the L∞ energy). */
  l2Epsilons?: number[];
  pgdSteps?: number;
  squareQueries?: number;
  /** Evaluate at most this many labelled images (seeded sample). Default 200. */
  maxImages?: number;
  /** Which split's images to attack and corrupt: a split name or `all`; default the evaluation split (test, else val, else every row). */
  split?: string;
  /** How the operating point is chosen on the clean images (default Youden). */
  rule?: ThresholdRule;
  batch?: number;
  seed?: number;
  onProgress?: ProgressCallback;
}

/** Which output columns are scored as binary problems, and the labels for each. */
function scoredColumns(model: LoadedModel): number[] {
  const m = model.meta;
  if (m.labelKind === 'multilabel') return m.classes.map((_, i) => i);
  if (m.classes.length === 2) return [m.positiveClass ? Math.max(0, m.classes.indexOf(m.positiveClass)) : 1];
  return m.classes.map((_, i) => i);
}

/** Intensity-space gradient of the model's loss at fixed targets. */
export function intensityLossGradient(model: LoadedModel, target: Float32Array, mask: Float32Array): LossGradientFunction {
  const g = model.requireGradient('a white-box attack');
  const loss = model.meta.labelKind === 'multilabel' ? { kind: 'bce_logits' as const } : { kind: 'softmax_ce' as const };
  return async (x, n) => {
    const r = await g.lossGradient(model.toInput(x, n), n, loss, target.subarray(0, n * model.numClasses), loss.kind === 'bce_logits' ? mask.subarray(0, n * model.numClasses) : undefined);
    return { grad: model.gradToIntensity(r.grad, n), logits: r.logits };
  };
}

/** Query-only attack loss (negative margin / BCE) in intensity space; works for any ONNX model. */
export function intensityQueryLoss(model: LoadedModel, target: Float32Array): QueryLossFunction {
  const kind = model.meta.labelKind === 'multilabel' ? 'bce_logits' : 'softmax_ce';
  return async (x, n) => {
    const input = model.toInput(x, n);
    // Probability-only models: log p keeps the softmax margin as with logits; log-odds invert a sigmoid.
    const sigmoid = model.meta.output.activation === 'sigmoid';
    const scores = (await model.logits(input, n)) ?? (await model.rawScores(input, n)).map((p) => {
      const q = Math.min(1 - 1e-7, Math.max(1e-12, p));
      return sigmoid ? Math.log(q / (1 - q)) : Math.log(q);
    });
    return attackLoss(scores, n, model.numClasses, target, kind);
  };
}

interface Evaluation {
  probs: Float32Array;
}

function curvePoint(strength: number, ev: Evaluation, model: LoadedModel, target: Float32Array, mask: Float32Array, n: number, cols: number[], thresholds: number[]): CurvePoint {
  const k = model.numClasses;
  const aurocs: number[] = [], sens: number[] = [], spec: number[] = [];
  cols.forEach((c, j) => {
    const s: number[] = [], y: number[] = [];
    for (let i = 0; i < n; i++) if (mask[i * k + c]) { s.push(ev.probs[i * k + c]!); y.push(target[i * k + c]!); }
    const pos = y.filter((v) => v === 1).length;
    if (pos === 0 || pos === y.length) return;
    aurocs.push(auroc(rankScores(s, y)));
    let tp = 0, fn = 0, tn = 0, fp = 0;
    s.forEach((v, i) => { const call = v >= thresholds[j]!; if (y[i]) call ? tp++ : fn++; else call ? fp++ : tn++; });
    sens.push(tp / (tp + fn));
    spec.push(tn / (tn + fp));
  });
  let accuracy: number | null = null;
  if (model.meta.labelKind === 'categorical') {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (ev.probs[i * k + c]! > ev.probs[i * k + best]!) best = c;
      if (target[i * k + best] === 1) ok++;
    }
    accuracy = ok / n;
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
  return { strength, auroc: mean(aurocs), sensitivity: mean(sens), specificity: mean(spec), accuracy };
}

async function probabilities(model: LoadedModel, images: Float32Array, n: number, batch: number): Promise<Float32Array> {
  const px = model.size * model.size;
  const out = new Float32Array(n * model.numClasses);
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    out.set(await model.probabilities(images.subarray(s * px, (s + m) * px), m), s * model.numClasses);
  }
  return out;
}

/**
 * Run the stress test on labelled images of a dataset.
 * @example const r = await stressTest(model, dataset, { attacks: ['fgsm', 'pgd-linf'], corruptions: ['blur'] });
 */
export async function stressTest(model: LoadedModel, ds: Dataset, o: StressOptions = {}): Promise<StressResult> {
  const notes: string[] = [];
  const { target: allTarget, mask: allMask, labelled } = modelTargets(ds, model.meta);
  const k = model.numClasses;
  // The held-out images, as for the evaluation the report sits beside (not the memorised training ones).
  const choice = evaluationImages(ds.manifest.records, o.split, ds.meta.source);
  if (choice.note) notes.push(choice.note);
  let idx = choice.indices.filter((i) => labelled[i]).sort((a, b) => a - b);
  if (idx.length === 0) throw new InputError('STRESS_NO_LABELS', `${ds.meta.source}: no image in split ${choice.split} has a label the model knows (${model.meta.classes.join(', ')})`);
  const available = idx.length;
  const maxImages = o.maxImages ?? 200;
  if (idx.length > maxImages) {
    idx = new Rng(o.seed ?? 1).shuffle(idx).slice(0, maxImages).sort((a, b) => a - b);
    notes.push(`evaluated a seeded sample of ${maxImages} of the ${available} labelled images of split ${choice.split}`);
  } else notes.push(`evaluated all ${available} labelled images of split ${choice.split}`);
  const n = idx.length;
  const target = new Float32Array(n * k), mask = new Float32Array(n * k);
  idx.forEach((i, j) => { target.set(allTarget.subarray(i * k, (i + 1) * k), j * k); mask.set(allMask.subarray(i * k, (i + 1) * k), j * k); });
  const px = model.size * model.size;
  const images = datasetImages(ds, model.size, idx);
  const batch = o.batch ?? 32;
  const cols = scoredColumns(model);
  const clean = await probabilities(model, images, n, batch);
  const rule: ThresholdRule = o.rule ?? { kind: 'youden' };
  const thresholds = cols.map((c) => {
    const s: number[] = [], y: number[] = [];
    for (let i = 0; i < n; i++) if (mask[i * k + c]) { s.push(clean[i * k + c]!); y.push(target[i * k + c]!); }
    const pos = y.filter((v) => v === 1).length;
    if (pos === 0 || pos === y.length) return 0.5;
    return chooseThreshold(rule, s, y)?.threshold ?? 0.5;
  });
  const curves: StressCurve[] = [];
  const epsilons = o.epsilons ?? DEFAULT_EPSILONS;
  const l2 = o.l2Epsilons ?? epsilons.map((e) => (e * Math.sqrt(px)) / 4);
  const canGrad = model.gradient !== null && model.affine !== null;
  let attacks = o.attacks ?? (canGrad ? ['fgsm', 'pgd-linf', 'pgd-l2', 'square'] : ['square']);
  if (!canGrad && attacks.some((a) => a !== 'square')) {
    notes.push(`white-box attacks skipped: ${model.gradient ? 'the preprocessing is not an affine map of intensities' : model.gradientUnavailable}`);
    attacks = attacks.filter((a) => a === 'square');
  }
  const corruptions = o.corruptions ?? [...CORRUPTIONS];
  const total = attacks.length * epsilons.length + corruptions.length * 5;
  let done = 0;
  const tick = (stage: string) => o.onProgress?.({ stage, done: ++done, total });
  for (const attack of attacks) {
    const radii = attack === 'pgd-l2' ? l2 : epsilons;
    const points: CurvePoint[] = [];
    for (const eps of radii) {
      const adv = new Float32Array(n * px);
      for (let s = 0; s < n; s += batch) {
        const m = Math.min(batch, n - s);
        const x = images.subarray(s * px, (s + m) * px);
        const t = target.subarray(s * k, (s + m) * k), mk = mask.subarray(s * k, (s + m) * k);
        const bounds = { lo: 0, hi: 1 };
        let a: Float32Array;
        if (eps === 0) a = Float32Array.from(x);
        else if (attack === 'fgsm') a = await fgsm(intensityLossGradient(model, t, mk), x, m, eps, bounds);
        else if (attack === 'pgd-linf') a = await pgd(intensityLossGradient(model, t, mk), x, m, { eps, norm: 'linf', steps: o.pgdSteps ?? 10, seed: (o.seed ?? 1) + s, bounds });
        else if (attack === 'pgd-l2') a = await pgd(intensityLossGradient(model, t, mk), x, m, { eps, norm: 'l2', steps: o.pgdSteps ?? 10, seed: (o.seed ?? 1) + s, bounds });
        else a = (await squareAttack(intensityQueryLoss(model, t), x, m, model.size, model.size, { eps, queries: o.squareQueries ?? 300, seed: (o.seed ?? 1) + s, bounds, successLoss: model.meta.labelKind === 'categorical' ? 0 : Infinity })).adversarial;
        adv.set(a, s * px);
      }
      points.push(curvePoint(eps, { probs: await probabilities(model, adv, n, batch) }, model, target, mask, n, cols, thresholds));
      tick(attack);
    }
    curves.push({ kind: 'attack', name: attack, unit: attack === 'pgd-l2' ? 'L2 radius (intensity)' : 'L∞ radius (intensity, 1/255 = one grey level)', points });
  }
  for (const c of corruptions) {
    const points: CurvePoint[] = [curvePoint(0, { probs: clean }, model, target, mask, n, cols, thresholds)];
    for (let sev = 1; sev <= 5; sev++) {
      const out = new Float32Array(n * px);
      for (let i = 0; i < n; i++) {
        const img = { width: model.size, height: model.size, data: images.subarray(i * px, (i + 1) * px) };
        out.set((await corrupt(img, c, sev, (o.seed ?? 1) * 7919 + i)).data, i * px);
      }
      points.push(curvePoint(sev, { probs: await probabilities(model, out, n, batch) }, model, target, mask, n, cols, thresholds));
      tick(c);
    }
    curves.push({ kind: 'corruption', name: c, unit: `severity (${CORRUPTION_UNITS[c]}: ${CORRUPTION_LEVELS[c].join(', ')})`, points });
  }
  const thr: Record<string, number> = {};
  cols.forEach((c, j) => { thr[model.meta.classes[c]!] = thresholds[j]!; });
  return {
    images: n, split: choice.split, classes: model.meta.classes, scoredClasses: cols.map((c) => model.meta.classes[c]!),
    operatingPoint: { rule: rule.kind, thresholds: thr }, curves, notes,
  };
}
