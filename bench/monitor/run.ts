/**
 * bench/monitor: studies per second through radml's monitor (batch: runMonitor over a stream;
 * incremental: DriftMonitor.push one study at a time with state serialised as the service does)
 * next to Evidently's data-drift report on the same table and embeddings, window by window; and
 * radml's false alarms per 10,000 in-distribution studies over all detectors.
 *
 *   python3 -m venv bench/monitor/.venv-evidently && bench/monitor/.venv-evidently/bin/pip install evidently 'pandas<3'
 *   node --import tsx bench/monitor/run.ts [--stream 20000] [--evidently-windows 40]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DriftMonitor } from '../../src/monitor/monitor.js';
import { fitReference } from '../../src/monitor/profile.js';
import { runMonitor } from '../../src/monitor/report.js';
import { CLASSES, observations, toCsv } from './table.js';

const { values } = parseArgs({ options: { stream: { type: 'string', default: '20000' }, 'evidently-windows': { type: 'string', default: '40' }, window: { type: 'string', default: '200' } } });
const N = Number(values.stream), W = Number(values.window), STEP = W / 4;
const here = import.meta.dirname;
const tmp = join(here, '.data');
mkdirSync(tmp, { recursive: true });

const ref = observations(2000, 1);
const stream = observations(N, 2);
const profile = fitReference(ref, { classes: CLASSES, labelKind: 'multilabel', source: 'bench table' });
console.log(`machine: ${process.env['LOAD_NOTE'] ?? 'shared 2-core machine, loaded by other sessions'}; node ${process.version}`);

// Batch (CLI path).
runMonitor(profile, stream.slice(0, 400), { window: W }); // warm-up
let t = performance.now();
const report = runMonitor(profile, stream, { window: W });
const batchSec = (performance.now() - t) / 1000;
const falseAlarms = report.alarms.length;
console.log(`radml batch: ${N} studies in ${batchSec.toFixed(1)} s = ${(N / batchSec).toFixed(0)} studies/s (window ${W}, step ${STEP}, ${Math.floor(N / STEP)} evaluations, ${report.series[0]?.tests.length ?? 0} tests each)`);
console.log(`radml false alarms on ${N} in-distribution studies: ${falseAlarms} (${((falseAlarms / N) * 10000).toFixed(2)} per 10,000; budget 1)${falseAlarms ? ': ' + report.alarms.map((a) => `[${a.index} ${a.detector}/${a.feature} ${a.rule}]`).join(' ') : ''}`);

// Incremental (service path): one study at a time, state serialised after each as the service stores it.
const M = Math.min(N, 2000);
const mon = new DriftMonitor(profile, { window: W });
t = performance.now();
let bytes = 0;
for (const o of stream.slice(0, M)) { mon.push(o); bytes = JSON.stringify(mon.toJSON()).length; }
const incSec = (performance.now() - t) / 1000;
console.log(`radml incremental: ${M} studies in ${incSec.toFixed(1)} s = ${(M / incSec).toFixed(0)} studies/s (state ${Math.round(bytes / 1024)} KiB, serialised after every study)`);

// Evidently on the same table, window by window.
const py = join(here, '.venv-evidently', 'bin', 'python');
if (Number(values['evidently-windows']) === 0) {
  console.log('Evidently: skipped (--evidently-windows 0)');
} else if (!existsSync(py)) {
  console.log('Evidently: not installed (see the header of this file); skipped');
} else {
  writeFileSync(join(tmp, 'ref.csv'), toCsv(ref));
  writeFileSync(join(tmp, 'stream.csv'), toCsv(stream.slice(0, W + STEP * Number(values['evidently-windows']))));
  const r = spawnSync(py, [join(here, 'evidently_drift.py'), join(tmp, 'ref.csv'), join(tmp, 'stream.csv'), String(W), String(STEP), values['evidently-windows']!], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) console.log(`Evidently failed: ${r.stderr.slice(-2000)}`);
  else {
    const e = JSON.parse(r.stdout.trim().split('\n').pop()!) as { version: string; seconds: number; windows: number; windows_with_drift_share_over_half: number };
    const perStudy = (e.windows * STEP) / e.seconds;
    console.log(`Evidently ${e.version} DataDriftPreset: ${e.windows} windows in ${e.seconds.toFixed(1)} s = ${perStudy.toFixed(0)} studies/s at one report per ${STEP} studies (dataset drift flagged in ${e.windows_with_drift_share_over_half} of them)`);
    console.log(`ratio radml batch / Evidently: ${(N / batchSec / perStudy).toFixed(1)}×`);
  }
}
