/**
 * `radml evaluate` end to end: files written, results.json valid, model card and checklists filled
 * from model.json, and report.html rendered in headless Chromium with no console errors (screenshot).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { evaluationResultsSchema } from '../../src/evaluate/index.js';
import { formatCsv } from '../../src/util/csv.js';
import { renderReport, type ReportSection } from '../../src/report/index.js';
import { syntheticPredictions } from '../evaluate/helpers.js';

const CHROMIUM = '/usr/bin/chromium';

function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'radml-eval-'));
  const t = syntheticPredictions({ n: 1000, seed: 31 });
  writeFileSync(join(dir, 'preds.csv'), formatCsv(t.header, t.rows));
  mkdirSync(join(dir, 'model'));
  writeFileSync(
    join(dir, 'model', 'model.json'),
    JSON.stringify({ name: 'pneumonia-cnn', version: '0.3.1', classes: ['normal', 'pneumonia'], preprocessing: { size: 64, window: 'auto' }, training: { epochs: 12, optimizer: 'adam', split_level: 'patient' }, sha256: { 'model.onnx': 'ab'.repeat(32) } }),
  );
  return dir;
}

test('radml evaluate writes a valid results.json, calibration.json, model card, checklists and report', async () => {
  const dir = setup();
  const out = join(dir, 'out');
  const { io, out: lines } = captureIO();
  const code = await main(
    ['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', out, '--groups', 'sex,age_band,site', '--costs', 'fn=10,fp=1', '--prevalence', '0.08', '--model', join(dir, 'model'), '--bootstrap', '500', '--compare', 'score_pneumonia,score_pneumonia_v2'],
    io,
  );
  assert.equal(code, 0);
  for (const f of ['results.json', 'report.html', 'calibration.json', 'model-card.md', 'checklist.md']) assert.ok(existsSync(join(out, f)), f);
  const results = evaluationResultsSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  const c = results.classes['pneumonia']!;
  assert.ok(c.auroc.estimate! > 0.6 && c.auroc.ci95 && c.auroc.ci95_bootstrap);
  for (const k of ['threshold', 'sensitivity', 'specificity', 'ppv', 'npv'] as const) assert.ok(k in c.operating_point);
  assert.equal(c.operating_point.rule, 'min_cost');
  assert.ok(c.operating_point.ppv_at_prevalence?.estimate !== null);
  assert.ok(c.groups['age_band']!['80+']!.n > 0 && 'auroc' in c.groups['sex']!['F']! && 'operating_point' in c.groups['site']!['C']!);
  assert.ok(results.comparison && results.comparison.mcnemar.length === 3);
  assert.ok(lines.some((l) => /^pneumonia: n=\d+/.test(l)));
  const card = readFileSync(join(out, 'model-card.md'), 'utf8');
  assert.match(card, /# Model card: pneumonia-cnn/);
  assert.match(card, /Missing from the provenance/);
  const checklist = readFileSync(join(out, 'checklist.md'), 'utf8');
  assert.match(checklist, /CLAIM 2024/);
  assert.match(checklist, /TRIPOD\+AI/);
  assert.match(checklist, /split level: patient \(model\.json\)/);
  assert.match(checklist, /Missing — to be written by the authors/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(!/<script|<link|src="http|href="http/i.test(html), 'self-contained: no scripts or external assets');
  assert.ok(!/\bNaN\b/.test(html));
});

test('bad --costs and a missing model.json are clear errors', async () => {
  const dir = setup();
  const { io, err } = captureIO();
  assert.equal(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', join(dir, 'o'), '--costs', 'fn=ten'], io), 2);
  assert.ok(err.some((l) => /--costs must look like fn=10,fp=1/.test(l)), err.join('\n'));
  const c2 = captureIO();
  assert.notEqual(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', join(dir, 'o'), '--model', join(dir, 'nowhere')], c2.io), 0);
  assert.ok(c2.err.some((l) => /model\.json/.test(l)), c2.err.join('\n'));
});

test('sections are pluggable: an extra section is rendered, a throwing one is contained', async () => {
  const dir = setup();
  const { io } = captureIO();
  await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', join(dir, 'o2'), '--bootstrap', '0'], io);
  const results = evaluationResultsSchema.parse(JSON.parse(readFileSync(join(dir, 'o2', 'results.json'), 'utf8')));
  const extra: ReportSection = { id: 'robustness', title: 'Robustness', render: () => '<p>stress tests here</p>' };
  const broken: ReportSection = { id: 'broken', title: 'Broken', render: () => { throw new Error('boom'); } };
  const html = renderReport(results, { extraSections: [extra, broken] });
  assert.match(html, /<section id="robustness"[^>]*><h2>Robustness<\/h2><p>stress tests here<\/p>/);
  assert.match(html, /could not be drawn: boom/);
});

test('report.html renders in headless Chromium without console errors', { skip: existsSync(CHROMIUM) ? false : 'needs /usr/bin/chromium' }, async () => {
  const dir = setup();
  const out = join(dir, 'out');
  const { io } = captureIO();
  assert.equal(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', out, '--groups', 'sex,site', '--intersections', '--bootstrap', '300', '--compare', 'score_pneumonia,score_pneumonia_v2'], io), 0);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto('file://' + join(out, 'report.html'));
    const svgs = await page.locator('svg').count();
    assert.ok(svgs >= 8, `expected the plots, found ${svgs} svg elements`);
    const headings = await page.locator('h2').allTextContents();
    for (const h of ['Summary', 'Discrimination', 'Operating points', 'Decision curve', 'Calibration', 'Subgroups and fairness', 'External validation across sites', 'Model comparison']) assert.ok(headings.includes(h), `section ${h}`);
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(readFileSync(shot).length > 10_000);
    assert.deepEqual(errors, []);
    assert.ok(requests.every((u) => u.startsWith('file://')), `only the file itself is loaded: ${requests.join(', ')}`);
  } finally {
    await browser.close();
  }
});
