/**
 * Scenario tests on the synthetic cohort with ground truth (32 px, rendered in memory): a model
 * trained on sites A–C, a reference of 600 held-out studies, and streams with (a) no drift — 2,000
 * studies, same sites, new seed; (b) a new site / manufacturer from row 200; (c) a gradual loss of
 * contrast and rise in noise from row 200; (d) a prevalence shift from row 200. Reports detection
 * delay, false alarms and the label-free estimate's error against realized performance.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { recalibrate } from '../../src/evaluate/calibration.js';
import type { LoadedModel } from '../../src/explain/loaded-model.js';
import { estimatePerformance } from '../../src/monitor/cbpe.js';
import type { Observation } from '../../src/monitor/observation.js';
import { fitReference, type ReferenceProfile } from '../../src/monitor/profile.js';
import { realizedPerformance } from '../../src/monitor/realized.js';
import { runMonitor, type MonitorReport } from '../../src/monitor/report.js';
import { DriftMonitor } from '../../src/monitor/monitor.js';
import type { StudySpec } from '../../src/data/synth/index.js';
import { Rng } from '../../src/util/rng.js';
import { KNOWN, observe, render, SITES, studies, trainScenarioModel } from './synth-fixture.js';

const ONSET = 200;
let model: LoadedModel;
let dir: string;
let profile: ReferenceProfile;

before(async () => {
  ({ model, dir } = await trainScenarioModel());
  const ref = studies(600, 21, KNOWN);
  profile = fitReference(await observe(model, render(ref, (s) => KNOWN[s.siteIndex]!)), { classes: model.meta.classes, labelKind: model.meta.labelKind, source: 'synthetic sites A–C' });
});
after(async () => {
  await model?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Arrival order is random (a seeded shuffle): the cohort generator lists a patient's visits together. */
const shuffled = (s: StudySpec[], seed: number) => new Rng(seed).shuffle(s.slice());

interface EstimateError { sensitivity: number; specificity: number; auroc: number; classes: string[] }

/** Mean |CBPE estimate − realized| over rows ≥ from, over classes with ≥ 30 positives and negatives there. */
function estimateError(obs: Observation[], from: number): EstimateError {
  const rows = obs.slice(from);
  const err = { sensitivity: 0, specificity: 0, auroc: 0, classes: [] as string[] };
  profile.classes.forEach((c, ci) => {
    const s = rows.map((o) => o.scores[ci]!), y = rows.map((o) => o.labels![ci]!);
    const real = realizedPerformance(s, y, profile.thresholds[c]!);
    if (real.positives < 30 || real.negatives < 30) return;
    const est = estimatePerformance(s, s.map((v) => recalibrate(profile.calibration[c]!, v)), profile.thresholds[c]!);
    err.sensitivity += Math.abs(est.sensitivity! - real.sensitivity.estimate!);
    err.specificity += Math.abs(est.specificity! - real.specificity.estimate!);
    err.auroc += Math.abs(est.auroc! - real.auroc.estimate!);
    err.classes.push(c);
  });
  const k = Math.max(1, err.classes.length);
  return { sensitivity: err.sensitivity / k, specificity: err.specificity / k, auroc: err.auroc / k, classes: err.classes };
}

function describe(r: MonitorReport, onset: number | null): string {
  const drift = r.alarms.filter((a) => a.kind !== 'prior');
  const early = onset === null ? drift.length : drift.filter((a) => a.index < onset).length;
  const delay = onset !== null && r.first_alarm_index !== null ? r.first_alarm_index - onset : null;
  return `alarms ${r.alarms.length} (false before onset: ${early}); first drift alarm ${r.first_alarm_index}${delay !== null ? ` (delay ${delay})` : ''}; prior shift ${r.prior_shift.detected ? `from ${r.prior_shift.first_index}` : 'none'}; ${r.alarms.slice(0, 4).map((a) => `[${a.index} ${a.detector}/${a.feature}] ${a.message}`).join(' | ')}`;
}

test('(a) no drift: 2,000 studies from the same sites, new seed — no alarm', async (t) => {
  const obs = await observe(model, render(shuffled(studies(2000, 31, KNOWN), 1), (s) => KNOWN[s.siteIndex]!));
  const r = runMonitor(profile, obs, { window: 200 });
  const e = estimateError(obs, 0);
  t.diagnostic(`(a) ${describe(r, null)}`);
  t.diagnostic(`(a) label-free estimate error vs realized: sensitivity ${e.sensitivity.toFixed(3)}, specificity ${e.specificity.toFixed(3)}, AUROC ${e.auroc.toFixed(3)} over ${e.classes.join(', ')}`);
  assert.equal(r.alarms.length, 0, describe(r, null));
  assert.equal(r.drift_detected, false);
  assert.ok(r.series.length >= 35, 'evaluated every 50 studies');
  assert.ok(e.auroc < 0.05 && e.specificity < 0.05, `estimate error ${JSON.stringify(e)}`);
});

test('(b) a new site with a new manufacturer appears at row 200', async (t) => {
  const rng = new Rng(5);
  const known = shuffled(studies(600, 41, KNOWN), 2);
  const newSite = shuffled(studies(300, 42, [SITES[3]!]), 3);
  let k = 0;
  const stream = known.map((s, i) => (i >= ONSET && rng.random() < 0.4 ? { s: newSite[k++]!, site: SITES[3]! } : { s, site: KNOWN[s.siteIndex]! }));
  const obs = await observe(model, render(stream.map((x) => x.s), (_, i) => stream[i]!.site));
  const r = runMonitor(profile, obs, { window: 200 });
  const e = estimateError(obs, ONSET);
  t.diagnostic(`(b) ${describe(r, ONSET)}`);
  t.diagnostic(`(b) label-free estimate error after onset: sensitivity ${e.sensitivity.toFixed(3)}, specificity ${e.specificity.toFixed(3)}, AUROC ${e.auroc.toFixed(3)} over ${e.classes.join(', ')}`);
  assert.equal(r.drift_detected, true);
  assert.ok(r.first_alarm_index! >= ONSET, `no alarm before the onset: ${describe(r, ONSET)}`);
  assert.ok(r.first_alarm_index! - ONSET <= 100, `detected within 100 studies: ${describe(r, ONSET)}`);
  const m = r.alarms.find((a) => a.detector === 'chi-square' && a.feature === 'manufacturer');
  assert.ok(m, 'the manufacturer is named');
  assert.match(m.message, /manufacturer 'KESTREL MEDICAL' never seen in the reference: \d+ % of the last \d+ studies/);
});

test('(c) contrast falls and noise rises gradually from row 200', async (t) => {
  const s = shuffled(studies(800, 61, KNOWN), 4);
  const obs = await observe(model, render(s, (st, i) => {
    const site = KNOWN[st.siteIndex]!;
    const f = Math.max(0, Math.min(1, (i - ONSET) / 600));
    return { ...site, contrast: site.contrast * (1 - 0.35 * f), noise: site.noise * (1 + 2 * f) };
  }));
  const r = runMonitor(profile, obs, { window: 200 });
  t.diagnostic(`(c) ${describe(r, ONSET)}`);
  assert.equal(r.drift_detected, true, describe(r, ONSET));
  assert.ok(r.first_alarm_index! >= ONSET, describe(r, ONSET));
  assert.ok(r.alarms.some((a) => a.detector === 'ks' && (a.feature === 'contrast' || a.feature === 'noise')), 'a pixel statistic names the change');
});

test('(d) prevalence shift from row 200 is reported as a prior shift, not covariate drift', async (t) => {
  const pool = shuffled(studies(3000, 71, KNOWN), 5);
  const rng = new Rng(6);
  const stream: StudySpec[] = [];
  for (const st of pool) {
    if (stream.length >= 800) break;
    const sick = Object.values(st.labels).some((v) => v === 1);
    // After the onset normal studies are kept with probability 0.3: a sicker referral population.
    if (stream.length < ONSET || sick || rng.random() < 0.3) stream.push(st);
  }
  const obs = await observe(model, render(stream, (st) => KNOWN[st.siteIndex]!));
  const r = runMonitor(profile, obs, { window: 200 });
  const e = estimateError(obs, ONSET);
  t.diagnostic(`(d) ${describe(r, ONSET)}`);
  t.diagnostic(`(d) prevalence reference / estimated / realized: ${Object.entries(r.prior_shift.prevalence).map(([c, v]) => `${c} ${v.reference?.toFixed(2)}/${v.estimated?.toFixed(2)}/${v.realized?.toFixed(2)}`).join(', ')}`);
  t.diagnostic(`(d) label-free estimate error after onset (unadjusted calibration): sensitivity ${e.sensitivity.toFixed(3)}, specificity ${e.specificity.toFixed(3)}, AUROC ${e.auroc.toFixed(3)}`);
  assert.equal(r.prior_shift.detected, true, describe(r, ONSET));
  assert.ok(r.prior_shift.first_index! >= ONSET, describe(r, ONSET));
  assert.equal(r.alarms.filter((a) => a.kind === 'covariate').length, 0, `no covariate alarm: ${describe(r, ONSET)}`);
});

test('monitor state survives a restart: restoring mid-stream gives the same alarms', async () => {
  const known = shuffled(studies(300, 81, KNOWN), 7);
  const obs = await observe(model, render(known, (s, i) => (i >= 150 ? { ...KNOWN[s.siteIndex]!, manufacturer: 'Acme' } : KNOWN[s.siteIndex]!)));
  const one = new DriftMonitor(profile, { window: 100 });
  for (const o of obs) one.push(o);
  const a = new DriftMonitor(profile, { window: 100 });
  for (const o of obs.slice(0, 170)) a.push(o);
  const b = DriftMonitor.restore(profile, { window: 100 }, JSON.parse(JSON.stringify(a.toJSON())));
  for (const o of obs.slice(170)) b.push(o);
  assert.deepEqual(b.alarms, one.alarms);
  assert.ok(one.alarms.some((x) => x.feature === 'manufacturer'));
});
