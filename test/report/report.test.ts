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
import { buildArchitecture, exportInferenceModel, initParameters } from '../../src/engine/index.js';
import { readModelJson, writeModelFolder } from '../../src/train/model-folder.js';
import { Rng } from '../../src/util/rng.js';
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
  // PPV at the deployment prevalence π from the operating point's own sensitivity and specificity
  // (Bayes): sens·π / (sens·π + (1 − spec)(1 − π)).
  const op = c.operating_point;
  const pi = 0.08;
  const sens = op.confusion.tp / (op.confusion.tp + op.confusion.fn);
  const spec = op.confusion.tn / (op.confusion.tn + op.confusion.fp);
  assert.equal(typeof op.ppv_at_prevalence?.estimate, 'number', 'PPV at the deployment prevalence is reported');
  assert.ok(Math.abs(op.ppv_at_prevalence!.estimate! - (sens * pi) / (sens * pi + (1 - spec) * (1 - pi))) < 1e-12, `PPV at prevalence ${op.ppv_at_prevalence!.estimate}`);
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
    // Wide tables scroll inside their section instead of running off the page or being cut off.
    // A string, so the test compiles without the DOM typings; it runs in the page.
    const overflow = (await page.evaluate(`(() => {
      const bad = [];
      if (document.documentElement.scrollWidth > window.innerWidth + 1) bad.push('page ' + document.documentElement.scrollWidth + 'px wide');
      for (const t of Array.from(document.querySelectorAll('table'))) {
        const section = t.closest('section');
        if (t.getBoundingClientRect().width <= section.clientWidth + 1) continue;
        let el = t.parentElement;
        let scrolls = false;
        while (el && el !== section.parentElement) {
          const o = getComputedStyle(el).overflowX;
          if ((o === 'auto' || o === 'scroll') && el.clientWidth <= section.clientWidth + 1) scrolls = true;
          el = el.parentElement;
        }
        if (!scrolls) bad.push('a ' + Math.round(t.getBoundingClientRect().width) + 'px table in #' + section.id + ' neither fits nor scrolls');
      }
      return bad;
    })()`)) as string[];
    assert.deepEqual(overflow, []);
    const narrow = await browser.newPage({ viewport: { width: 700, height: 900 } });
    await narrow.goto('file://' + join(out, 'report.html'));
    assert.ok(((await narrow.evaluate('document.documentElement.scrollWidth')) as number) <= 701, 'a narrow window gets no page-wide horizontal scroll');
    await narrow.close();
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(readFileSync(shot).length > 10_000);
    if (process.env['RADML_REPORT_SHOT']) writeFileSync(process.env['RADML_REPORT_SHOT'], readFileSync(shot));
    assert.deepEqual(errors, []);
    assert.ok(requests.every((u) => u.startsWith('file://')), `only the file itself is loaded: ${requests.join(', ')}`);
  } finally {
    await browser.close();
  }
});

/** A real multi-label model folder (effusion, nodule) with radml's training provenance. */
function multilabelModel(dir: string): string {
  const graph = buildArchitecture({ kind: 'cnn', width: 4, depth: 2 }, { inChannels: 1, imageSize: 16, numOutputs: 2 });
  const onnx = exportInferenceModel(graph, initParameters(graph, 1), { activation: 'sigmoid' });
  mkdirSync(dir, { recursive: true });
  const hex = 'ab'.repeat(32);
  writeModelFolder(dir, onnx, {
    format: 'radml-model', version: 1, origin: 'trained', labelKind: 'multilabel', classes: ['effusion', 'nodule'], positiveClass: null,
    input: { name: 'input', channels: 1, size: 16 }, output: { name: 'probabilities', kind: 'probabilities', activation: 'sigmoid' },
    preprocessing: { size: 16, resize: 'pad', normalise: 'minmax', equalise: false },
    architecture: { kind: 'cnn', width: 4, depth: 2 }, validation: null,
    training: {
      data: { source: 'dataset', kind: 'dataset', sha256: hex, imagesSha256: hex, images: 838, skipped: [] },
      split: { method: 'manifest', train: 838, val: 181, trainPatients: 0, valPatients: 0 },
      options: { epochs: 20, batch: 32, lr: 0.001, optimizer: 'adam', augment: { flip: true, rotate: 5 } },
      baseModel: null, lossWeights: [2.5, 4], packages: { radml: '0.1.0', 'onnxruntime-node': '1.20.0', node: '20.0.0' },
      seed: 1, configHash: 'c0ffee', startedAt: '2026-12-01T10:00:00.000Z', finishedAt: '2026-12-01T10:05:00.000Z', wallTimeSeconds: 300,
      epochsRun: 14, bestEpoch: 11, stoppedEarly: true, resumed: false, history: [],
    },
  });
  return dir;
}

test('a finding the model does not rank better than chance is "not fit for use" and its threshold is not shipped unless forced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-unfit-'));
  const rng = new Rng(77);
  const header = ['path', 'split', 'site', 'manufacturer', 'effusion', 'nodule', 'score_effusion', 'score_nodule'];
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < 500; i++) {
    const e = rng.bernoulli(0.3) ? 1 : 0;
    const nd = rng.bernoulli(0.2) ? 1 : 0;
    const site = rng.pick(['north', 'south']);
    rows.push({
      path: `x${i}.png`, split: i % 3 === 0 ? 'val' : 'test', site, manufacturer: site === 'north' ? 'Acme' : 'Bolt',
      effusion: String(e), nodule: String(nd),
      score_effusion: String(1 / (1 + Math.exp(-(rng.normal() + 2 * e - 1)))),
      // Nodule scores carry no information about the label.
      score_nodule: String(rng.random()),
    });
  }
  writeFileSync(join(dir, 'preds.csv'), formatCsv(header, rows));
  const modelDir = multilabelModel(join(dir, 'model'));
  const out = join(dir, 'out');
  const { io, out: lines, err } = captureIO();
  assert.equal(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', out, '--model', modelDir, '--groups', 'site,manufacturer', '--bootstrap', '200', '--save-operating-points'], io), 0, err.join('\n'));
  const results = evaluationResultsSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  const nodule = results.classes['nodule']!;
  const effusion = results.classes['effusion']!;
  assert.ok(nodule.auroc.ci95![0] <= 0.5 && nodule.auroc.ci95![1] >= 0.5, `precondition: nodule CI ${nodule.auroc.ci95}`);
  assert.ok(effusion.auroc.ci95![0] > 0.5, `precondition: effusion CI ${effusion.auroc.ci95}`);
  assert.deepEqual(nodule.fit_for_use?.fit, false);
  assert.match(nodule.fit_for_use!.reason!, /includes 0\.5/);
  assert.deepEqual(effusion.fit_for_use, { fit: true, reason: null });
  // Only the fit finding's threshold reaches model.json (the service reads it from there).
  assert.deepEqual(Object.keys(readModelJson(modelDir).operatingPoints ?? {}), ['effusion']);
  assert.ok(err.some((l) => /nodule is not fit for use .*not recorded/.test(l)), err.join('\n'));
  assert.ok(lines.some((l) => /NOT FIT FOR USE/.test(l)));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<span class="unfit">Not fit for use<\/span>[^<]*includes 0\.5/);
  const card = readFileSync(join(out, 'model-card.md'), 'utf8');
  assert.match(card, /\*\*nodule: not fit for use\*\*/);
  // site and manufacturer pick out the same rows here: one set of findings, named together.
  const dupes = [...effusion.flags, ...nodule.flags].filter((f) => /manufacturer = /.test(f.text) && !/coincides/.test(f.text));
  assert.ok(dupes.length > 0 && dupes.every((f) => /site = \w+ \(manufacturer = \w+\)/.test(f.text)), JSON.stringify(dupes));
  assert.ok(effusion.flags.some((f) => f.severity === 'info' && /"manufacturer" coincides with "site"/.test(f.text)));
  // The model card reads the provenance: creation time, and the procedure as words, not JSON.
  assert.match(card, /- Created: 20\d\d-\d\d-\d\dT/);
  assert.match(card, /14 epoch\(s\) run, parameters kept from epoch 11, stopped early/);
  assert.match(card, /options: epochs = 20; batch = 32; lr = 0\.001; optimizer = adam; augment = flip = true, rotate = 5/);
  assert.ok(!/\{"/.test(card), 'no raw JSON in the model card');
  assert.match(card, /- Split: manifest; 838 training and 181 validation images/);
  // --force-unfit ships it anyway, saying so.
  const forced = captureIO();
  assert.equal(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', join(dir, 'out2'), '--model', modelDir, '--bootstrap', '0', '--save-operating-points', '--force-unfit'], forced.io), 0);
  assert.deepEqual(Object.keys(readModelJson(modelDir).operatingPoints ?? {}).sort(), ['effusion', 'nodule']);
  assert.ok(forced.err.some((l) => /nodule is not fit for use .*because of --force-unfit/.test(l)));
});

test('calibration is described in the direction of the numbers, and tiny denominators are marked', async () => {
  const { calibrationGapText } = await import('../../src/evaluate/subgroups.js');
  // The wording the issue caught: mean predicted 14% vs observed 6% is overestimation.
  assert.equal(calibrationGapText('site = B', 0.14, 0.06, 0), 'For site = B the model overestimates risk (mean predicted 14% vs observed 6%), while overall it is calibrated in the large.');
  assert.equal(calibrationGapText('sex = F', 0.3, 0.1, 0.05), 'For sex = F the model overestimates risk (mean predicted 30% vs observed 10%), more than overall (20 points here, 5 points overall).');
  assert.equal(calibrationGapText('view = AP', 0.04, 0.12, 0.06), 'For view = AP the model underestimates risk (mean predicted 4% vs observed 12%), while overall it overestimates by 6 points.');
  // A model that predicts about 3× the observed rate: every sentence says "over".
  const dir = mkdtempSync(join(tmpdir(), 'radml-cal-'));
  const rng = new Rng(5);
  const header = ['path', 'label', 'split', 'site', 'score_pneumonia'];
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < 800; i++) {
    const site = i < 790 ? rng.pick(['A', 'B']) : 'tiny';
    const pos = rng.bernoulli(site === 'tiny' ? 0.3 : 0.1);
    const z = rng.normal() + (pos ? 1.5 : 0) + (site === 'B' ? 1.2 : 0.3);
    rows.push({ path: `p${i}.png`, label: pos ? 'pneumonia' : 'normal', split: i % 4 === 0 ? 'val' : 'test', site, score_pneumonia: String(1 / (1 + Math.exp(-z))) });
  }
  writeFileSync(join(dir, 'preds.csv'), formatCsv(header, rows));
  const { io } = captureIO();
  assert.equal(await main(['evaluate', '--predictions', join(dir, 'preds.csv'), '--out', join(dir, 'o'), '--groups', 'site', '--bootstrap', '0', '--min-group-n', '1'], io), 0);
  const results = evaluationResultsSchema.parse(JSON.parse(readFileSync(join(dir, 'o', 'results.json'), 'utf8')));
  const c = results.classes['pneumonia']!;
  const html = readFileSync(join(dir, 'o', 'report.html'), 'utf8');
  const meanP = c.calibration.bins.reduce((s, b) => s + b.count * b.mean_predicted, 0) / c.n;
  const obs = c.calibration.bins.reduce((s, b) => s + b.count * b.observed_rate, 0) / c.n;
  assert.ok(meanP > obs + 0.1, `precondition: overestimation (${meanP} vs ${obs})`);
  assert.ok(c.calibration.intercept! < 0, 'a negative calibration intercept is overestimation too');
  assert.match(html, new RegExp(`the model overestimates risk on average \\(mean predicted ${(100 * meanP).toFixed(1)}% vs observed ${(100 * obs).toFixed(1)}%\\)`));
  const calFlags = c.flags.filter((x) => /estimates risk/.test(x.text));
  assert.ok(calFlags.length > 0, 'a site is flagged for calibration');
  for (const f of calFlags) {
    const m = /mean predicted (\d+)% vs observed (\d+)%/.exec(f.text)!;
    assert.equal(/overestimates risk \(/.test(f.text), Number(m[1]) > Number(m[2]), f.text);
  }
  // Site "tiny" has a handful of cases: its proportions are marked, not presented as results.
  const tiny = c.groups['site']!['tiny']!;
  assert.ok(tiny.n_positive < 10);
  assert.match(html, new RegExp(`too few cases \\(n=${tiny.operating_point.confusion.tp + tiny.operating_point.confusion.fn}\\)`));
});
