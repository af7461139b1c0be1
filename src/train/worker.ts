/**
 * Gradient worker thread: owns one single-threaded ORT gradient session and computes the
 * gradients of its shard of each batch. Parameters, pixels and targets are read from
 * SharedArrayBuffers set up by GradientPool; gradients are written into this worker's slice of
 * the shared gradient buffer. Protocol: see pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { GradientSession, type ParamSet } from '../engine/index.js';
import { paramViews, runShard, type ShardData } from './shard.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './pool.js';

if (!parentPort) throw new Error('radml gradient worker must run as a worker thread');
const port = parentPort;

let session: GradientSession | undefined;
let params: ParamSet | undefined;
let data: ShardData | undefined;
let grads: Float32Array | undefined;

port.on('message', (msg: WorkerInit | WorkerRequest) => {
  void handle(msg).then(
    (reply) => reply && port.postMessage(reply),
    (e: unknown) => port.postMessage({ type: 'error', id: 'id' in msg ? msg.id : -1, message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerReply),
  );
});

async function handle(msg: WorkerInit | WorkerRequest): Promise<WorkerReply | undefined> {
  if (msg.type === 'init') {
    session = await GradientSession.create(msg.trainingGraph, { threads: 1 });
    params = paramViews(msg.layout, new Float32Array(msg.paramBuffer));
    data = {
      pipe: msg.pipe,
      pixels: new Uint16Array(msg.pixelBuffer),
      target: new Float32Array(msg.targetBuffer),
      mask: new Float32Array(msg.maskBuffer),
      weight: new Float32Array(msg.weightBuffer),
      numOutputs: msg.numOutputs,
      lossKind: msg.lossKind,
    };
    grads = new Float32Array(msg.gradBuffer, msg.gradOffset * 4, msg.layout.trainableLength);
    return { type: 'ready', id: msg.id };
  }
  if (msg.type === 'step') {
    if (!session || !params || !data || !grads) throw new Error('worker used before init');
    const r = await runShard(session, params, data, msg.request, grads);
    return { type: 'step', id: msg.id, result: r };
  }
  if (msg.type === 'close') {
    await session?.release();
    session = undefined;
    return { type: 'closed', id: msg.id };
  }
  return undefined;
}
