/**
 * The keyed audit chain against someone who can write the database but not read the key file:
 * an edited row re-chained with plain SHA-256 passes the old unkeyed check and fails the keyed one;
 * the key file is 0600 and required once the log is keyed; the API pages and verifies without
 * blocking the event loop on a 40k-entry log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { parseServeConfig } from '../../src/serve/config.js';
import { startService } from '../../src/serve/service.js';
import { canonicalJson, readAuditKey, verifyAuditChain, GENESIS_HASH } from '../../src/store/audit-chain.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { roleTokens } from './fixtures.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'audit', ...args], { encoding: 'utf8' });

/** Re-chain rows from `fromSeq` with plain SHA-256, as an attacker without the key would. */
function rechainPlain(db: Database.Database, fromSeq: number): void {
  db.exec('DROP TRIGGER IF EXISTS audit_no_update');
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(fromSeq) as { seq: number; ts: number; actor: string; action: string; subject: string; details: string; prev_hash: string }[];
  let prev = (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(fromSeq - 1) as { hash: string } | undefined)?.hash ?? GENESIS_HASH;
  for (const r of rows) {
    const body = canonicalJson({ seq: r.seq, ts: r.ts, actor: r.actor, action: r.action, subject: r.subject, details: JSON.parse(r.details) });
    const hash = createHash('sha256').update(prev).update('\n').update(body).digest('hex');
    db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r.seq);
    prev = hash;
  }
  db.prepare('UPDATE audit_head SET hash = ? WHERE id = 1').run(prev);
}

test('keyed audit chain: a rewrite by someone without the key is caught (the unkeyed check is fooled); key file 0600 and required', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-audit-'));
  const { tokens, records } = roleTokens();
  const cfg = parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', auditKeyFile: 'keys/audit.key' }, dir);
  try {
    let svc = await startService(cfg, { extraTokens: records, noListen: true });
    for (let i = 0; i < 5; i++) await svc.store.appendAudit({ actor: 'alice', action: 'feedback', subject: `s${i}`, details: { verdict: 'confirm' } });
    const keyFile = join(dir, 'keys', 'audit.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'key file owner-only');
    assert.equal(statSync(join(dir, 'radml.db')).mode & 0o777, 0o600, 'store owner-only');
    const key = readAuditKey(keyFile);
    assert.equal(key.keyedFromSeq, 1);
    // Independent recomputation of entry 1: HMAC-SHA256(key, prev + "\n" + canonical body).
    const [e1] = await svc.store.listAuditPage(0, 1);
    const body = canonicalJson({ seq: e1!.seq, ts: e1!.ts, actor: e1!.actor, action: e1!.action, subject: e1!.subject, details: e1!.details });
    assert.equal(e1!.hash, createHmac('sha256', key.key).update(GENESIS_HASH + '\n' + body).digest('hex'));

    const admin = { authorization: `Bearer ${tokens.admin}` };
    let v = (await svc.app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin })).json();
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.keyed, 5);
    await svc.stop();

    // The attacker edits entry 3 and re-chains 3..5 and the head with plain SHA-256.
    const db = new Database(join(dir, 'radml.db'));
    db.exec('DROP TRIGGER audit_no_update');
    db.prepare(`UPDATE audit SET details = '{"verdict":"reject"}' WHERE seq = 3`).run();
    rechainPlain(db, 3);
    db.close();
    const store = SqliteStore.open(join(dir, 'radml.db'), { readonly: true });
    const entries = await store.listAudit();
    const head = await store.auditHead();
    await store.close();
    assert.equal(verifyAuditChain(entries, head).ok, false, 'entries 1–2 are HMACs, so even the unkeyed check sees the seam');
    const keyed = verifyAuditChain(entries, head, key);
    assert.equal(keyed.ok, false);
    assert.deepEqual(keyed.problems.map((p) => p.seq), [3, 4, 5]);
    assert.match(keyed.problems[0]!.reason, /plain SHA-256 where the key requires an HMAC/);
    // A full rewrite from entry 1 fools a chain without a secret completely — not the keyed one.
    const db2 = new Database(join(dir, 'radml.db'));
    rechainPlain(db2, 1);
    db2.close();
    const s2 = SqliteStore.open(join(dir, 'radml.db'), { readonly: true });
    const all = await s2.listAudit();
    const head2 = await s2.auditHead();
    await s2.close();
    assert.equal(verifyAuditChain(all, head2).ok, true, 'the unkeyed chain accepts the forgery');
    assert.equal(verifyAuditChain(all, head2, key).ok, false, 'the keyed chain refuses it');
    let r = cli(['verify', '--store', join(dir, 'radml.db'), '--key', keyFile]);
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /TAMPERED/);

    // The service will not start over a keyed log whose key file is gone, or with a different key.
    const fresh = join(dir, 'fresh');
    svc = await startService(parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', auditKeyFile: 'k/audit.key' }, fresh), { noListen: true });
    await svc.store.appendAudit({ actor: 'x', action: 'y', subject: 'z', details: {} });
    await svc.stop();
    await assert.rejects(startService(parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', auditKeyFile: 'other/audit.key' }, fresh), { noListen: true }), /AUDIT_KEY_MISSING|no audit key file, but the audit log's newest entry \(1\) is keyed/);
    await assert.rejects(startService(parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json', auditKeyFile: join(dir, 'keys', 'audit.key') }, fresh), { noListen: true }), /does not verify under this key/);
    chmodSync(keyFile, 0o644);
    assert.throws(() => readAuditKey(keyFile), /readable by others/);

    // An old log written before keys existed: its entries stay valid and are sealed by the first keyed one.
    const legacy = join(dir, 'legacy');
    const ls = SqliteStore.open(join(legacy, 'radml.db'));
    for (let i = 0; i < 3; i++) await ls.appendAudit({ actor: 'old', action: 'a', subject: `${i}`, details: {} });
    await ls.close();
    const lcfg = parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json' }, legacy);
    svc = await startService(lcfg, { extraTokens: records, noListen: true });
    await svc.store.appendAudit({ actor: 'new', action: 'a', subject: 'k', details: {} });
    v = (await svc.app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin })).json();
    await svc.stop();
    assert.deepEqual([v.ok, v.keyed, v.unkeyed], [true, 1, 3]);
    writeFileSync(join(legacy, 'serve.json'), JSON.stringify({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json' }));
    r = cli(['verify', '--config', join(legacy, 'serve.json')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: 4 entries \(1 keyed, 3 before the key\)/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit API pages (after/limit/next) and verifies a 40k-entry log without blocking the event loop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-auditp-'));
  const { tokens, records } = roleTokens();
  try {
    const cfg = parseServeConfig({ store: 'radml.db', modelsDir: 'models', tokensFile: 'tokens.json' }, dir);
    let svc = await startService(cfg, { extraTokens: records, noListen: true });
    await svc.stop();
    // Bulk-write 40 000 keyed entries directly (the same HMAC construction), then reopen.
    const key = readAuditKey(cfg.auditKeyFile);
    const db = new Database(cfg.store);
    const n = 40_000;
    db.transaction(() => {
      let prev = GENESIS_HASH;
      const ins = db.prepare('INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      for (let seq = 1; seq <= n; seq++) {
        const e = { seq, ts: 1_700_000_000_000 + seq, actor: 'svc', action: 'predict', subject: `s${seq % 97}`, details: { jobId: seq, scores: { pneumonia: (seq % 100) / 100 } } };
        const hash = createHmac('sha256', key.key).update(prev + '\n' + canonicalJson(e)).digest('hex');
        ins.run(seq, e.ts, e.actor, e.action, e.subject, JSON.stringify(e.details), prev, hash);
        prev = hash;
      }
      db.prepare('INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash').run(n, prev);
    })();
    db.close();
    svc = await startService(cfg, { extraTokens: records, noListen: true });
    try {
      const admin = { authorization: `Bearer ${tokens.admin}` };
      let page = (await svc.app.inject({ method: 'GET', url: '/v1/audit?limit=3', headers: admin })).json();
      assert.deepEqual(page.entries.map((e: { seq: number }) => e.seq), [n - 2, n - 1, n]);
      assert.equal(page.next, null);
      page = (await svc.app.inject({ method: 'GET', url: '/v1/audit?after=10&limit=5', headers: admin })).json();
      assert.deepEqual(page.entries.map((e: { seq: number }) => e.seq), [11, 12, 13, 14, 15]);
      assert.equal(page.next, 15);
      assert.equal((await svc.app.inject({ method: 'GET', url: '/v1/audit?limit=20000', headers: admin })).statusCode, 400, 'page size capped');

      // Watch the store's reads and the event loop: pages of ≤ 500 rows with loop turns between them.
      const events: string[] = [];
      const store = svc.store as unknown as { listAuditPage(a: number, l: number): Promise<unknown[]>; listAudit(): Promise<unknown[]> };
      const page0 = store.listAuditPage.bind(store);
      store.listAuditPage = async (a: number, l: number) => {
        events.push(`page:${l}`);
        return page0(a, l);
      };
      store.listAudit = async () => assert.fail('verify must not read the whole table');
      let ticking = true;
      const tick = () => {
        events.push('tick');
        if (ticking) setImmediate(tick);
      };
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      const t0 = performance.now();
      setImmediate(tick);
      const [v] = await Promise.all([
        svc.app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin }).then((r) => r.json()),
        svc.app.inject({ method: 'GET', url: '/v1/audit/verify', headers: admin }), // shares the run
      ]);
      ticking = false;
      const ms = performance.now() - t0;
      h.disable();
      assert.equal(v.ok, true, JSON.stringify(v.problems?.slice(0, 3)));
      assert.equal(v.entries, n);
      const pages = events.filter((e) => e.startsWith('page:'));
      assert.ok(pages.every((p) => Number(p.slice(5)) <= 500), 'pages of at most 500 rows');
      assert.equal(pages.length, n / 500, 'one run for both callers, n / 500 pages');
      let interleaved = 0;
      for (let i = 1; i < events.length; i++) if (events[i]!.startsWith('page:') && events[i - 1] === 'tick') interleaved++;
      assert.ok(interleaved >= pages.length - 2, `the event loop turned before ${interleaved} of ${pages.length} pages`);
      // Wall-clock blocks are reported, not asserted: on a loaded shared machine they measure the scheduler.
      t.diagnostic(`verify ${n} entries: ${ms.toFixed(0)} ms in ${pages.length} pages; longest event-loop block ${(h.max / 1e6).toFixed(1)} ms (shared, loaded machine)`);
    } finally {
      await svc.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
