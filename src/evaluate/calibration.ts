/**
 * Calibration: Brier score, ECE/MCE over equal-width bins (the bins of scikit-learn's
 * `calibration_curve(strategy='uniform')`), calibration slope and intercept, and recalibration maps
 * (Platt, isotonic/PAV, temperature) that are fitted once and saved as JSON for deployment.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { mapFloat } from './stats.js';

const EPS = 1e-15;

export function clipProbability(p: number): number {
  return Math.min(1 - EPS, Math.max(EPS, p));
}

export function logit(p: number): number {
  const q = clipProbability(p);
  return Math.log(q / (1 - q));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Mean squared difference between probability and outcome. */
export function brierScore(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / p.length;
}

/** Mean negative log-likelihood with probabilities clipped away from 0 and 1. */
export function logLoss(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = clipProbability(p[i]!);
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  mean_predicted: number;
  observed_rate: number;
}

/**
 * Equal-width reliability bins. A probability falls in bin k when edge[k] < p ≤ edge[k+1] (the first
 * bin also holds p = 0), exactly like `calibration_curve`'s `searchsorted(bins[1:-1], p)`. Empty bins are omitted.
 */
export function reliabilityBins(p: ArrayLike<number>, y: ArrayLike<number>, nBins = 10): ReliabilityBin[] {
  const step = 1 / nBins;
  const edges: number[] = [];
  for (let i = 0; i <= nBins; i++) edges.push(i * step);
  edges[nBins] = 1;
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    // searchsorted(inner edges, v, side='left'): number of inner edges strictly below v.
    let lo = 0;
    let hi = nBins - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (edges[mid + 1]! < v) lo = mid + 1;
      else hi = mid;
    }
    count[lo]!++;
    sumP[lo]! += v;
    sumY[lo]! += y[i]!;
  }
  const bins: ReliabilityBin[] = [];
  for (let k = 0; k < nBins; k++) {
    if (count[k] === 0) continue;
    bins.push({ lower: edges[k]!, upper: edges[k + 1]!, count: count[k]!, mean_predicted: sumP[k]! / count[k]!, observed_rate: sumY[k]! / count[k]! });
  }
  return bins;
}

/** Expected and maximum calibration error over equal-width bins. */
export function calibrationErrors(p: ArrayLike<number>, y: ArrayLike<number>, nBins = 10): { ece: number; mce: number } {
  const bins = reliabilityBins(p, y, nBins);
  let ece = 0;
  let mce = 0;
  for (const b of bins) {
    const gap = Math.abs(b.observed_rate - b.mean_predicted);
    ece += (b.count / p.length) * gap;
    mce = Math.max(mce, gap);
  }
  return { ece, mce };
}

export interface LogisticFit {
  intercept: number;
  slope: number;
  converged: boolean;
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Maximum-likelihood logistic regression y ~ intercept + slope·x (+ offset) by Newton–Raphson with
 * step halving (every accepted step raises the log-likelihood, so a start far from the optimum cannot
 * oscillate). `fixSlope` holds the slope fixed (calibration-in-the-large uses slope 0 with logit(p) as
 * offset); `noIntercept` fits the slope only.
 *
 * Converged means the Newton decrement gᵀH⁻¹g — the log-likelihood still to gain — is below 1e-14
 * relative to the log-likelihood (a scale-free test: an absolute step tolerance is never met by fits on
 * large or far-from-zero data), with finite coefficients under 1e3 in size and a log-likelihood short of
 * 0. A log-likelihood of 0 or diverging coefficients mean the outcome is (quasi-)separated by x.
 * @example fitLogistic([-2, -1, 0, 1, 2, 0.5], [0, 0, 1, 1, 1, 0]).slope
 */
export function fitLogistic(x: ArrayLike<number>, y: ArrayLike<number>, opts: { offset?: ArrayLike<number>; fixSlope?: number; noIntercept?: boolean } = {}): LogisticFit {
  let a = 0;
  let b = opts.fixSlope ?? (opts.noIntercept ? 1 : 0);
  const n = x.length;
  const off = opts.offset;
  const loglik = (ca: number, cb: number): number => {
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const eta = ca + cb * x[i]! + (off ? off[i]! : 0);
      ll += (y[i] === 1 ? eta : 0) - softplus(eta);
    }
    return ll;
  };
  let ll = loglik(a, b);
  let converged = false;
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const eta = a + b * xi + (off ? off[i]! : 0);
      const p = sigmoid(eta);
      const w = p * (1 - p);
      const r = y[i]! - p;
      ga += r;
      gb += r * xi;
      haa += w;
      hab += w * xi;
      hbb += w * xi * xi;
    }
    let da = 0;
    let db = 0;
    if (opts.fixSlope !== undefined) {
      da = haa > 0 ? ga / haa : 0;
    } else if (opts.noIntercept) {
      db = hbb > 0 ? gb / hbb : 0;
    } else {
      const det = haa * hbb - hab * hab;
      if (!(Math.abs(det) > 1e-300)) break;
      da = (hbb * ga - hab * gb) / det;
      db = (haa * gb - hab * ga) / det;
    }
    const decrement = da * ga + db * gb;
    if (!(decrement >= 0) || !Number.isFinite(decrement)) break;
    if (decrement <= 1e-14 * Math.max(1, Math.abs(ll))) {
      // Inside the quadratic region: the last Newton step squares the remaining error.
      a += da;
      b += db;
      converged = true;
      break;
    }
    // Keep iterates finite on separable data, then halve until the log-likelihood does not fall.
    const size = Math.max(Math.abs(da), Math.abs(db));
    if (size > 10) {
      da *= 10 / size;
      db *= 10 / size;
    }
    let t = 1;
    let next = loglik(a + da, b + db);
    while (!(next >= ll) && t > 1e-12) {
      t /= 2;
      next = loglik(a + t * da, b + t * db);
    }
    if (!(next >= ll)) {
      // No ascent along the Newton direction: at the optimum up to rounding.
      converged = true;
      break;
    }
    a += t * da;
    b += t * db;
    ll = next;
  }
  const separated = ll > -1e-9 * Math.max(1, n) || !(Math.abs(a) < 1e3 && Math.abs(b) < 1e3);
  return { intercept: a, slope: b, converged: converged && !separated };
}

/**
 * Calibration slope (logistic regression of outcome on logit(p)) and calibration intercept
 * (calibration-in-the-large: intercept with logit(p) as offset, slope fixed at 1). Ideal: slope 1, intercept 0.
 */
export function calibrationSlopeIntercept(p: ArrayLike<number>, y: ArrayLike<number>): { slope: number; intercept: number; converged: boolean } {
  const lp = mapFloat(p, logit);
  const joint = fitLogistic(lp, y);
  const citl = fitLogistic(lp, y, { offset: lp, fixSlope: 0 });
  return { slope: joint.slope, intercept: citl.intercept, converged: joint.converged && citl.converged };
}

/** Isotonic regression by pool-adjacent-violators; ties in x are averaged first (as scikit-learn). */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>): { x: number[]; y: number[] } {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i]! - x[j]!);
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  for (const i of idx) {
    const xi = x[i]!;
    if (ux.length && ux[ux.length - 1] === xi) {
      uy[uy.length - 1]! += y[i]!;
      uw[uw.length - 1]!++;
    } else {
      ux.push(xi);
      uy.push(y[i]!);
      uw.push(1);
    }
  }
  // Blocks of (sum, weight, end index).
  const val: number[] = [];
  const wt: number[] = [];
  const end: number[] = [];
  for (let k = 0; k < ux.length; k++) {
    val.push(uy[k]! / uw[k]!);
    wt.push(uw[k]!);
    end.push(k);
    while (val.length > 1 && val[val.length - 2]! > val[val.length - 1]!) {
      const v2 = val.pop()!, w2 = wt.pop()!, e2 = end.pop()!;
      const v1 = val.pop()!, w1 = wt.pop()!;
      end.pop();
      val.push((v1 * w1 + v2 * w2) / (w1 + w2));
      wt.push(w1 + w2);
      end.push(e2);
    }
  }
  const fitted = new Array<number>(ux.length);
  let start = 0;
  for (let b = 0; b < val.length; b++) {
    for (let k = start; k <= end[b]!; k++) fitted[k] = val[b]!;
    start = end[b]! + 1;
  }
  // Keep only the ends of constant runs: interpolation between them is unchanged.
  const kx: number[] = [];
  const ky: number[] = [];
  for (let k = 0; k < ux.length; k++) {
    const keep = k === 0 || k === ux.length - 1 || fitted[k] !== fitted[k - 1] || fitted[k] !== fitted[k + 1];
    if (keep) {
      kx.push(ux[k]!);
      ky.push(fitted[k]!);
    }
  }
  return { x: kx, y: ky };
}

/** Piecewise-linear interpolation, clipped at the ends (numpy `interp`). */
export function interpolate(v: number, xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n === 0) return NaN;
  if (v <= xs[0]!) return ys[0]!;
  if (v >= xs[n - 1]!) return ys[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= v) lo = mid;
    else hi = mid;
  }
  const t = (v - xs[lo]!) / (xs[hi]! - xs[lo]!);
  return ys[lo]! + t * (ys[hi]! - ys[lo]!);
}

export const recalibrationMapSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('none') }),
  /** p' = σ(a + b·logit p) */
  z.object({ method: z.literal('platt'), a: z.number(), b: z.number() }),
  /** p' = σ(logit(p) / T) */
  z.object({ method: z.literal('temperature'), temperature: z.number().positive() }),
  /** p' = piecewise-linear through (x, y), clipped at the ends */
  z.object({ method: z.literal('isotonic'), x: z.array(z.number()), y: z.array(z.number()) }),
]);
export type RecalibrationMap = z.infer<typeof recalibrationMapSchema>;
export type RecalibrationMethod = RecalibrationMap['method'];

export function fitPlatt(p: ArrayLike<number>, y: ArrayLike<number>): RecalibrationMap {
  const f = fitLogistic(mapFloat(p, logit), y);
  return { method: 'platt', a: f.intercept, b: f.slope };
}

export function fitTemperature(p: ArrayLike<number>, y: ArrayLike<number>): RecalibrationMap {
  const f = fitLogistic(mapFloat(p, logit), y, { noIntercept: true });
  // A non-positive slope means the scores rank backwards; temperature scaling cannot express that.
  const temperature = f.slope > 1e-6 ? 1 / f.slope : 1e6;
  return { method: 'temperature', temperature };
}

export function fitIsotonicMap(p: ArrayLike<number>, y: ArrayLike<number>): RecalibrationMap {
  const f = fitIsotonic(p, y);
  return { method: 'isotonic', x: f.x, y: f.y };
}

/** Apply one recalibration map to one probability. */
export function recalibrate(map: RecalibrationMap, p: number): number {
  switch (map.method) {
    case 'none': return p;
    case 'platt': return sigmoid(map.a + map.b * logit(p));
    case 'temperature': return sigmoid(logit(p) / map.temperature);
    case 'isotonic': return interpolate(p, map.x, map.y);
  }
}

export const calibrationFileSchema = z.object({
  format: z.literal('radml.calibration/1'),
  created: z.string(),
  fitted_on: z.object({ split: z.string(), n: z.number().int() }),
  classes: z.record(
    z.string(),
    z.object({
      score_column: z.string(),
      n: z.number().int(),
      n_positive: z.number().int(),
      recommended: z.enum(['none', 'platt', 'temperature', 'isotonic']),
      maps: z.array(recalibrationMapSchema),
      /** How each map does on the evaluation split (never used to pick the recommended map). */
      evaluation: z.record(z.string(), z.object({ brier: z.number().nullable(), ece: z.number().nullable(), log_loss: z.number().nullable() })),
      note: z.string().optional(),
    }),
  ),
});
export type CalibrationFile = z.infer<typeof calibrationFileSchema>;

/**
 * Recalibrate scores with a saved calibration file (from `calibration.json`) — the deployment side.
 * @example applyCalibration(JSON.parse(readFileSync('calibration.json', 'utf8')), 'pneumonia', [0.2, 0.9])
 */
export function applyCalibration(file: unknown, className: string, scores: ArrayLike<number>, method?: RecalibrationMethod): number[] {
  const parsed = calibrationFileSchema.safeParse(file);
  if (!parsed.success) throw new InputError('CALIBRATION_INVALID', `calibration file is not valid: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`);
  const entry = parsed.data.classes[className];
  if (!entry) throw new InputError('CALIBRATION_CLASS', `calibration file has no class "${className}" (has: ${Object.keys(parsed.data.classes).join(', ')})`);
  const want = method ?? entry.recommended;
  const map = want === 'none' ? ({ method: 'none' } as const) : entry.maps.find((m) => m.method === want);
  if (!map) throw new InputError('CALIBRATION_METHOD', `calibration file has no "${want}" map for class "${className}"`);
  return Array.from(scores as ArrayLike<number>, (p) => recalibrate(map, p));
}
