/**
 * `radml monitor` end to end: on the synthetic cohort's DICOM files (headers read from the files),
 * training writes the hashed reference; a stream ordered by site shows the unseen site as an alarm.
 * On real images (../shared, skipped without it): PneumoniaMNIST train rows as the reference and its
 * val rows as the stream give no header / pixel / embedding alarm but a prior shift; covid-cxr-open
 * as the stream gives an alarm.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { monitorReportSchema } from '../../src/monitor/report.js';
import { readModelJson } from '../../src/train/model-folder.js';
import { readCsv } from '../../src/util/csv.js';
import { captureIO } from '../train/helpers.js';
import { Rng } from '../../src/util/rng.js';

const SHARED = join(import.meta.dirname, '../../../shared/data');

async function run(args: string[]) {
  const t = captureIO();
  const code = await main(args, t.io);
  assert.equal(code, 0, `radml ${args.join(' ')}\n${t.err.join('\n')}\n${t.out.join('\n')}`);
  return t;
}

test('radml monitor on synthetic DICOM: reference written by training, unseen site alarmed, monitor.json contract', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-monitor-cli-'));
  try {
    await run(['synth', '--out', join(dir, 'synth'), '--n', '180', '--size', '64', '--workers', '1']);
    const manifest = join(dir, 'synth', 'manifest.csv');
    const model = join(dir, 'model');
    await run(['train', '--data', manifest, '--out', model, '--image-size', '32', '--epochs', '2', '--width', '4', '--threads', '2', '--no-ood-gate']);
    const meta = readModelJson(model);
    assert.ok(meta.artefacts['monitor-reference.json'], 'training hashed the reference profile');
    // Reference: sites A–C only, so site D's manufacturer is new. The stream: sites A–C in a seeded
    // random arrival order, then site D (the cohort lists a patient's visits together, which is not
    // how studies arrive).
    const t = readCsv(manifest);
    const refCsv = join(dir, 'synth', 'ref.csv'); // beside the manifest: paths are relative to it
    const line = (r: Record<string, string>, extra: string) => [...t.header.map((h) => r[h]), extra].join(',');
    writeFileSync(refCsv, [t.header.join(','), ...t.rows.filter((r) => r['site'] !== 'site_D').map((r) => line(r, '').slice(0, -1))].join('\n') + '\n');
    const rng = new Rng(3);
    const arrival = t.rows.map((r) => (r['site'] === 'site_D' ? 2 : 1) + rng.random());
    const streamCsv = join(dir, 'synth', 'stream.csv');
    writeFileSync(streamCsv, [[...t.header, 'arrival'].join(','), ...t.rows.map((r, i) => line(r, arrival[i]!.toFixed(6)))].join('\n') + '\n');
    const firstD = arrival.filter((a) => a < 2).length;
    const out = join(dir, 'mon');
    const r = await run(['monitor', '--model', model, '--data', streamCsv, '--reference', refCsv, '--out', out, '--order-by', 'arrival', '--window', '40', '--min-window', '30']);
    const report = monitorReportSchema.parse(JSON.parse(readFileSync(join(out, 'monitor.json'), 'utf8')));
    const json = JSON.parse(readFileSync(join(out, 'monitor.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['n', 'drift_detected', 'first_alarm_index', 'alarms', 'estimated_performance', 'realized_performance']) assert.ok(k in json, `monitor.json has ${k}`);
    assert.equal(report.n, t.rows.length);
    assert.equal(report.drift_detected, true, r.out.join('\n'));
    assert.ok(report.first_alarm_index! >= firstD, `first alarm ${report.first_alarm_index} not before site D starts at ${firstD}`);
    assert.ok(report.alarms.some((a) => a.feature === 'manufacturer' && /KESTREL MEDICAL' never seen/.test(a.message)), r.out.join('\n'));
    for (const a of report.alarms) for (const k of ['detector', 'feature', 'index', 'statistic', 'p_value', 'message']) assert.ok(k in a);
    for (const c of meta.classes) {
      assert.equal(report.estimated_performance[c]!.threshold, 0.5);
      assert.ok(report.realized_performance![c], 'the stream has labels');
    }
    assert.match(readFileSync(join(out, 'monitor.html'), 'utf8'), /never seen in the reference/);
    // The stored reference is used when --reference is not given; a stale one is refused.
    await run(['monitor', '--model', model, '--data', manifest, '--out', join(dir, 'mon2'), '--window', '40']);
    const e = captureIO();
    assert.equal(await main(['monitor', 'nonsense', '--model', model, '--data', manifest], e.io), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real images: PneumoniaMNIST val vs train shows a prior shift, no covariate alarm; covid-cxr-open alarms', { skip: existsSync(join(SHARED, 'pneumoniamnist')) && existsSync(join(SHARED, 'covid-cxr-open')) ? false : '../shared/data (pneumoniamnist, covid-cxr-open) not present' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-monitor-real-'));
  try {
    const src = join(SHARED, 'pneumoniamnist');
    const all = readCsv(join(src, 'labels.csv'));
    const write = (name: string, rows: Record<string, string>[]) => {
      const f = join(dir, name);
      writeFileSync(f, ['path,label', ...rows.map((r) => `${join(src, r['path']!)},${r['label']}`)].join('\n') + '\n');
      return f;
    };
    const train = all.rows.filter((r) => r['split'] === 'train');
    // The model trains on every fourth train row; the reference profiles another fourth of them.
    const fit = write('fit.csv', train.filter((_, i) => i % 4 === 0));
    const ref = write('ref.csv', train.filter((_, i) => i % 4 === 1));
    const val = write('val.csv', all.rows.filter((r) => r['split'] === 'val'));
    const model = join(dir, 'model');
    await run(['train', '--data', fit, '--out', model, '--image-size', '28', '--epochs', '4', '--width', '8', '--threads', '2', '--no-ood-gate', '--no-monitor-reference']);
    await run(['monitor', 'reference', '--model', model, '--data', ref]);
    const out = join(dir, 'val');
    await run(['monitor', '--model', model, '--data', val, '--out', out]);
    const r = monitorReportSchema.parse(JSON.parse(readFileSync(join(out, 'monitor.json'), 'utf8')));
    const prev = r.prior_shift.prevalence['pneumonia']!;
    t.diagnostic(`PneumoniaMNIST val: ${r.alarms.map((a) => `[${a.index} ${a.detector}/${a.feature}] ${a.message}`).join(' | ')}; pneumonia prevalence reference ${prev.reference}, estimated ${prev.estimated?.toFixed(3)}, realized ${prev.realized?.toFixed(3)}`);
    assert.equal(r.alarms.filter((a) => a.kind === 'covariate').length, 0, 'no header, pixel or embedding alarm');
    assert.equal(r.prior_shift.detected, true, 'the prevalence change is reported as a prior shift');
    assert.ok(prev.reference! > 0.85 && prev.realized! < 0.8);
    // covid-cxr-open: other sources, sizes and processing.
    const cov = readCsv(join(SHARED, 'covid-cxr-open', 'metadata.csv'));
    const covCsv = join(dir, 'covid.csv');
    writeFileSync(covCsv, ['path', ...cov.rows.map((x) => join(SHARED, 'covid-cxr-open', 'images', x['filename']!))].join('\n') + '\n');
    const out2 = join(dir, 'covid');
    await run(['monitor', '--model', model, '--data', covCsv, '--out', out2, '--window', '100']);
    const c = monitorReportSchema.parse(JSON.parse(readFileSync(join(out2, 'monitor.json'), 'utf8')));
    t.diagnostic(`covid-cxr-open: first alarm ${c.first_alarm_index}; ${c.alarms.slice(0, 5).map((a) => `[${a.detector}/${a.feature}] ${a.message}`).join(' | ')}`);
    assert.equal(c.drift_detected, true);
    assert.ok(c.alarms.some((a) => a.kind === 'covariate'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
