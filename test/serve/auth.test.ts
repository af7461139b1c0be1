import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService, type RunningService } from '../../src/serve/service.js';
import { addToken, readTokensFile, TokenVerifier } from '../../src/serve/auth.js';
import { ROLES, type Role } from '../../src/store/schema.js';
import { makeModelFolder, roleTokens, SHARED_DICOM } from './fixtures.js';

// The probes, and the dashboard's static shell (HTML, script, styles: no data; every call it makes needs a token).
const PUBLIC = ['GET /', 'GET /assets/:file', 'GET /health', 'GET /ready'];

function fill(url: string): string {
  return url.replace(':name', 'cxr').replace(':version', '1').replace(':id', '1').replace(':studyUid', '1.2.3');
}

async function withService(fn: (svc: RunningService, tokens: Record<Role, string>, dir: string, logs: Record<string, unknown>[]) => Promise<void>, over: Record<string, unknown> = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'radml-auth-'));
  const { tokens, records } = roleTokens();
  const cfg = parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', limits: { imageBytes: 4 * 1024 * 1024, jsonBytes: 4096 }, ...over }, dir);
  const logs: Record<string, unknown>[] = [];
  const svc = await startService(cfg, { extraTokens: records, noListen: true, log: (l) => logs.push(l) });
  try {
    await fn(svc, tokens, dir, logs);
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every route declares its roles; only the probes and the dashboard shell are public; the OpenAPI document lists them', async () => {
  await withService(async (svc, tokens) => {
    assert.ok(svc.routes.length >= 15, `${svc.routes.length} routes`);
    for (const r of svc.routes) assert.ok(r.roles !== undefined, `${r.method} ${r.url} declares no roles`);
    assert.deepEqual(svc.routes.filter((r) => r.roles === 'public').map((r) => `${r.method} ${r.url}`).sort(), PUBLIC);
    // The OpenAPI document lists each route's roles (x-roles and the description).
    const doc = (await svc.app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: `Bearer ${tokens.radiologist}` } })).json() as { paths: Record<string, Record<string, { description?: string; 'x-roles'?: string[] }>> };
    let documented = 0;
    for (const r of svc.routes) {
      const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
      if (!op) continue;
      const expected = r.roles === 'public' ? [] : [...(r.roles as readonly string[])];
      assert.deepEqual(op['x-roles'], expected, `${r.method} ${r.url} x-roles`);
      assert.match(op.description ?? '', r.roles === 'public' ? /Roles: public/ : new RegExp(`Roles: ${expected.join(', ')}\\.`));
      documented++;
    }
    assert.ok(documented >= 15, `${documented} operations documented`);
  });
});

test('every route refuses a missing or unknown token (401) and each role it does not allow (403), and logs the refusals', async () => {
  await withService(async (svc, tokens, _dir, logs) => {
    let checked = 0;
    for (const r of svc.routes) {
      if (r.roles === 'public' || r.roles === undefined) continue;
      const url = fill(r.url);
      const method = r.method as 'GET' | 'POST';
      const none = await svc.app.inject({ method, url });
      assert.equal(none.statusCode, 401, `${r.method} ${r.url} without a token`);
      const wrong = await svc.app.inject({ method, url, headers: { authorization: 'Bearer radml_not-a-real-token' } });
      assert.equal(wrong.statusCode, 401, `${r.method} ${r.url} with an unknown token`);
      for (const role of ROLES) {
        const res = await svc.app.inject({ method, url, headers: { authorization: `Bearer ${tokens[role]}` } });
        if (r.roles.includes(role)) assert.ok(res.statusCode !== 401 && res.statusCode !== 403, `${r.method} ${r.url} refuses allowed role ${role}: ${res.statusCode}`);
        else assert.equal(res.statusCode, 403, `${r.method} ${r.url} lets ${role} in`);
      }
      checked++;
    }
    assert.ok(checked >= 13);
    // Refused requests leave an access-log line at the default (info) level: msg "request refused".
    const refused = logs.filter((l) => l.msg === 'request refused');
    assert.ok(refused.some((l) => l.status === 401) && refused.some((l) => l.status === 403), 'refusals logged');
    assert.ok(refused.every((l) => typeof l.route === 'string' && !String(l.route).includes('1.2.3')), 'route pattern, never the URL');
    assert.equal((await svc.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    const metrics = await svc.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${tokens.service}` } });
    assert.match(metrics.body, /radml_auth_failures_total\{status="403"\} \d+/);
  });
});

test('tokens are stored hashed; the tokens file grants what it says', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-tok-'));
  try {
    const file = join(dir, 'tokens.json');
    const t = addToken(file, 'alice', 'radiologist');
    assert.ok(!readFileSync(file, 'utf8').includes(t), 'the token itself is never written');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'tokens file is owner-only');
    const v = new TokenVerifier(readTokensFile(file));
    assert.deepEqual(v.verify(t), { name: 'alice', role: 'radiologist' });
    assert.equal(v.verify(t + 'x'), undefined);
    assert.throws(() => addToken(file, 'alice', 'admin'), /already exists/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sync inference: PNG scored, heatmap=1 / <finding> / 0, corrupt input and oversize bodies refused', async () => {
  await withService(async (svc, tokens, dir) => {
    const auth = (role: Role) => ({ authorization: `Bearer ${tokens[role]}` });
    let res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...auth('radiologist'), 'content-type': 'image/png' }, payload: Buffer.alloc(10) });
    assert.equal(res.statusCode, 400, 'no active model or bad image');
    const { model } = await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'm'), 3), 'test');
    await svc.registry.setStatus('cxr', model.version, 'champion');

    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 120, b: 90 } } }).greyscale().png().toBuffer();
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict?heatmap=1', headers: { ...auth('radiologist'), 'content-type': 'image/png' }, payload: png });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { scores: Record<string, number>; decisions: Record<string, boolean>; heatmap: { class: string; positive: boolean; grid: number; values: number[] }; version: number };
    // heatmap=1: the top positive finding; this model's only operating point is on pneumonia.
    assert.equal(body.heatmap.class, 'pneumonia');
    assert.equal(body.heatmap.positive, body.decisions.pneumonia);
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict?heatmap=normal', headers: { ...auth('radiologist'), 'content-type': 'image/png' }, payload: png });
    assert.equal(res.json().heatmap.class, 'normal');
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict?heatmap=effusion', headers: { ...auth('radiologist'), 'content-type': 'image/png' }, payload: png });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /"effusion" is not a finding of cxr/);
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict?heatmap=0', headers: { ...auth('radiologist'), 'content-type': 'image/png' }, payload: png });
    assert.equal(res.json().heatmap, undefined);
    assert.ok(Math.abs(body.scores.normal! + body.scores.pneumonia! - 1) < 1e-5);
    assert.equal(body.decisions.pneumonia, body.scores.pneumonia! >= 0.5);
    assert.equal(body.heatmap.values.length, body.heatmap.grid ** 2);

    // The same prediction through the runner directly matches the API.
    const runner = await svc.registry.runner(model);
    const { decodeInput } = await import('../../src/serve/input.js');
    const direct = await runner.predict([(await decodeInput(png, 'png')).image]);
    assert.ok(Math.abs(direct[0]!.scores.pneumonia! - body.scores.pneumonia!) < 1e-6);

    res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...auth('service'), 'content-type': 'image/png' }, payload: Buffer.alloc(5 * 1024 * 1024) });
    assert.equal(res.statusCode, 413, 'image body limit');
    res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth('service'), 'content-type': 'application/json' }, payload: JSON.stringify({ studyInstanceUid: '1.2', pad: 'x'.repeat(5000) }) });
    assert.equal(res.statusCode, 413, 'JSON body limit');
    res = await svc.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...auth('service'), 'content-type': 'application/json' }, payload: JSON.stringify({ studyInstanceUid: 'not a uid' }) });
    assert.equal(res.statusCode, 400, 'schema validation');

    const actions = (await svc.store.listAudit()).map((e) => e.action);
    assert.ok(actions.includes('predict'));
  });
});

test('sync inference of real DICOM files: CR scored, MR refused before decoding, truncated file refused', { skip: existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom' }, async () => {
  await withService(async (svc, tokens, dir) => {
    const auth = (role: Role) => ({ authorization: `Bearer ${tokens[role]}` });
    const { model } = await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'm'), 3), 'test');
    await svc.registry.setStatus('cxr', model.version, 'champion');
    let res;
    const cr = readFileSync(join(SHARED_DICOM, 'chest_cr_siim.dcm'));
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...auth('service'), 'content-type': 'application/dicom' }, payload: cr });
    assert.equal(res.statusCode, 200, res.body);
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...auth('service'), 'content-type': 'application/dicom' }, payload: readFileSync(join(SHARED_DICOM, 'mr_small.dcm')) });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json().error, /modality MR/);
    res = await svc.app.inject({ method: 'POST', url: '/v1/predict', headers: { ...auth('service'), 'content-type': 'application/dicom' }, payload: readFileSync(join(SHARED_DICOM, 'rtplan_truncated.dcm')) });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /truncated|corrupt/i);
  });
});

test('radml audit verify detects an edited row in the service store', async () => {
  await withService(async (svc, tokens, dir) => {
    const { model } = await svc.registry.registerFolder('cxr', makeModelFolder(join(dir, 'm'), 4), 'test');
    const res = await svc.app.inject({ method: 'POST', url: `/v1/models/cxr/${model.version}/status`, headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' }, payload: { status: 'champion' } });
    assert.equal(res.statusCode, 200);
    for (let i = 0; i < 3; i++) await svc.store.appendAudit({ actor: 'x', action: 'feedback', subject: `s${i}`, details: { verdict: 'confirm' } });
    const db = join(dir, 'radml.db');
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'audit', ...args], { encoding: 'utf8' });
    const key = join(dir, 'radml-serve', 'audit.key');
    let r = cli(['verify', '--store', db, '--key', key]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: 4 entries \(4 keyed, 0 before the key\)/m);

    const raw = new Database(db);
    assert.throws(() => raw.prepare(`UPDATE audit SET details = '{"verdict":"reject"}' WHERE seq = 3`).run(), /append-only/);
    raw.exec('DROP TRIGGER audit_no_update');
    raw.prepare(`UPDATE audit SET details = '{"verdict":"reject"}' WHERE seq = 3`).run();
    raw.close();
    r = cli(['verify', '--store', db, '--key', key]);
    assert.equal(r.status, 3);
    assert.match(r.stdout, /entry 3: .*edited/);
    assert.match(r.stdout, /TAMPERED/);
  });
});
