/**
 * The drift monitor: a rolling window over a stream of observations, evaluated every `step`
 * studies once `minWindow` are in, running every detector against the reference profile, applying
 * the alarm rules (alarms.ts) and keeping alarm episodes and a time series. Its whole state is one
 * JSON value (`toJSON` / `DriftMonitor.restore`), so the service keeps it in the store and carries on
 * after a restart; the CLI runs the same code over a file in row order.
 */
import { z } from 'zod';
import { recalibrate } from '../evaluate/calibration.js';
import { benjaminiHochberg, holm } from './math.js';
import { cusumThresholdFor, cusumZ, CUSUM_K, windowAlpha } from './alarms.js';
import { DEFAULT_DETECTORS } from './detectors/registry.js';
import { adjustPosterior, classMeans, meanShiftTest, momentPrevalence, priorWeights } from './detectors/prior.js';
import type { Detector, DetectorContext, DetectorKind, TestResult } from './detectors/types.js';
import { observationSchema, toColumnar, type ColumnarSample, type Observation } from './observation.js';
import { projectWhitened } from './pca.js';
import type { ReferenceProfile } from './profile.js';

export const monitorOptionsSchema = z.object({
  /** Studies per window (default 200). */
  window: z.number().int().min(20).default(200),
  /** No test before this many studies (default 50). */
  minWindow: z.number().int().min(10).default(50),
  /** Evaluate every `step` studies (default window / 4). */
  step: z.number().int().min(1).optional(),
  /** False alarms allowed per 10,000 in-distribution studies over all detectors (default 1). */
  budget: z.number().positive().default(1),
  correction: z.enum(['holm', 'bh']).default('holm'),
  seed: z.number().int().default(1),
  /** Detector names to run (default all of DEFAULT_DETECTORS). */
  detectors: z.array(z.string()).optional(),
  /** Evaluations kept in the time series (oldest dropped). */
  maxSeries: z.number().int().min(1).default(500),
});
export type MonitorOptions = z.input<typeof monitorOptionsSchema>;
type ResolvedOptions = z.infer<typeof monitorOptionsSchema> & { step: number };

const kindSchema = z.enum(['covariate', 'prediction', 'prior', 'ood', 'performance']);

export const alarmSchema = z.object({
  detector: z.string(),
  feature: z.string(),
  kind: kindSchema,
  /** 0-based stream row at which the alarm fired. */
  index: z.number().int(),
  statistic: z.number(),
  p_value: z.number().nullable(),
  message: z.string(),
  /** Which rule fired: the windowed test with multiple-testing correction, or CUSUM. */
  rule: z.enum(['window', 'cusum']),
  /** Row at which the episode ended (null while it lasts). */
  ended: z.number().int().nullable(),
  acknowledged: z.object({ by: z.string(), at: z.string(), note: z.string().optional() }).nullable().default(null),
});
export type Alarm = z.infer<typeof alarmSchema>;

export const evaluationSchema = z.object({
  index: z.number().int(),
  window: z.number().int(),
  alpha: z.number(),
  priorCorrected: z.boolean(),
  estimatedPrevalence: z.record(z.string(), z.number().nullable()),
  tests: z.array(z.object({ detector: z.string(), feature: z.string(), kind: kindSchema, statistic: z.number(), p_value: z.number().nullable(), effect: z.number().nullable(), rejected: z.boolean() })),
});
export type Evaluation = z.infer<typeof evaluationSchema>;

export const monitorStateSchema = z.object({
  format: z.literal('radml-monitor-state'),
  version: z.literal(1),
  count: z.number().int().min(0),
  /** The last `window` observations, embeddings already projected on the reference basis. */
  buffer: z.array(observationSchema),
  cusum: z.record(z.string(), z.number()),
  /** Open episodes: key → index of its alarm in `alarms` and the last row it was rejected. */
  open: z.record(z.string(), z.object({ alarm: z.number().int(), lastRejected: z.number().int() })),
  alarms: z.array(alarmSchema),
  series: z.array(evaluationSchema),
});
export type MonitorState = z.infer<typeof monitorStateSchema>;

const key = (t: { detector: string; feature: string }) => `${t.detector}/${t.feature}`;

export class DriftMonitor {
  readonly options: ResolvedOptions;
  private readonly detectors: Detector[];
  private readonly refCalibrated: Float64Array[];
  private readonly refClassMeans: ({ mu1: number; mu0: number } | null)[];
  private state: MonitorState;

  /**
   * @example
   *   const mon = new DriftMonitor(profile, { window: 200 });
   *   for (const o of observations) mon.push(o);
   *   mon.alarms // [{ detector: 'chi-square', feature: 'manufacturer', index: 412, … }]
   */
  constructor(readonly profile: ReferenceProfile, options: MonitorOptions = {}, state?: MonitorState) {
    const o = monitorOptionsSchema.parse(options);
    this.options = { ...o, step: o.step ?? Math.max(1, Math.round(o.window / 4)) };
    const names = o.detectors;
    this.detectors = names ? names.map((n) => { const d = DEFAULT_DETECTORS.find((x) => x.name === n); if (!d) throw new Error(`unknown detector ${n}`); return d; }) : DEFAULT_DETECTORS;
    this.refCalibrated = profile.classes.map((c, ci) => Float64Array.from(profile.sample.scores[ci]!, (s) => recalibrate(profile.calibration[c] ?? { method: 'none' }, s)));
    this.refClassMeans = profile.classes.map((_, ci) => classMeans(this.refCalibrated[ci]!, profile.sample.labels?.[ci]));
    this.state = state ?? { format: 'radml-monitor-state', version: 1, count: 0, buffer: [], cusum: {}, open: {}, alarms: [], series: [] };
  }

  static restore(profile: ReferenceProfile, options: MonitorOptions, state: unknown): DriftMonitor {
    return new DriftMonitor(profile, options, monitorStateSchema.parse(state));
  }

  toJSON(): MonitorState { return this.state; }
  get count(): number { return this.state.count; }
  get alarms(): Alarm[] { return this.state.alarms; }
  get series(): Evaluation[] { return this.state.series; }

  /** Project a raw observation's embedding onto the reference basis (null when the profile has none). */
  private prepare(o: Observation): Observation {
    const b = this.profile.pca;
    const embedding = b && o.embedding && o.embedding.length === b.dim ? projectWhitened(b, o.embedding) : null;
    return { ...o, embedding };
  }

  /** Add one study; returns the evaluation when one was due. */
  push(o: Observation): Evaluation | null {
    const s = this.state;
    s.buffer.push(this.prepare(o));
    if (s.buffer.length > this.options.window) s.buffer.splice(0, s.buffer.length - this.options.window);
    s.count++;
    if (s.count >= this.options.minWindow && s.count % this.options.step === 0) return this.evaluate();
    return null;
  }

  /** Acknowledge alarm `i` (index in `alarms`). */
  acknowledge(i: number, by: string, note?: string): Alarm {
    const a = this.state.alarms[i];
    if (!a) throw new Error(`no alarm ${i}`);
    a.acknowledged = { by, at: new Date().toISOString(), ...(note ? { note } : {}) };
    return a;
  }

  /** Run the detectors on the current window. */
  evaluate(): Evaluation {
    const s = this.state, p = this.profile, K = p.classes.length;
    const window = toColumnar(s.buffer, K, (e) => e);
    window.embedding = s.buffer.every((b) => b.embedding) && s.buffer.length ? s.buffer.map((b) => b.embedding!) : null;
    const calibrated = p.classes.map((c, ci) => Float64Array.from(window.scores[ci]!, (v) => recalibrate(p.calibration[c] ?? { method: 'none' }, v)));
    const pi = p.classes.map((c) => p.prevalence[c] ?? null);
    const est = estimatePrevalence(calibrated, this.refClassMeans);
    // Reweight the reference only for classes whose mean score moved (p < 0.01), with ≥ 20 labelled
    // positives in the reference and a window of ≥ 100 studies: under no shift the weights stay 1 and
    // the other tests keep their full power. The prevalence ratio is bounded to [1/4, 4] and weights
    // are truncated at 10× their mean, so a wild estimate cannot empty the reference of its power.
    const shifted = p.classes.map((c, ci) => est[ci] !== null && window.n >= 100 && (p.performance[c]?.positives ?? 0) >= 20 && meanShiftTest(calibrated[ci]!, this.refCalibrated[ci]!).p < 0.01);
    const bounded = est.map((e, c) => (shifted[c] && e !== null && pi[c] !== null ? Math.min(4 * pi[c]!, Math.max(pi[c]! / 4, e, 1e-6), 1 - 1e-6) : pi[c]!));
    const weights = priorWeights(p.sample, pi, bounded, p.labelKind);
    let wmean = 0; for (const w of weights) wmean += w / weights.length;
    for (let i = 0; i < weights.length; i++) weights[i] = Math.min(weights[i]!, 10 * wmean);
    let mean = 0; for (const w of weights) mean += w / weights.length;
    for (let i = 0; i < weights.length; i++) weights[i]! /= mean || 1;
    const ctx: DetectorContext = { profile: p, ref: p.sample, refWeights: weights, window, adjusted: p.classes.map(() => null), calibrated, refCalibrated: this.refCalibrated, estimatedPrevalence: est, seed: this.options.seed * 100003 + s.count };
    const alpha = windowAlpha(this.options.budget, this.options.step);
    const first = this.detectors.filter((d) => d.kind !== 'performance').flatMap((d) => d.run(ctx));
    // Adjust the posteriors for the performance estimate only when the change looks like a pure
    // prior shift: a significant prevalence change and no covariate test anywhere near significance.
    const nTests = Math.max(1, first.filter((t) => t.alarming && t.pValue !== null).length);
    const priorShift = first.some((t) => t.kind === 'prior' && t.pValue !== null && t.pValue < alpha / nTests);
    const covariate = first.some((t) => t.kind === 'covariate' && t.alarming && t.pValue !== null && t.pValue < 0.01);
    const priorCorrected = priorShift && !covariate;
    if (priorCorrected) ctx.adjusted = calibrated.map((q, c) => (pi[c] !== null && est[c] !== null && pi[c]! > 0 && pi[c]! < 1 ? Float64Array.from(q, (v) => adjustPosterior(v, pi[c]!, est[c]!)) : null));
    const tests: TestResult[] = [...first, ...this.detectors.filter((d) => d.kind === 'performance').flatMap((d) => d.run(ctx))];
    const family = tests.map((t, i) => [t, i] as const).filter(([t]) => t.alarming && t.pValue !== null);
    const pv = family.map(([t]) => t.pValue!);
    const rej = this.options.correction === 'bh' ? benjaminiHochberg(pv, alpha) : holm(pv, alpha);
    const rejected = new Set<number>(family.filter((_, j) => rej[j]).map(([, i]) => i));
    const index = s.count - 1;
    const fired = new Map<number, 'window' | 'cusum'>();
    for (const i of rejected) fired.set(i, 'window');
    if (s.count % this.options.window === 0) {
      const h = cusumThresholdFor(this.options.budget, this.options.window, family.length);
      for (const [t, i] of family) {
        const k = key(t);
        const v = Math.max(0, (s.cusum[k] ?? 0) + cusumZ(t.pValue!) - CUSUM_K);
        s.cusum[k] = v;
        if (v > h) { if (!fired.has(i)) fired.set(i, 'cusum'); s.cusum[k] = 0; }
      }
    }
    for (const [i, rule] of fired) {
      const t = tests[i]!, k = key(t);
      const open = s.open[k];
      if (open) { open.lastRejected = index; continue; }
      s.alarms.push({ detector: t.detector, feature: t.feature, kind: t.kind, index, statistic: t.statistic, p_value: t.pValue, message: t.message, rule, ended: null, acknowledged: null });
      s.open[k] = { alarm: s.alarms.length - 1, lastRejected: index };
    }
    for (const [k, o] of Object.entries(s.open)) {
      if (index - o.lastRejected >= this.options.window) { s.alarms[o.alarm]!.ended = index; delete s.open[k]; }
    }
    const ev: Evaluation = {
      index, window: window.n, alpha, priorCorrected,
      estimatedPrevalence: Object.fromEntries(p.classes.map((c, ci) => [c, est[ci] ?? null])),
      tests: tests.map((t, i) => ({ detector: t.detector, feature: t.feature, kind: t.kind, statistic: t.statistic, p_value: t.pValue, effect: t.effect, rejected: fired.has(i) })),
    };
    s.series.push(ev);
    if (s.series.length > this.options.maxSeries) s.series.splice(0, s.series.length - this.options.maxSeries);
    return ev;
  }
}

/**
 * Window prevalence per class by the method of moments on calibrated scores (null for classes the
 * reference cannot estimate: no labels, or too little discrimination).
 */
export function estimatePrevalence(calibrated: Float64Array[], means: ({ mu1: number; mu0: number } | null)[]): (number | null)[] {
  return calibrated.map((q, c) => {
    if (q.length === 0) return null;
    let s = 0; for (const v of q) s += v;
    return momentPrevalence(s / q.length, means[c] ?? null);
  });
}

export type { ColumnarSample, DetectorKind };
