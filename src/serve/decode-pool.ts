/**
 * A small pool of worker threads that validate, decode and preprocess inputs (DICOM or PNG/JPEG),
 * so concurrent inference requests use every core for the JavaScript-heavy part while the main
 * thread runs HTTP and ONNX Runtime. Errors come back as the same typed errors (InputError,
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
function startWorker(): Worker {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(new URL('./decode-worker.js', import.meta.url), { execArgv: process.execArgv });
  const entry = new URL('./decode-worker.ts', import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, execArgv: process.execArgv });
}

function rethrow(e: { kind: string; code: string; message: string; file?: string }): never {
  const opts = e.file !== undefined ? { file: e.file } : {};
  if (e.kind === 'UnsupportedError') throw new UnsupportedError(e.code, e.message, opts);
  if (e.kind === 'InputError' || e.kind === 'ManifestError') throw new InputError(e.code, e.message, opts);
  throw new RadmlError(e.code, e.message, opts);
}

export class DecodePool {
  private workers: { w: Worker; busy: number; ready: Promise<void> }[] = [];
  private readonly pending = new Map<number, { resolve: (r: PooledDecode) => void; reject: (e: unknown) => void }>();
  private next = 1;

  constructor(private readonly size: number) {}

  private ensure(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.size; i++) {
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
        for (const [id, p] of this.pending) {
          p.reject(new RadmlError('DECODE_WORKER', `decode worker failed: ${e.message}`));
          this.pending.delete(id);
        }
      });
      this.workers.push({ w, busy: 0, ready });
    }
  }

  /**
   * Validate, decode and preprocess one input on the least busy worker.
   * @example const d = await pool.decode(bytes, 'upload', { selection, preprocessing: meta.preprocessing, channels: 1 });
   */
  async decode(bytes: Uint8Array, name: string, o: { selection?: Selection; headerProfile?: HeaderProfile | null; preprocessing: PreprocessingSpec; channels: number; wantImage?: boolean }): Promise<PooledDecode> {
    this.ensure();
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++; // before any await, so concurrent callers spread over the workers
    await slot.ready;
    const id = this.next++;
    const copy = new Uint8Array(bytes); // transfer a private copy; the caller keeps its buffer
    const req: DecodeRequest = {
      id, bytes: copy, name, selection: o.selection, headerProfile: o.headerProfile ?? null,
      preprocessing: o.preprocessing, channels: o.channels, wantImage: o.wantImage ?? false,
    };
    return new Promise<PooledDecode>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.w.postMessage(req, [copy.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((x) => x.w.terminate()));
  }
}
