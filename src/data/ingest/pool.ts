/**
 * Worker threads for ingest: DICOM/raster decoding is JavaScript and WASM on one thread per image,
 * so a pool of threads decodes several images at once on several cores. Each worker initialises the
 * WASM codecs once (decode-worker.ts). A worker that dies fails only the image it was decoding (the
 * ingest skips it with the reason) and is replaced.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RadmlError } from '../../util/errors.js';
import type { CacheEntry, CacheEntryRequest } from './decode.js';
import type { WorkerReply, WorkerRequest } from './decode-worker.js';

/** The worker file next to this one: compiled .js, or .ts through a tsx bootstrap (as train/pool.ts does). */
function startWorker(): Worker {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(new URL('./decode-worker.js', import.meta.url), { execArgv: process.execArgv });
  const entry = new URL('./decode-worker.ts', import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, execArgv: process.execArgv });
}

interface Slot {
  w: Worker;
  ready: Promise<void>;
  /** The request it is decoding, if any. */
  current?: { id: number; resolve: (e: CacheEntry) => void; reject: (e: unknown) => void };
}

/** A failure inside a worker, carried back with the reader's message (it names the file). */
export class IngestDecodeError extends RadmlError {}

export class IngestPool {
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiting: { req: CacheEntryRequest; resolve: (e: CacheEntry) => void; reject: (e: unknown) => void }[] = [];
  private next = 1;
  private closed = false;

  /**
   * `size` worker threads, started now.
   *
   * @example const pool = new IngestPool(2); const e = await pool.decode(req); await pool.close();
   */
  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const w = startWorker();
    const slot: Slot = { w, ready: Promise.resolve() };
    slot.ready = new Promise<void>((res, rej) => {
      const first = (m: { ready?: boolean }) => {
        if (m.ready) {
          w.off('message', first);
          res();
        }
      };
      w.on('message', first);
      w.once('error', rej);
    });
    slot.ready.then(() => this.release(slot), () => undefined);
    w.on('message', (m: WorkerReply | { ready: true }) => {
      if ('ready' in m) return;
      const cur = slot.current;
      if (!cur || cur.id !== m.id) return;
      slot.current = undefined;
      if (m.ok) cur.resolve({ pixels: m.pixels, columns: m.columns, ...(m.mask && { mask: m.mask }) });
      else cur.reject(new IngestDecodeError(m.code, m.message));
      this.release(slot);
    });
    w.on('error', (e) => this.replace(slot, `decode worker failed: ${e.message}`));
    w.on('exit', (code) => {
      if (!this.closed) this.replace(slot, `decode worker exited with code ${code}`);
    });
    return slot;
  }

  private replace(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    slot.current?.reject(new IngestDecodeError('INGEST_WORKER', why));
    slot.current = undefined;
    const k = this.idle.indexOf(slot);
    if (k >= 0) this.idle.splice(k, 1);
    void slot.w.terminate();
    if (!this.closed) this.slots[i] = this.spawn();
    else this.slots.splice(i, 1);
  }

  private release(slot: Slot): void {
    if (!this.slots.includes(slot)) return;
    const job = this.waiting.shift();
    if (!job) {
      this.idle.push(slot);
      return;
    }
    this.run(slot, job);
  }

  private run(slot: Slot, job: { req: CacheEntryRequest; resolve: (e: CacheEntry) => void; reject: (e: unknown) => void }): void {
    const id = this.next++;
    slot.current = { id, resolve: job.resolve, reject: job.reject };
    const msg: WorkerRequest = { ...job.req, id };
    slot.w.postMessage(msg);
  }

  /** Decode one cache entry on the next free worker. */
  decode(req: CacheEntryRequest): Promise<CacheEntry> {
    if (this.closed) return Promise.reject(new IngestDecodeError('INGEST_WORKER', 'the ingest pool is closed'));
    return new Promise<CacheEntry>((resolve, reject) => {
      const slot = this.idle.shift();
      if (slot) this.run(slot, { req, resolve, reject });
      else this.waiting.push({ req, resolve, reject });
    });
  }

  /** Stop every worker (pending decodes are rejected). */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.waiting.splice(0)) j.reject(new IngestDecodeError('INGEST_WORKER', 'the ingest pool was closed'));
    await Promise.all(this.slots.map((s) => s.w.terminate()));
  }
}
