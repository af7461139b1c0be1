/**
 * The dashboard's Monitoring page and worklist paging against a real service (no PACS): 300
 * predictions recorded through the store's job path (200 like the reference, then lateral views it
 * never had), rendered in headless Chromium; the uPlot chart draws, the alarm is acknowledged
 * (audited), and the worklist pages through 300 rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fitReference, REFERENCE_FILE } from '../../src/monitor/profile.js';
import type { Observation } from '../../src/monitor/observation.js';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import type { Store } from '../../src/store/store.js';
import { addModelArtefacts, sha256File } from '../../src/train/model-folder.js';
import { Rng } from '../../src/util/rng.js';
import { makeModelFolder, roleTokens } from '../serve/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTEFACTS = resolve('test-artifacts', 'dashboard');

function sample(rng: Rng, view: () => string): { scores: number[]; view: string } {
  const label = rng.random() < 0.3 ? 1 : 0;
  const p = 1 / (1 + Math.exp(-(rng.normal(label ? 1.2 : -1.2, 1))));
  return { scores: [1 - p, p], view: view() };
}

let seq = 0;
async function record(store: Store, rows: { scores: number[]; view: string }[]): Promise<void> {
  for (const r of rows) {
    const uid = `1.2.826.0.1.${++seq}`;
    await store.enqueueJob({ kind: 'study', studyUid: uid, modelName: 'cxr', modelVersion: 1 });
    const job = (await store.leaseJob('w', 10_000))!;
    await store.completeJob(job.id, 'w', { result: null, skipped: [], predictions: [{ studyUid: uid, seriesUid: `${uid}.1`, sopUid: `${uid}.1.1`, modelName: 'cxr', modelVersion: 1, scores: { normal: r.scores[0]!, pneumonia: r.scores[1]! }, decisions: { pneumonia: r.scores[1]! >= 0.5 }, silent: false, columns: { view: r.view, modality: 'CR' } }] });
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- page.evaluate bodies run in the browser */

test('dashboard monitoring: the drift chart renders, an alarm is acknowledged; the worklist pages through 300 rows', { skip: existsSync(CHROMIUM) ? false : 'needs /usr/bin/chromium', timeout: 90_000 }, async () => {
  const build = spawnSync(process.execPath, ['web/build.mjs', '--quiet'], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'radml-web-mon-'));
  const { tokens, records } = roleTokens();
  const svc = await startService(parseServeConfig({ listen: { port: 0 }, store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json' }, dir), { extraTokens: records });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const folder = makeModelFolder(join(dir, 'm'), 3);
    const rng = new Rng(1);
    const view = () => (rng.random() < 0.8 ? 'PA' : 'AP');
    const ref: Observation[] = Array.from({ length: 600 }, () => ({ categorical: { view: view(), modality: 'CR' }, numeric: {}, scores: sample(rng, view).scores, embedding: null, oodRejected: null, labels: null }));
    addModelArtefacts(folder, { [REFERENCE_FILE]: JSON.stringify(fitReference(ref, { classes: ['normal', 'pneumonia'], labelKind: 'categorical', modelSha256: sha256File(join(folder, 'model.onnx')) })) });
    await svc.registry.registerFolder('cxr', folder, 'test');
    await svc.registry.setStatus('cxr', 1, 'champion');
    await record(svc.store, Array.from({ length: 200 }, () => sample(rng, view)));
    await record(svc.store, Array.from({ length: 100 }, () => sample(rng, () => (rng.random() < 0.5 ? 'LL' : 'PA'))));

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(svc.url + '/');
    await page.getByLabel('API token').fill(tokens.radiologist);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Worklist paging: 50 rows a page, 300 in all.
    await page.getByText('rows 1–50 of 300').waitFor();
    assert.equal(await page.getByTestId('wl-row').count(), 50);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('rows 51–100 of 300').waitFor();
    await page.getByLabel('Search').fill('1.2.826.0.1.7');
    await page.getByText(/rows 1–\d+ of 11$/).waitFor(); // 7 and 70–79

    await page.getByRole('link', { name: 'Monitoring' }).click();
    await page.getByText('300 studies monitored').waitFor();
    const chart = page.getByTestId('monitor-chart');
    await chart.locator('canvas').waitFor();
    const inked = await chart.evaluate((el: any) => {
      const cv = el.querySelector('canvas');
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 2] < 200)) n++;
      return n;
    }) as number;
    assert.ok(inked > 200, `the chart draws a line (${inked} inked pixels)`);
    await page.getByRole('cell', { name: /view 'LL' never seen/ }).first().waitFor();
    await page.getByRole('button', { name: 'Acknowledge' }).first().click();
    await page.getByRole('cell', { name: /test-radiologist/ }).first().waitFor();
    assert.ok((await svc.store.listAudit()).some((e) => e.action === 'monitor.acknowledge' && e.actor === 'test-radiologist'));
    await page.evaluate(readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
    const violations = await page.evaluate(async () => ((await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] })).violations as any[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)) as string[];
    assert.deepEqual(violations, [], 'axe: no serious violations on the monitoring page');
    mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTEFACTS, 'monitor-1280x800.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await ctx.close();
  } finally {
    await browser.close();
    await svc.stop({ graceMs: 1000 });
    rmSync(dir, { recursive: true, force: true });
  }
});
