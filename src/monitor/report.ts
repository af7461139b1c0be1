/**
 * A monitoring run over a stream (the CLI's batch path): feed every observation through a
 * DriftMonitor in stream order and summarise — the monitor.json contract:
 * `{ n, drift_detected, first_alarm_index, alarms, estimated_performance, realized_performance, … }`.
 * `drift_detected` counts every alarm except prior (prevalence) shift, which is reported separately.
 */
import { z } from 'zod';
import { recalibrate } from '../evaluate/calibration.js';
import type { ProgressCallback } from '../util/progress.js';
import { estimatePerformance } from './cbpe.js';
import { adjustPosterior, classMeans } from './detectors/prior.js';
import { alarmSchema, DriftMonitor, estimatePrevalence, evaluationSchema, type MonitorOptions } from './monitor.js';
import { cusumThresholdFor } from './alarms.js';
import type { Observation } from './observation.js';
import type { ReferenceProfile } from './profile.js';
import { realizedPerformance } from './realized.js';

const interval = z.tuple([z.number(), z.number()]).nullable();

export const monitorReportSchema = z.object({
  n: z.number().int(),
  drift_detected: z.boolean(),
  first_alarm_index: z.number().int().nullable(),
  alarms: z.array(alarmSchema),
  prior_shift: z.object({ detected: z.boolean(), first_index: z.number().int().nullable(), prevalence: z.record(z.string(), z.object({ reference: z.number().nullable(), estimated: z.number().nullable(), realized: z.number().nullable() })) }),
  estimated_performance: z.record(z.string(), z.object({ threshold: z.number(), sensitivity: z.number().nullable(), specificity: z.number().nullable(), auroc: z.number().nullable() })),
  realized_performance: z.record(z.string(), z.object({
    threshold: z.number(), positives: z.number().int(), negatives: z.number().int(),
    sensitivity: z.number().nullable(), sensitivity_ci95: interval, specificity: z.number().nullable(), specificity_ci95: interval, auroc: z.number().nullable(), auroc_ci95: interval,
  })).nullable(),
  settings: z.object({ window: z.number().int(), min_window: z.number().int(), step: z.number().int(), correction: z.string(), budget_per_10000: z.number(), alpha_per_evaluation: z.number(), cusum_h: z.number(), detectors: z.array(z.string()) }),
  reference: z.object({ source: z.string(), studies: z.number().int(), notes: z.array(z.string()) }),
  series: z.array(evaluationSchema),
});
export type MonitorReport = z.infer<typeof monitorReportSchema>;

/**
 * @example const report = runMonitor(profile, observations, { window: 200 }); report.alarms[0]?.message
 */
export function runMonitor(profile: ReferenceProfile, observations: Observation[], opts: MonitorOptions = {}, onProgress?: ProgressCallback): MonitorReport {
  const mon = new DriftMonitor(profile, opts);
  observations.forEach((o, i) => { mon.push(o); if (onProgress && (i % 100 === 99 || i === observations.length - 1)) onProgress({ stage: 'monitor', done: i + 1, total: observations.length }); });
  return summarise(mon, observations);
}

/** The monitor.json summary of a monitor that has seen `observations` (whole-stream performance). */
export function summarise(mon: DriftMonitor, observations: Observation[]): MonitorReport {
  const p = mon.profile, K = p.classes.length;
  const alarms = mon.alarms;
  const drift = alarms.filter((a) => a.kind !== 'prior');
  const prior = alarms.filter((a) => a.kind === 'prior');
  const scores = p.classes.map((_, c) => observations.map((o) => o.scores[c]!));
  const calibrated = p.classes.map((c, ci) => Float64Array.from(scores[ci]!, (v) => recalibrate(p.calibration[c] ?? { method: 'none' }, v)));
  const pi = p.classes.map((c) => p.prevalence[c] ?? null);
  const refCal = p.classes.map((c, ci) => Float64Array.from(p.sample.scores[ci]!, (v) => recalibrate(p.calibration[c] ?? { method: 'none' }, v)));
  const est = observations.length ? estimatePrevalence(calibrated, p.classes.map((_, ci) => classMeans(refCal[ci]!, p.sample.labels?.[ci]))) : pi.map(() => null);
  const pureprior = prior.length > 0 && drift.filter((a) => a.kind === 'covariate').length === 0;
  const estimated: MonitorReport['estimated_performance'] = {};
  const realized: NonNullable<MonitorReport['realized_performance']> = {};
  const prevalence: MonitorReport['prior_shift']['prevalence'] = {};
  const anyLabels = observations.some((o) => o.labels !== null);
  p.classes.forEach((c, ci) => {
    const t = p.thresholds[c] ?? 0.5;
    const q = pureprior && pi[ci] !== null && est[ci] !== null ? Float64Array.from(calibrated[ci]!, (v) => adjustPosterior(v, pi[ci]!, est[ci]!)) : calibrated[ci]!;
    const e = estimatePerformance(scores[ci]!, q, t);
    estimated[c] = { threshold: t, sensitivity: e.sensitivity, specificity: e.specificity, auroc: e.auroc };
    const labels = observations.map((o) => o.labels?.[ci] ?? null);
    const known = labels.filter((l) => l !== null);
    prevalence[c] = { reference: pi[ci] ?? null, estimated: est[ci] ?? null, realized: known.length ? known.filter((l) => l === 1).length / known.length : null };
    if (anyLabels) {
      const r = realizedPerformance(scores[ci]!, labels, t);
      realized[c] = {
        threshold: t, positives: r.positives, negatives: r.negatives, sensitivity: r.sensitivity.estimate, sensitivity_ci95: r.sensitivity.ci95,
        specificity: r.specificity.estimate, specificity_ci95: r.specificity.ci95, auroc: r.auroc.estimate, auroc_ci95: r.auroc.ci95,
      };
    }
  });
  const o = mon.options;
  const familySize = mon.series.length ? mon.series[mon.series.length - 1]!.tests.filter((t) => t.p_value !== null).length : K;
  return monitorReportSchema.parse({
    n: observations.length,
    drift_detected: drift.length > 0,
    first_alarm_index: drift.length ? Math.min(...drift.map((a) => a.index)) : null,
    alarms,
    prior_shift: { detected: prior.length > 0, first_index: prior.length ? Math.min(...prior.map((a) => a.index)) : null, prevalence },
    estimated_performance: estimated,
    realized_performance: anyLabels ? realized : null,
    settings: {
      window: o.window, min_window: o.minWindow, step: o.step, correction: o.correction, budget_per_10000: o.budget,
      alpha_per_evaluation: mon.series[0]?.alpha ?? 0, cusum_h: cusumThresholdFor(o.budget, o.window, familySize), detectors: [...new Set(mon.series.flatMap((e) => e.tests.map((t) => t.detector)))],
    },
    reference: { source: p.source, studies: p.studies, notes: p.notes },
    series: mon.series,
  });
}
