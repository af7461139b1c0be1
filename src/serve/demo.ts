/**
 * The service as `radml demo` leaves it running: a local store and registry under a work folder,
 * the demo model registered and made champion, and fresh tokens for each role. Prints nothing.
 */
import { join } from 'node:path';
import { generateToken, hashToken } from './auth.js';
import { parseServeConfig } from './config.js';
import { startService } from './service.js';
import type { Role } from '../store/schema.js';

export interface DemoServiceOptions {
  /** A model folder (model.onnx + model.json). */
  modelDir: string;
  /** Work folder for the store and the registry. */
  dir: string;
  /** Registry name of the model (default "demo"). */
  name?: string;
  host?: string;
  /** 0 picks a free port (default 8470, falling back to a free one when taken). */
  port?: number;
  /** Orthanc to watch, if the demo started one. */
  orthancUrl?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface DemoService {
  url: string;
  /** One token per role, shown once. */
  tokens: Record<Role, string>;
  model: { name: string; version: number };
  stop(): Promise<void>;
}

/**
 * @example
 * const svc = await startDemoService({ modelDir: 'out/model', dir: 'out/serve' });
 * console.log(`${svc.url}/openapi.json  token: ${svc.tokens.radiologist}`); await svc.stop();
 */
export async function startDemoService(opts: DemoServiceOptions): Promise<DemoService> {
  const tokens = { admin: generateToken(), radiologist: generateToken(), service: generateToken() } as Record<Role, string>;
  const extraTokens = (Object.keys(tokens) as Role[]).map((role) => ({ name: `demo-${role}`, role, sha256: hashToken(tokens[role]) }));
  const make = (port: number) => parseServeConfig({
    listen: { host: opts.host ?? '127.0.0.1', port },
    store: join(opts.dir, 'radml.db'),
    modelsDir: join(opts.dir, 'models'),
    tokensFile: join(opts.dir, 'tokens.json'),
    ...(opts.orthancUrl ? { orthanc: { url: opts.orthancUrl, startFrom: 'beginning', pollIntervalMs: 1000 } } : {}),
    logLevel: 'silent',
  }, opts.dir);
  let svc;
  try {
    svc = await startService(make(opts.port ?? 8470), { extraTokens, ...(opts.log ? { log: opts.log } : {}) });
  } catch (e) {
    if ((e as { code?: string }).code !== 'EADDRINUSE' || opts.port !== undefined) throw e;
    svc = await startService(make(0), { extraTokens, ...(opts.log ? { log: opts.log } : {}) });
  }
  try {
    const name = opts.name ?? 'demo';
    const { model } = await svc.registry.registerFolder(name, opts.modelDir, 'demo');
    await svc.registry.setStatus(model.name, model.version, 'champion');
    await svc.store.appendAudit({ actor: 'demo', action: 'model.activate', subject: `${model.name}@${model.version}`, details: { status: 'champion' } });
    return { url: svc.url, tokens, model: { name: model.name, version: model.version }, stop: () => svc.stop() };
  } catch (e) {
    await svc.stop();
    throw e;
  }
}
