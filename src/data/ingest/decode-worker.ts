/**
 * Worker-thread side of the ingest pool (pool.ts): decodes cache entries off the main thread. The
 * WASM codecs are initialised once, when the worker starts, and reused for every image it decodes.
 */
import { parentPort } from 'node:worker_threads';
import { preloadCodecs } from '../dicom/codecs/wasm.js';
import { RadmlError, errorMessage } from '../../util/errors.js';
import { decodeCacheEntry, type CacheEntryRequest } from './decode.js';

export interface WorkerRequest extends CacheEntryRequest {
  id: number;
}

export type WorkerReply =
  | { id: number; ok: true; pixels: Uint16Array; mask?: Uint8Array; columns: Record<string, string> }
  | { id: number; ok: false; message: string; code: string; typed: boolean };

async function handle(req: WorkerRequest): Promise<void> {
  try {
    const e = await decodeCacheEntry(req);
    const transfer: ArrayBuffer[] = [e.pixels.buffer as ArrayBuffer];
    if (e.mask) transfer.push(e.mask.buffer as ArrayBuffer);
    const reply: WorkerReply = { id: req.id, ok: true, pixels: e.pixels, columns: e.columns, ...(e.mask && { mask: e.mask }) };
    parentPort!.postMessage(reply, transfer);
  } catch (err) {
    const reply: WorkerReply = { id: req.id, ok: false, message: errorMessage(err), code: err instanceof RadmlError ? err.code : 'INGEST_DECODE', typed: err instanceof RadmlError };
    parentPort!.postMessage(reply);
  }
}

await preloadCodecs();
parentPort!.on('message', (req: WorkerRequest) => void handle(req));
parentPort!.postMessage({ ready: true });
