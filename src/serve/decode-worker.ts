/**
 * Worker-thread side of DecodePool: header checks, pixel decoding and preprocessing of one input
 * off the main thread, so the HTTP loop keeps answering while images are decoded on other cores.
 */
import { parentPort } from 'node:worker_threads';
import { applyPreprocessing, type PreprocessingSpec } from '../data/preprocess/index.js';
import { checkHeader, fieldsFromHeader, type HeaderProfile } from '../robustness/header-checks.js';
import { InputError, RadmlError, UnsupportedError, errorMessage } from '../util/errors.js';
import type { Selection } from './config.js';
import { decodeInput } from './input.js';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  name: string;
  selection: Selection | undefined;
  headerProfile: HeaderProfile | null;
  preprocessing: PreprocessingSpec;
  channels: number;
  wantImage: boolean;
  maxInflatedBytes?: number;
}

async function handle(req: DecodeRequest): Promise<void> {
  try {
    const headerCheck = req.headerProfile ? (h: Parameters<typeof fieldsFromHeader>[0]) => checkHeader(fieldsFromHeader(h), req.headerProfile!) : undefined;
    const d = await decodeInput(req.bytes, req.name, req.selection, headerCheck, req.maxInflatedBytes !== undefined ? { maxInflatedBytes: req.maxInflatedBytes } : {});
    const plane = applyPreprocessing(req.preprocessing, d.image);
    const input = new Float32Array(plane.length * req.channels);
    for (let c = 0; c < req.channels; c++) input.set(plane, c * plane.length);
    const transfer: ArrayBuffer[] = [input.buffer as ArrayBuffer];
    if (req.wantImage) transfer.push(d.image.data.buffer as ArrayBuffer);
    parentPort!.postMessage({
      id: req.id, ok: true, format: d.format, header: d.header, columns: d.columns, input,
      image: req.wantImage ? d.image : undefined,
    }, transfer);
  } catch (e) {
    parentPort!.postMessage({
      id: req.id, ok: false,
      // The base class decides the HTTP status on the other side (subclasses such as DicomInflateLimitError are InputErrors).
      error: { kind: e instanceof UnsupportedError ? 'UnsupportedError' : e instanceof InputError ? 'InputError' : e instanceof RadmlError ? 'RadmlError' : 'Error', code: e instanceof RadmlError ? e.code : 'DECODE_FAILED', message: errorMessage(e), file: e instanceof RadmlError ? e.file : undefined },
    });
  }
}

parentPort!.on('message', (req: DecodeRequest) => void handle(req));
parentPort!.postMessage({ ready: true });
