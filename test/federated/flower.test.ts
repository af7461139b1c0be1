/**
 * Two `radml federate site` processes and a stock-FedAvg ServerApp (`flwr run`, flwr 1.42.0 from
 * PyPI) complete two rounds through a real `flower-superlink`. A recording proxy between the sites
 * and the SuperLink checks everything the sites push (only arrays and aggregate metrics; no patient
 * ids, paths or labels), and the global model the ServerApp saved equals FedAvg of the sites'
 * round-2 arrays weighted by num-examples; imported with `import-arrays`, it predicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFlwrVenv, FLWR_VENV, REPO, writeSiteCohort } from './helpers.js';
import { loadOrIngest } from '../../src/data/ingest/index.js';
import { ImageClassifier } from '../../src/train/classifier.js';
import { readNpz } from '../../src/federated/arrays.js';
import { parseObject } from '../../src/federated/objects.js';
import { decode } from '../../src/federated/proto.js';
import { readCsv } from '../../src/util/csv.js';
import { auroc } from '../../src/train/auroc.js';

const skip = ensureFlwrVenv();
const CLI = ['--import', 'tsx', join(REPO, 'src/cli/main.ts')];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

interface Recorded { pushedObjects: Map<string, Uint8Array>; messages: { metadata: Record<string, unknown>; objectIds: string[] }[]; paths: string[] }

/** An HTTP proxy to the SuperLink that records every push-object and push-messages request. */
function recordingProxy(target: number): Promise<{ server: Server; port: number; rec: Recorded }> {
  const rec: Recorded = { pushedObjects: new Map(), messages: [], paths: [] };
  const flatten = (t: { object_id: string; children: unknown[] }): string[] => [t.object_id, ...t.children.flatMap((c) => flatten(c as typeof t))];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      rec.paths.push(req.url ?? '');
      if (req.url === '/v1/fleet/push-object') {
        const p = decode<{ object_id: string; object_content: Uint8Array }>('PushObjectRequest', body);
        rec.pushedObjects.set(p.object_id, p.object_content);
      } else if (req.url === '/v1/fleet/push-messages') {
        const p = decode<{ messages_list: { metadata: Record<string, unknown> }[]; message_object_trees: { object_id: string; children: unknown[] }[] }>('PushMessagesRequest', body);
        rec.messages.push({ metadata: p.messages_list[0]!.metadata, objectIds: flatten(p.message_object_trees[0]!) });
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(`http://127.0.0.1:${target}${req.url}`, { method: req.method ?? 'POST', headers, body })
        .then(async (r) => {
          const buf = Buffer.from(await r.arrayBuffer());
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
          res.end(buf);
        })
        .catch(() => { res.writeHead(502); res.end(); });
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, rec })));
}

function exited(p: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    const t = setTimeout(() => resolve(null), ms);
    p.on('exit', (code) => { clearTimeout(t); resolve(code); });
  });
}

test('two radml sites complete a 2-round stock-FedAvg Flower run; the global model predicts', { skip, timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-flower-'));
  const { all, sites } = writeSiteCohort(dir, { perSite: 48, size: 16 });
  const { dataset } = await loadOrIngest(all, { imageSize: 16 });
  const clf = new ImageClassifier({ epochs: 1, imageSize: 16, width: 4, threads: 1, batch: 16, seed: 1, positive: 'abnormal' });
  await clf.fit(dataset, { outDir: join(dir, 'base') });
  clf.save(join(dir, 'base'), { source: all, kind: 'manifest', sha256: createHash('sha256').update(readFileSync(all)).digest('hex'), skipped: [] });
  const cli = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { cwd: REPO, encoding: 'utf8' });
  const ex = cli(['federate', 'export-arrays', '--model', join(dir, 'base'), '--out', join(dir, 'base.npz')]);
  assert.equal(ex.status, 0, ex.stderr);
  const names = [...readNpz(new Uint8Array(readFileSync(join(dir, 'base.npz'))), 'base.npz').keys()];
  assert.ok(names.includes('block0.bn.running_mean') && names.some((n) => n.endsWith('.weight')), names.join(','));

  const env = { ...process.env, PATH: `${join(FLWR_VENV, 'bin')}:${process.env['PATH']}`, FLWR_HOME: join(dir, 'flwr-home') };
  const port = await freePort();
  mkdirSync(env.FLWR_HOME, { recursive: true });
  writeFileSync(join(env.FLWR_HOME, 'config.toml'), `[superlink]\ndefault = "local"\n[superlink.local]\naddress = "127.0.0.1:${port}"\ninsecure = true\n`);
  const superlink = spawn(join(FLWR_VENV, 'bin', 'flower-superlink'), ['--insecure', '--host', '127.0.0.1', '--port', String(port), '--disable-runtime-dependency-installation'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let linkLog = '';
  superlink.stderr!.on('data', (d: Buffer) => { linkLog += d.toString(); });
  const proxy = await recordingProxy(port);
  const siteProcs: ChildProcess[] = [];
  try {
    await waitForPort(port, 30_000);
    const run = spawnSync(join(FLWR_VENV, 'bin', 'flwr'), ['run', join(REPO, 'federated/flower-app'), 'local', '--run-config',
      `initial-arrays="${join(dir, 'base.npz')}" out="${join(dir, 'global.npz')}" num-rounds=2 lr=0.003 local-epochs=2 strategy="fedavg"`], { env, encoding: 'utf8', timeout: 60_000 });
    assert.match(run.stdout + run.stderr, /Successfully started run (\d+)/, run.stdout + run.stderr);
    const logs = ['', ''];
    sites.forEach((manifest, i) => {
      const p = spawn(process.execPath, [...CLI, 'federate', 'site', '--superlink', `http://127.0.0.1:${proxy.port}`, '--data', manifest, '--model', join(dir, 'base'),
        '--threads', '1', '--exit-after-run', '--poll-seconds', '1', '--state-dir', join(dir, `state-${i}`)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stderr!.on('data', (d: Buffer) => { logs[i] += d.toString(); });
      p.stdout!.on('data', (d: Buffer) => { logs[i] += d.toString(); });
      siteProcs.push(p);
    });
    const codes = await Promise.all(siteProcs.map((p) => exited(p, 180_000)));
    assert.deepEqual(codes, [0, 0], `site logs:\n${logs.join('\n----\n')}\nsuperlink:\n${linkLog.slice(-3000)}`);
    for (const l of logs) {
      assert.match(l, /train round 2: 36 examples/);
      assert.match(l, /evaluate round 2: 12 examples/);
      assert.match(l, /left the federation/);
    }
    // The ServerApp wrote its result only if it received every reply (a rejected reply is dropped silently).
    for (let i = 0; i < 100 && !existsSync(join(dir, 'global.npz.json')); i++) await new Promise((r) => setTimeout(r, 200));
    const history = JSON.parse(readFileSync(join(dir, 'global.npz.json'), 'utf8')) as { train: Record<string, Record<string, number>>; evaluate: Record<string, Record<string, number>> };
    assert.deepEqual(Object.keys(history.train).sort(), ['1', '2']);
    assert.ok(Number.isFinite(history.train['2']!['loss']) && Number.isFinite(history.evaluate['2']!['auroc']));

    // Everything pushed: only Flower object types, only arrays of the model and aggregate metrics.
    const ALLOWED_METRICS = new Set(['num-examples', 'num-eval-examples', 'loss', 'auroc']);
    const replies = proxy.rec.messages;
    assert.equal(replies.length, 8, 'two sites × (2 train + 2 evaluate) replies');
    assert.ok(proxy.rec.pushedObjects.size > 0);
    for (const [id, bytes] of proxy.rec.pushedObjects) {
      assert.equal(createHash('sha256').update(bytes).digest('hex'), id);
      const text = Buffer.from(bytes).toString('latin1');
      for (const bad of ['PHI-', '.png', 'img/', 'abnormal', 'site', 'patient']) assert.ok(!text.includes(bad), `pushed object ${id} contains "${bad}"`);
      const o = parseObject(bytes, id);
      assert.ok(['Message', 'RecordDict', 'ArrayRecord', 'Array', 'ArrayChunk', 'MetricRecord'].includes(o.type), `pushed a ${o.type}`);
      if (o.type === 'MetricRecord') {
        const m = decode<{ items: { key: string }[] }>('MetricRecord', o.body);
        for (const it of m.items) assert.ok(ALLOWED_METRICS.has(it.key), `metric ${it.key}`);
      }
      if (o.type === 'ArrayRecord') assert.deepEqual(Object.keys(JSON.parse(Buffer.from(o.body).toString('utf8')) as object), names);
      if (o.type === 'RecordDict') for (const k of Object.keys(JSON.parse(Buffer.from(o.body).toString('utf8')) as object)) assert.ok(k === 'arrays' || k === 'metrics', `record ${k}`);
    }

    // global = Σ n_i w_i / Σ n_i over the round-2 train replies.
    // Rounds run one after another (stock FedAvg leaves group_id empty): the last two train replies are round 2's.
    const trains = replies.filter((r) => r.metadata['message_type'] === 'train');
    assert.equal(trains.length, 4);
    const round2 = trains.slice(2);
    const siteArrays = round2.map((r) => {
      const objs = new Map(r.objectIds.map((id) => [id, proxy.rec.pushedObjects.get(id)]));
      const get = (id: string) => { const b = objs.get(id); assert.ok(b, `object ${id} of a train reply was never pushed`); return parseObject(b, id); };
      const msg = get(r.objectIds[0]!);
      const rd = JSON.parse(Buffer.from(get(msg.children[0]!).body).toString('utf8')) as Record<string, string>;
      const ar = JSON.parse(Buffer.from(get(rd['arrays']!).body).toString('utf8')) as Record<string, string>;
      const metricBody = get(rd['metrics']!).body;
      const n = Number((decode<{ items: { key: string; value: { sint64?: string } }[] }>('MetricRecord', metricBody).items.find((i) => i.key === 'num-examples')!.value.sint64));
      const values = new Map(Object.entries(ar).map(([name, aid]) => {
        const a = get(aid);
        const data = Buffer.concat(a.children.map((c) => Buffer.from(get(c).body)));
        const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
        const hlen = dv.getUint16(8, true);
        const f = new Float32Array((data.length - 10 - hlen) / 4);
        for (let i = 0; i < f.length; i++) f[i] = dv.getFloat32(10 + hlen + 4 * i, true);
        return [name, f] as const;
      }));
      return { n, values };
    });
    const global = readNpz(new Uint8Array(readFileSync(join(dir, 'global.npz'))), 'global.npz');
    const total = siteArrays.reduce((s, x) => s + x.n, 0);
    for (const name of names) {
      const g = global.get(name)!.data;
      for (let i = 0; i < g.length; i++) {
        const want = siteArrays.reduce((s, x) => s + x.n * x.values.get(name)![i]!, 0) / total;
        assert.ok(Math.abs(g[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${name}[${i}]: global ${g[i]} vs FedAvg ${want}`);
      }
    }

    const im = cli(['federate', 'import-arrays', '--model', join(dir, 'base'), '--arrays', join(dir, 'global.npz'), '--out', join(dir, 'federated')]);
    assert.equal(im.status, 0, im.stderr);
    const pr = cli(['predict', '--model', join(dir, 'federated'), '--data', all, '--out', join(dir, 'preds.csv'), '--threads', '1', '--no-ood-gate']);
    assert.equal(pr.status, 0, pr.stderr);
    const preds = readCsv(join(dir, 'preds.csv'));
    assert.ok(preds.header.includes('score_abnormal'), preds.header.join(','));
    const scores = preds.rows.map((r) => Number(r['score_abnormal']));
    assert.equal(scores.length, 96);
    assert.ok(scores.every((s) => s >= 0 && s <= 1));
    const auc = auroc(scores, preds.rows.map((r) => (r['label'] === 'abnormal' ? 1 : 0)));
    assert.ok(auc > 0.7, `federated model AUROC ${auc}`);
  } finally {
    for (const p of siteProcs) if (p.exitCode === null) p.kill('SIGKILL');
    superlink.kill('SIGTERM');
    await exited(superlink, 10_000);
    if (superlink.exitCode === null) superlink.kill('SIGKILL');
    proxy.server.close();
  }
});
