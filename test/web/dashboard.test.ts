/**
 * The dashboard end to end: a real service (SQLite store, a tiny model, tokens for every role)
 * scoring studies from a private Orthanc, driven by headless Chromium through playwright-core.
 * Screenshots at 1280×800 and 820×1180 go to test-artifacts/dashboard (gitignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { readDicom, type DicomImage } from '../../src/data/dicom/index.js';
import { DASHBOARD_CSP } from '../../src/serve/dashboard-routes.js';
import { makeModelFolder, orthancSkip, roleTokens, SHARED_DICOM, startOrthanc } from '../serve/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) ? 'needs /usr/bin/chromium' : orthancSkip || (existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom');
const ARTEFACTS = resolve('test-artifacts', 'dashboard');
const CR_MONO2 = 'chest_cr_siim.dcm';
const CR_MONO1 = 'chest_cr_philips_j2k.dcm';
const MR = 'mr_small.dcm';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


test('dashboard: sign-in, worklist, viewer (pixels, MONOCHROME1, overlay, window/level), feedback round trip, role-aware UI, CSP, axe', { skip, timeout: 120_000 }, async (t) => {
  const build = spawnSync(process.execPath, ['web/build.mjs', '--quiet'], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'radml-web-'));
  const orthanc = await startOrthanc(join(dir, 'orthanc'));
  let svc: Awaited<ReturnType<typeof startService>> | undefined;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const headers: Record<string, DicomImage> = {};
    for (const f of [CR_MONO2, CR_MONO1, MR]) await orthanc.upload(readFileSync(join(SHARED_DICOM, f)));
    headers[CR_MONO1] = await readDicom(readFileSync(join(SHARED_DICOM, CR_MONO1)), CR_MONO1);
    headers[CR_MONO2] = await readDicom(readFileSync(join(SHARED_DICOM, CR_MONO2)), CR_MONO2);
    const { tokens, records } = roleTokens();
    const cfg = parseServeConfig({
      listen: { port: 0 }, store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json',
      orthanc: { url: orthanc.url, watch: 'changes', startFrom: 'beginning', pollIntervalMs: 200 },
      worker: { leaseMs: 10_000, idleMs: 100, baseBackoffMs: 100 }, heatmapGrid: 4, silent: true,
    }, dir);
    svc = await startService(cfg, { extraTokens: records });
    const url = svc.url;
    await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'm1'), 1), 'test');
    await svc.registry.setStatus('cxr', 1, 'champion');
    await waitFor('3 finished jobs', async () => {
      const c = await svc!.store.jobCounts();
      return c.done + c.failed >= 3 ? c : undefined;
    });
    const apiAs = async (role: keyof typeof tokens, method: string, path: string, body?: unknown) => {
      const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${tokens[role]}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers checked field by field below
      return { status: r.status, body: ((r.headers.get('content-type') ?? '').includes('json') ? await r.json() : await r.text()) as any };
    };

    // Static files are public and under the strict CSP; the API is not.
    const index = await fetch(url + '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-security-policy'), DASHBOARD_CSP);
    assert.doesNotMatch(await index.text(), /<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.equal((await fetch(url + '/assets/app.js')).status, 200);
    assert.equal((await fetch(url + '/assets/..%2Fpackage.json')).status, 400);
    assert.equal((await fetch(url + '/v1/worklist')).status, 401);
    assert.deepEqual((await apiAs('radiologist', 'GET', '/v1/whoami')).body, { name: 'test-radiologist', role: 'radiologist' });

    // Paging on the server.
    const page1 = (await apiAs('radiologist', 'GET', '/v1/worklist?limit=2')).body;
    assert.equal(page1.total, 3);
    assert.equal(page1.rows.length, 2);
    const page2 = (await apiAs('radiologist', 'GET', '/v1/worklist?limit=2&offset=2')).body;
    assert.equal(page2.rows.length, 1);
    const all = (await apiAs('radiologist', 'GET', '/v1/worklist')).body;
    const studyOf = (f: string) => headers[f]!.header.studyInstanceUid;
    const refusedRow = all.rows.find((r: { refusals: unknown[] }) => r.refusals.length > 0);
    assert.ok(refusedRow, 'the MR study is refused with a reason');
    assert.match(refusedRow.refusals[0].reason, /MR/);

    mkdirSync(ARTEFACTS, { recursive: true });
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const consoleErrors: string[] = [];
    const openPage = async (w = 1280, h = 800) => {
      const ctx = await browser.newContext({ viewport: { width: w, height: h } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(15_000);
      // The sign-in with a wrong token is a 401 the browser logs; anything else is a fault.
      page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text()); });
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      page.on('response', (res) => { if (res.status() >= 400 && !res.url().endsWith('/v1/whoami')) consoleErrors.push(`${res.status()} ${new URL(res.url()).pathname}`); });
      return { ctx, page };
    };
    type Page = Awaited<ReturnType<typeof openPage>>['page'];
    const signIn = async (page: Page, tok: string) => {
      await page.goto(url + '/');
      await page.getByLabel('API token').fill(tok);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };
    const axeCheck = async (page: Page, where: string) => {
      // Injected through the DevTools protocol: the page's CSP (rightly) refuses an inline script tag.
      await page.evaluate(axe);
      const r = await page.evaluate(async () => {
        const res = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] });
        return res.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
      }) as { id: string; impact: string; nodes: number }[];
      const serious = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], `${where}: axe violations ${JSON.stringify(serious)}`);
    };

    // ---------------------------------------------------------------- radiologist
    const { ctx: rctx, page } = await openPage();
    await signIn(page, 'radml_not-a-token');
    await page.getByRole('alert').filter({ hasText: 'not known' }).waitFor();
    await page.getByLabel('API token').fill(tokens.radiologist);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').filter({ hasText: 'radiologist' }).waitFor();
    await page.getByTestId('wl-row').nth(2).waitFor();
    assert.equal(await page.getByTestId('wl-row').count(), 3);
    assert.match(await page.locator('table.worklist').innerText(), /pneumonia\s+0\.\d{3}\s+\/\s+0\.500/);
    assert.match(await page.locator('table.worklist').innerText(), /1 refused/);
    assert.equal(await page.getByTestId('requeue').count(), 0, 'a radiologist sees no requeue button');
    await page.getByLabel('Outcome').selectOption('refused');
    await waitFor('refused filter', async () => (await page.getByTestId('wl-row').count()) === 1 ? true : undefined);
    await page.getByLabel('Outcome').selectOption('');
    await page.getByTestId('wl-row').nth(2).waitFor();
    await axeCheck(page, 'worklist');
    await page.screenshot({ path: join(ARTEFACTS, 'worklist-1280x800.png') });
    // The token stays for the tab: a reload does not ask again.
    await page.reload();
    await page.getByTestId('who').waitFor();

    // The API refuses what the UI hides.
    assert.equal((await apiAs('radiologist', 'POST', `/v1/jobs/${refusedRow.jobId}/requeue`)).status, 403);
    assert.equal((await apiAs('radiologist', 'POST', '/v1/models/cxr/1/status', { status: 'retired' })).status, 403);
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByTestId('model-row').first().waitFor();
    assert.equal(await page.getByRole('button', { name: /Make champion|Make challenger|Retire|Deactivate/ }).count(), 0);

    // Viewer on the MONOCHROME1 CR (1955 × 1841).
    const mono1 = studyOf(CR_MONO1);
    const t0 = Date.now();
    await page.goto(`${url}/#/study/${mono1}`);
    const canvas = page.getByTestId('viewer-canvas');
    await page.getByTestId('imginfo').filter({ hasText: 'MONOCHROME1' }).waitFor({ timeout: 20_000 });
    await waitFor('drawn canvas', async () => (await canvas.getAttribute('data-view')) ? true : undefined);
    t.diagnostic(`viewer: 1955 × 1841 J2K CR drawn ${Date.now() - t0} ms after navigation (first view: PACS retrieve + decode; machine shared)`);
    const readCanvas = () => page.evaluate(() => {
      const cv = (globalThis as any).document.querySelector('[data-testid="viewer-canvas"]');
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data as Uint8ClampedArray;
      const [scale, x, y] = String(cv.dataset.view).split(',').map(Number);
      return { w: cv.width, h: cv.height, scale, x, y, data: Array.from(d) };
    }) as Promise<{ w: number; h: number; scale: number; x: number; y: number; data: number[] }>;
    const shot = await readCanvas();
    const greys = new Set<number>();
    let nonBlack = 0, coloured = 0;
    for (let i = 0; i < shot.data.length; i += 4) {
      greys.add(shot.data[i]!);
      if (shot.data[i]! > 10) nonBlack++;
      if (Math.abs(shot.data[i]! - shot.data[i + 2]!) > 20) coloured++;
    }
    assert.ok(greys.size > 50, `canvas not blank (${greys.size} grey levels)`);
    assert.ok(nonBlack > shot.data.length / 4 / 5, 'much of the canvas is image');
    assert.equal(coloured, 0, 'no overlay yet');
    // MONOCHROME1: the canvas agrees with radml's own display rendering (inverted, stored window), not its negative.
    const ref = headers[CR_MONO1]!.image;
    const a: number[] = [], b: number[] = [];
    for (let gy = 1; gy < 20; gy++) for (let gx = 1; gx < 20; gx++) {
      const ix = Math.floor((gx / 20) * ref.width), iy = Math.floor((gy / 20) * ref.height);
      const cx = Math.round(shot.x + ix * shot.scale), cy = Math.round(shot.y + iy * shot.scale);
      a.push(shot.data[(cy * shot.w + cx) * 4]! / 255);
      b.push(ref.data[iy * ref.width + ix]!);
    }
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const ma = mean(a), mb = mean(b);
    const r = a.reduce((s, x, i) => s + (x - ma) * (b[i]! - mb), 0) / Math.sqrt(a.reduce((s, x) => s + (x - ma) ** 2, 0) * b.reduce((s, x) => s + (x - mb) ** 2, 0));
    assert.ok(r > 0.9, `canvas vs radml display image: correlation ${r.toFixed(3)}`);
    assert.ok(Math.abs(ma - mb) < 0.08, `mean grey ${ma.toFixed(3)} vs ${mb.toFixed(3)}`);

    // Window/level by dragging changes the window; Reset restores the stored one.
    const before = await page.getByTestId('imginfo').innerText();
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 40, { steps: 4 });
    await page.mouse.up();
    assert.notEqual(await page.getByTestId('imginfo').innerText(), before);
    await page.getByRole('button', { name: 'Reset' }).click();
    assert.equal(await page.getByTestId('imginfo').innerText(), before);

    // Overlay: the finding whose occlusion map is not all zero (with two softmax classes one of them is).
    const sop = headers[CR_MONO1]!.header.sopInstanceUid;
    const maps = await Promise.all(['normal', 'pneumonia'].map(async (f) => ({ f, m: (await apiAs('radiologist', 'GET', `/v1/studies/${mono1}/instances/${sop}/heatmap?model=cxr&version=1&finding=${f}`)).body })));
    const pick = maps.find((x) => Math.max(...x.m.values) > 0)!;
    assert.ok(pick, 'some finding has a non-zero occlusion map');
    await page.locator('#v-finding').selectOption(pick.f);
    await page.getByTestId('overlay-toggle').check();
    await waitFor('overlay drawn', async () => (await canvas.getAttribute('data-overlay')) === 'on' ? true : undefined);
    // The flag can turn on before the chosen finding's map has arrived and been drawn: poll the pixels.
    const tinted = async () => {
      const withHeat = await readCanvas();
      let n = 0;
      for (let i = 0; i < withHeat.data.length; i += 4) if (withHeat.data[i]! - withHeat.data[i + 2]! > 20) n++;
      return n;
    };
    await waitFor('the overlay to tint the image', async () => ((coloured = await tinted()) > 100 ? true : undefined), 15_000).catch(() => undefined);
    assert.ok(coloured > 100, `overlay tints the image (${coloured} pixels)`);
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('h');
    await waitFor('overlay off by key', async () => (await canvas.getAttribute('data-overlay')) === 'off' ? true : undefined);
    await page.keyboard.press('h');
    await waitFor('overlay on by key', async () => (await canvas.getAttribute('data-overlay')) === 'on' ? true : undefined);
    await axeCheck(page, 'viewer');
    await page.screenshot({ path: join(ARTEFACTS, 'viewer-1280x800.png') });

    // Feedback round trip: the form → the feedback route → the store, with user and comment.
    const fb = page.getByTestId('feedback-pneumonia');
    await fb.getByLabel('Agree', { exact: true }).check();
    await fb.getByLabel('Comment').fill('consolidation right lower zone');
    await fb.getByRole('button', { name: 'Save feedback' }).click();
    await fb.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const stored = await svc.store.listFeedback({ studyUid: mono1 });
    assert.equal(stored.length, 1);
    assert.deepEqual({ f: stored[0]!.finding, v: stored[0]!.verdict, u: stored[0]!.user, c: stored[0]!.comment }, { f: 'pneumonia', v: 'confirm', u: 'test-radiologist', c: 'consolidation right lower zone' });
    await page.getByTestId('feedback-list').filter({ hasText: 'test-radiologist' }).waitFor();
    assert.ok((await svc.store.listAudit()).some((e) => e.action === 'study.view' && e.actor === 'test-radiologist'), 'image views are audited');

    // Tablet width.
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(ARTEFACTS, 'viewer-820x1180.png') });
    await page.goto(`${url}/#/worklist`);
    await page.getByTestId('wl-row').nth(2).waitFor();
    await page.screenshot({ path: join(ARTEFACTS, 'worklist-820x1180.png') });
    await rctx.close();

    // ---------------------------------------------------------------- admin
    const { ctx: actx, page: admin } = await openPage();
    await signIn(admin, tokens.admin);
    await admin.getByTestId('who').filter({ hasText: 'admin' }).waitFor();
    await admin.getByTestId('requeue').first().waitFor();
    await admin.getByTestId('requeue').first().click();
    await admin.getByRole('status').filter({ hasText: 'queued again' }).waitFor();
    assert.ok((await svc.store.listAudit()).some((e) => e.action === 'job.requeue' && e.actor === 'test-admin'));
    await admin.getByRole('link', { name: 'Models' }).click();
    await admin.getByTestId('set-challenger').waitFor();
    await admin.getByRole('button', { name: 'Card' }).click();
    await admin.getByTestId('model-card').filter({ hasText: 'pneumonia ≥ 0.5' }).waitFor();
    await axeCheck(admin, 'models');
    await admin.screenshot({ path: join(ARTEFACTS, 'models-1280x800.png') });
    await admin.getByRole('link', { name: 'Monitoring' }).click();
    await admin.getByText('No model version has a monitoring reference').waitFor();
    await actx.close();
    assert.deepEqual(consoleErrors, [], 'no console errors (CSP violations show here)');
  } finally {
    await browser.close();
    await svc?.stop({ graceMs: 1000 });
    await orthanc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
