/**
 * Worker-thread side of verifyModelOffThread: open an uploaded model folder once (every artefact's
 * SHA-256 read and checked, the ONNX loaded by the engine) so the hashing of hundreds of MB and the
 * session creation never block the HTTP loop; replies with what the registry records.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InputError, RadmlError, UnsupportedError, errorMessage } from '../util/errors.js';
import { ModelRunner } from './runner.js';

const { dir, threads } = workerData as { dir: string; threads: number };
try {
  const r = await ModelRunner.load(dir, { threads });
  const reply = { ok: true, onnxSha256: r.onnxSha256, classes: r.meta.classes };
  await r.release();
  parentPort!.postMessage(reply);
} catch (e) {
  parentPort!.postMessage({
    ok: false,
    error: { kind: e instanceof UnsupportedError ? 'UnsupportedError' : e instanceof InputError ? 'InputError' : 'RadmlError', code: e instanceof RadmlError ? e.code : 'MODEL_LOAD', message: errorMessage(e), file: e instanceof RadmlError ? e.file : undefined },
  });
}
