/**
 * Inference export (plain ONNX, BatchNorm folded into the preceding conv) and InferenceModel,
 * a thin typed wrapper over an ORT session for any classifier with one [N,C,H,W] input.
 */
import * as ort from 'onnxruntime-node';
import { InputError } from '../util/errors.js';
import { checkParams } from './compile.js';
import { consumers, finishGraph, type LayerGraph, type LayerNode, type NamedTensor, type ParamSet } from './graph.js';
import { emitForward } from './layers.js';
import { onnx, OnnxGraphBuilder } from './onnx-builder.js';
import { sessionOptions } from './session.js';

/**
 * Folds every BatchNorm whose input is a conv read by nothing else into that conv's weights and
 * bias (inference behaviour: running statistics). Returns an equivalent graph and parameters.
 *
 * @example const { graph: g2, params: p2 } = foldBatchNorm(graph, params); // g2 has no conv-fed BN
 */
export function foldBatchNorm(graph: LayerGraph, params: ParamSet): { graph: LayerGraph; params: ParamSet } {
  checkParams(graph, params);
  const users = consumers(graph);
  const byName = new Map<string, NamedTensor>();
  for (const t of [...params.trainable, ...params.buffers]) byName.set(t.name, t);
  const convs = new Map(graph.nodes.filter((n) => n.op === 'conv2d').map((n) => [n.name, n]));
  const rename = new Map<string, string>();
  const replaced = new Map<string, NamedTensor[]>(); // conv name → new [weight, bias]
  const dropped = new Set<string>();
  for (const n of graph.nodes) {
    if (n.op !== 'batchnorm2d') continue;
    const src = n.inputs[0]!;
    const conv = convs.get(src);
    if (!conv || conv.op !== 'conv2d' || (users.get(src) ?? []).length !== 1 || src === graph.output) continue;
    const w = byName.get(`${conv.name}.weight`)!;
    const bias = conv.bias ? byName.get(`${conv.name}.bias`)!.data : null;
    const gamma = byName.get(`${n.name}.weight`)!.data, beta = byName.get(`${n.name}.bias`)!.data;
    const rm = byName.get(`${n.name}.running_mean`)!.data, rv = byName.get(`${n.name}.running_var`)!.data;
    const o = conv.outChannels;
    const per = w.data.length / o;
    const nw = new Float32Array(w.data.length);
    const nb = new Float32Array(o);
    for (let c = 0; c < o; c++) {
      const scale = gamma[c]! / Math.sqrt(rv[c]! + n.eps);
      for (let i = 0; i < per; i++) nw[c * per + i] = w.data[c * per + i]! * scale;
      nb[c] = ((bias ? bias[c]! : 0) - rm[c]!) * scale + beta[c]!;
    }
    replaced.set(conv.name, [
      { name: `${conv.name}.weight`, shape: w.shape.slice(), data: nw },
      { name: `${conv.name}.bias`, shape: [o], data: nb },
    ]);
    rename.set(n.name, conv.name);
    dropped.add(n.name);
  }
  const nodes: LayerNode[] = [];
  for (const n of graph.nodes) {
    if (dropped.has(n.name)) continue;
    const copy = { ...n, inputs: n.inputs.map((i) => rename.get(i) ?? i) } as LayerNode;
    if (copy.op === 'conv2d' && replaced.has(copy.name)) copy.bias = true;
    nodes.push(copy);
  }
  const output = rename.get(graph.output) ?? graph.output;
  const g2 = finishGraph(graph.inputShape, nodes, output);
  const trainable = g2.params.map((p) => {
    const conv = p.name.slice(0, p.name.lastIndexOf('.'));
    const r = replaced.get(conv);
    if (r) return p.name.endsWith('.weight') ? r[0]! : r[1]!;
    return byName.get(p.name)!;
  });
  const buffers = g2.buffers.map((b) => byName.get(b.name)!);
  return { graph: g2, params: { trainable, buffers } };
}

export interface ExportOptions {
  /** Also output `probabilities` (default 'logits+probabilities'). */
  outputs?: 'logits' | 'logits+probabilities';
  /** softmax for softmax_ce models, sigmoid for bce_logits (multi-label) models. Default softmax. */
  activation?: 'softmax' | 'sigmoid';
}

/**
 * Standard inference ONNX: input `input` [N,C,H,W] float32, outputs `logits` [N,K] and
 * `probabilities` [N,K]. BatchNorm folded, dropout removed, parameters embedded.
 *
 * @example
 *   const bytes = exportInferenceModel(graph, params, { activation: 'softmax' });
 *   const m = await InferenceModel.load(bytes);
 */
export function exportInferenceModel(graph: LayerGraph, params: ParamSet, opts: ExportOptions = {}): Uint8Array {
  const folded = foldBatchNorm(graph, params);
  const g = folded.graph;
  const b = new OnnxGraphBuilder('radml_inference');
  const x = b.input('input', ['N', ...g.inputShape]);
  for (const t of folded.params.trainable) b.initializer(t.name, t.shape, t.data);
  for (const t of folded.params.buffers) b.initializer(t.name, t.shape, t.data);
  const fwd = emitForward({
    b, graph: g, mode: 'eval', param: (n) => n, buffer: (n) => n,
    dropoutMask: () => { throw new Error('internal: no dropout at inference'); },
  }, x);
  const logits = fwd.values.get(g.output)!;
  const k = g.numOutputs;
  b.output(logits, 'logits', ['N', k]);
  if ((opts.outputs ?? 'logits+probabilities') === 'logits+probabilities') {
    const probs = (opts.activation ?? 'softmax') === 'softmax' ? b.op('Softmax', [logits], { axis: 1 }) : b.op('Sigmoid', [logits]);
    b.output(probs, 'probabilities', ['N', k]);
  }
  return b.toBytes();
}

/** Reads the fixed [C,H,W] of an ONNX model's first input, when the file states it. */
function declaredInputShape(bytes: Uint8Array): { name: string; shape: number[] } {
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new InputError('ONNX_INVALID', `not a readable ONNX model (${(e as Error).message})`);
  }
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  const first = (model.graph?.input ?? []).find((i) => !inits.has(i.name ?? ''));
  if (!first) throw new InputError('ONNX_INVALID', 'the ONNX model has no input');
  const dims = first.type?.tensorType?.shape?.dim ?? [];
  const shape = dims.slice(1).map((d) => (d.dimValue != null ? Number(d.dimValue) : -1));
  return { name: first.name ?? 'input', shape: shape.every((d) => d > 0) ? shape : [] };
}

/**
 * A loaded classifier.
 *
 * @example
 *   const m = await InferenceModel.load(bytes, { threads: 2 });
 *   const { logits, probabilities } = await m.run(x, 8);
 *   await m.release();
 */
export class InferenceModel {
  private constructor(
    private session: ort.InferenceSession,
    readonly inputName: string,
    readonly inputShape: number[],
  ) {}

  static async load(bytes: Uint8Array, opts: { threads?: number } = {}): Promise<InferenceModel> {
    const { name, shape } = declaredInputShape(bytes);
    let s: ort.InferenceSession;
    try {
      s = await ort.InferenceSession.create(bytes, sessionOptions(opts.threads ?? 1));
    } catch (e) {
      throw new InputError('ONNX_INVALID', `ONNX Runtime cannot load the model: ${(e as Error).message}`);
    }
    return new InferenceModel(s, name, shape);
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs a batch; `x` is [batch, ...inputShape] (inputShape must be known or given). */
  async run(x: Float32Array, batch: number, shape: number[] = this.inputShape): Promise<{ logits: Float32Array; probabilities?: Float32Array }> {
    if (shape.length === 0) throw new InputError('INPUT_SHAPE_UNKNOWN', 'the model does not declare its input shape; pass it to run()');
    const per = shape.reduce((a, c) => a * c, 1);
    if (!Number.isInteger(batch) || batch < 1 || x.length !== batch * per) {
      throw new InputError('BATCH_INVALID', `x has ${x.length} values, expected ${batch} × ${per}`);
    }
    const out = await this.session.run({ [this.inputName]: new ort.Tensor('float32', x, [batch, ...shape]) });
    const names = this.session.outputNames;
    const logits = (out.logits ?? out[names[0]!]!).data as Float32Array;
    const r: { logits: Float32Array; probabilities?: Float32Array } = { logits };
    if (out.probabilities) r.probabilities = out.probabilities.data as Float32Array;
    return r;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
