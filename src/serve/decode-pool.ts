/**
 * A small pool of worker threads that validate, decode and preprocess inputs (DICOM or PNG/JPEG),
 * so concurrent inference requests use every core for the JavaScript-heavy part while the main
 * thread runs HTTP and ONNX Runtime. The queue is bounded: past `maxQueued` waiting decodes a call
 * fails at once with DecodeQueueFullError (503 + Retry-After) instead of piling up memory. Errors come back as the same typed errors (InputError,
 * UnsupportedError) the main-thread path throws.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DicomHeader } from '../data/dicom/index.js';
import type { GreyImage } from '../data/grey-image.js';
import type { PreprocessingSpec } from '../data/preprocess/index.js';
import type { HeaderProfile } from '../robustness/header-checks.js';
import { InputError, RadmlError, UnsupportedError } from '../util/errors.js';
import { QueueFullError } from '../store/store.js';
import type { Selection } from './config.js';
import type { DecodeRequest } from './decode-worker.js';

export interface PooledDecode {
  format: 'png' | 'jpeg' | 'dicom';
  header?: DicomHeader;
  columns: Record<string, string>;
  /** Model input (channels × size × size). */
  input: Float32Array;
  image?: GreyImage;
}

type Reply = { id: number; ok: true } & PooledDecode | { id: number; ok: false; error: { kind: string; code: string; message: string; file?: string } };

/** The worker file next to this one: compiled .js, or .ts through a tsx bootstrap (as train/pool.ts does). */
export function startWorker(file = 'decode-worker', workerData?: unknown): Worker {
  const self = fileURLToPath(import.meta.url);
  const data = workerData === undefined ? {} : { workerData };
  if (!self.endsWith('.ts')) return new Worker(new URL(`./${file}.js`, import.meta.url), { execArgv: process.execArgv, ...data });
  const entry = new URL(`./${file}.ts`, import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, execArgv: process.execArgv, ...data });
}

/** A typed error sent from a worker thread ({ kind, code, message, file }), thrown again as its class. */
export function rethrow(e: { kind: string; code: string; message: string; file?: string }): never {
  const opts = e.file !== undefined ? { file: e.file } : {};
  if (e.kind === 'UnsupportedError') throw new UnsupportedError(e.code, e.message, opts);
  if (e.kind === 'InputError' || e.kind === 'ManifestError') throw new InputError(e.code, e.message, opts);
  throw new RadmlError(e.code, e.message, opts);
}

/** Every decode thread is busy and `maxQueued` more wait: answered 503 with Retry-After. */
export class DecodeQueueFullError extends QueueFullError {
  constructor(waiting: number, limit: number) {
    super(waiting, limit, 1);
    this.message = `${waiting} images are waiting to be decoded, the limit is ${limit} (config decodeQueue); try again shortly`;
  }
}

export class DecodePool {
  private workers: { w: Worker; busy: number; ready: Promise<void> }[] = [];
  private readonly pending = new Map<number, { resolve: (r: PooledDecode) => void; reject: (e: unknown) => void; w: Worker }>();
  private next = 1;

  /** `size` threads; beyond one running decode per thread, at most `maxQueued` wait (then DecodeQueueFullError). */
  constructor(private readonly size: number, private readonly maxQueued = Number.POSITIVE_INFINITY, private readonly defaults: { maxInflatedBytes?: number } = {}) {}

  private running = 0;

  /** Decodes running or waiting. */
  get inFlight(): number {
    return this.running;
  }

  private ensure(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.size; i++) this.workers.push(this.spawn());
  }

  private spawn(): { w: Worker; busy: number; ready: Promise<void> } {
    {
      const w = startWorker();
      w.unref();
      const ready = new Promise<void>((res, rej) => {
        w.once('error', rej);
        const first = (m: { ready?: boolean }) => {
          if (m.ready) {
            w.off('message', first);
            res();
          }
        };
        w.on('message', first);
      });
      w.on('message', (m: Reply | { ready: true }) => {
        if ('ready' in m) return;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        const slot = this.workers.find((x) => x.w === w);
        if (slot) slot.busy--;
        if (m.ok) p.resolve(m);
        else {
          try {
            rethrow(m.error);
          } catch (e) {
            p.reject(e);
          }
        }
      });
      w.on('error', (e) => {
        // Only this thread's decodes fail; the thread is replaced on the next call.
        for (const [id, p] of this.pending) {
          if (p.w !== w) continue;
          p.reject(new RadmlError('DECODE_WORKER', `decode worker failed: ${e.message}`));
          this.pending.delete(id);
        }
        const i = this.workers.findIndex((x) => x.w === w);
        if (i >= 0) this.workers[i] = this.spawn();
      });
      return { w, busy: 0, ready };
    }
  }

  /**
   * Validate, decode and preprocess one input on the least busy worker.
   * @example const d = await pool.decode(bytes, 'upload', { selection, preprocessing: meta.preprocessing, channels: 1 });
   */
  async decode(bytes: Uint8Array, name: string, o: { selection?: Selection; headerProfile?: HeaderProfile | null; preprocessing: PreprocessingSpec; channels: number; wantImage?: boolean; maxInflatedBytes?: number; unbounded?: boolean }): Promise<PooledDecode> {
    // PACS jobs pass `unbounded`: their number is already capped by worker.concurrency, and a full
    // queue must make them wait, not spend an attempt.
    const waiting = this.running - this.size;
    if (!o.unbounded && waiting >= this.maxQueued) throw new DecodeQueueFullError(waiting, this.maxQueued);
    this.running++; // counted before any await, so a burst of callers sees itself
    try {
      return await this.run(bytes, name, o);
    } finally {
      this.running--;
    }
  }

  private async run(bytes: Uint8Array, name: string, o: { selection?: Selection; headerProfile?: HeaderProfile | null; preprocessing: PreprocessingSpec; channels: number; wantImage?: boolean; maxInflatedBytes?: number }): Promise<PooledDecode> {
    this.ensure();
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++; // before any await, so concurrent callers spread over the workers
    await slot.ready;
    const id = this.next++;
    const copy = new Uint8Array(bytes); // transfer a private copy; the caller keeps its buffer
    const req: DecodeRequest = {
      id, bytes: copy, name, selection: o.selection, headerProfile: o.headerProfile ?? null,
      preprocessing: o.preprocessing, channels: o.channels, wantImage: o.wantImage ?? false,
      ...((o.maxInflatedBytes ?? this.defaults.maxInflatedBytes) !== undefined ? { maxInflatedBytes: o.maxInflatedBytes ?? this.defaults.maxInflatedBytes } : {}),
    };
    return new Promise<PooledDecode>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, w: slot.w });
      slot.w.postMessage(req, [copy.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((x) => x.w.terminate()));
  }
}
