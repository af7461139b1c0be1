/**
 * Imports a user's ONNX classifier (e.g. exported from PyTorch) into a LayerGraph + ParamSet, so it
 * can be served, explained and fine-tuned with radml's autodiff. Only operators the engine can
 * differentiate are accepted; anything else is an UnsupportedError that lists every offending
 * operator at once.
 */
import { InputError, UnsupportedError } from '../util/errors.js';
import { GraphBuilder, type LayerGraph, type NamedTensor, type ParamSet } from './graph.js';
import { onnx } from './onnx-builder.js';

import type onnxProto from 'onnx-proto';

type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export interface ImportedModel {
  graph: LayerGraph;
  params: ParamSet;
  /** Activation the file applied to its logits (dropped on import; re-add it at export). */
  outputActivation: 'softmax' | 'sigmoid' | null;
}

const SUPPORTED = [
  'Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Sigmoid (as x·sigmoid(x) or on the output)', 'Mul (SiLU only)',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Gemm', 'MatMul(+Add)', 'Flatten', 'Reshape (to [N,-1])', 'Add', 'Concat (axis 1)',
  'Dropout', 'Identity', 'Softmax (on the output)',
];

function tensorToFloat32(t: TensorProto, what: string): { shape: number[]; data: Float32Array } {
  const shape = (t.dims ?? []).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  let data: Float32Array;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (type === 1) {
    if (raw) {
      const copy = new Uint8Array(raw); // aligned copy
      data = new Float32Array(copy.buffer, 0, copy.length / 4);
    } else data = Float32Array.from(t.floatData ?? []);
  } else if (type === 11) {
    data = raw ? Float32Array.from(new Float64Array(new Uint8Array(raw).buffer)) : Float32Array.from(t.doubleData ?? []);
  } else if (type === 7) {
    data = raw ? Float32Array.from(new BigInt64Array(new Uint8Array(raw).buffer), (v) => Number(v)) : Float32Array.from((t.int64Data ?? []).map(Number));
  } else {
    throw new UnsupportedError('ONNX_UNSUPPORTED', `${what}: tensor data type ${type} is not supported`);
  }
  if (data.length !== n) throw new InputError('ONNX_INVALID', `${what}: tensor has ${data.length} values for shape [${shape}]`);
  return { shape, data };
}

function attrs(node: NodeProto): Record<string, { i?: number; f?: number; ints?: number[]; s?: string }> {
  const out: Record<string, { i?: number; f?: number; ints?: number[]; s?: string }> = {};
  for (const a of node.attribute ?? []) {
    out[a.name ?? ''] = {
      i: a.i != null ? Number(a.i) : undefined,
      f: a.f ?? undefined,
      ints: (a.ints ?? []).map(Number),
      s: a.s && a.s.length ? new TextDecoder().decode(a.s) : undefined,
    };
  }
  return out;
}

/**
 * Maps an ONNX classifier to a LayerGraph and ParamSet. Layer names come from the weight
 * initialisers (`features.0.weight` → layer `features.0`), so freezing by PyTorch module prefix works.
 *
 * @example
 *   const { graph, params } = importOnnx(readFileSync('model.onnx'));
 *   const tg = compileTrainingGraph(graph, { kind: 'softmax_ce' }, { freeze: ['features.'] });
 */
export function importOnnx(bytes: Uint8Array, opts: { file?: string; inputShape?: number[] } = {}): ImportedModel {
  const file = opts.file ?? 'ONNX model';
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new InputError('ONNX_INVALID', `${file}: not a readable ONNX model (${(e as Error).message})`, { file });
  }
  const g = model.graph;
  if (!g) throw new InputError('ONNX_INVALID', `${file}: no graph`, { file });
  const nodes = g.node ?? [];
  const foreignDomains = (model.opsetImport ?? []).filter((o) => o.domain && o.domain !== 'ai.onnx');
  const inits = new Map<string, TensorProto>();
  for (const t of g.initializer ?? []) inits.set(t.name ?? '', t);
  for (const n of nodes) {
    if (n.opType === 'Constant') {
      const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
      if (t && n.output?.[0]) inits.set(n.output[0], t);
    }
  }
  // Report every unsupported operator at once.
  const known = new Set(['Conv', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Sigmoid', 'Mul', 'MaxPool', 'AveragePool',
    'GlobalAveragePool', 'Gemm', 'MatMul', 'Flatten', 'Reshape', 'Add', 'Concat', 'Dropout', 'Identity', 'Softmax', 'Constant']);
  const unknown = [...new Set(nodes.filter((n) => !known.has(n.opType ?? '') || (n.domain && n.domain !== 'ai.onnx')).map((n) => n.opType ?? '?'))];
  if (unknown.length || foreignDomains.length) {
    throw new UnsupportedError('ONNX_UNSUPPORTED_OPS',
      `${file}: cannot train through operator(s) ${unknown.join(', ') || '(custom domain)'}; supported: ${SUPPORTED.join(', ')}`, { file });
  }

  const graphInputs = (g.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  if (graphInputs.length !== 1) throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: expects one image input, found ${graphInputs.length}`, { file });
  const inName = graphInputs[0]!.name ?? '';
  const dims = (graphInputs[0]!.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null ? Number(d.dimValue) : -1));
  const inputShape = opts.inputShape ?? dims.slice(1);
  if (inputShape.length !== 3 || inputShape.some((d) => !(d > 0))) {
    throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: input must be [N,C,H,W] with known C,H,W (got [${dims}]); pass inputShape`, { file });
  }

  const b = new GraphBuilder(inputShape);
  const value = new Map<string, string>([[inName, b.input]]);
  const trainable: NamedTensor[] = [];
  const buffers: NamedTensor[] = [];
  const used = new Set<string>();
  const producers = new Map<string, NodeProto>();
  const readers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producers.set(o, n);
    for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  const fail = (n: NodeProto, why: string): never => {
    throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: node "${n.name || n.opType}" (${n.opType}): ${why}`, { file });
  };
  const layerName = (n: NodeProto, weight?: string): string => {
    let base = weight && /\.weight$/.test(weight) ? weight.replace(/\.weight$/, '') : (n.name ?? '').replace(/^\/+/, '').replace(/\//g, '.');
    base = base.replace(/[^A-Za-z0-9_.\-]/g, '_');
    if (!base) base = (n.opType ?? 'layer').toLowerCase();
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const init = (n: NodeProto, name: string | undefined, what: string) => {
    const t = name ? inits.get(name) : undefined;
    if (!t) return fail(n, `${what} must be a constant initializer`);
    return tensorToFloat32(t, `${file}: ${name}`);
  };
  const inp = (n: NodeProto, i = 0): string => {
    const v = value.get(n.input?.[i] ?? '');
    if (v === undefined) return fail(n, `input "${n.input?.[i]}" is not produced by a supported layer`);
    return v;
  };
  const square = (n: NodeProto, a: ReturnType<typeof attrs>, key: string, dflt: number): number => {
    const v = a[key]?.ints;
    if (!v || v.length === 0) return dflt;
    if (v.some((x) => x !== v[0])) fail(n, `${key} [${v}] must be equal in every direction`);
    return v[0]!;
  };
  const out0 = (n: NodeProto) => n.output?.[0] ?? '';
  const skip = new Set<NodeProto>();
  // The logits end: the first graph output, looking through trailing Identity nodes.
  let graphOutput = g.output?.[0]?.name ?? '';
  for (let p = producers.get(graphOutput); p && p.opType === 'Identity'; p = producers.get(graphOutput)) graphOutput = p.input?.[0] ?? '';
  let outputActivation: ImportedModel['outputActivation'] = null;
  let logitsValue: string | null = null;

  for (const n of nodes) {
    if (skip.has(n) || n.opType === 'Constant') continue;
    const a = attrs(n);
    if ((a.auto_pad?.s ?? 'NOTSET') !== 'NOTSET') fail(n, 'auto_pad is not supported; export with explicit pads');
    if ((a.dilations?.ints ?? []).some((d) => d !== 1)) fail(n, 'dilation ≠ 1');
    if ((a.ceil_mode?.i ?? 0) !== 0) fail(n, 'ceil_mode=1');
    let y: string;
    switch (n.opType) {
      case 'Conv': {
        if ((a.group?.i ?? 1) !== 1) fail(n, 'grouped convolution');
        const w = init(n, n.input?.[1], 'weight');
        if (w.shape.length !== 4 || w.shape[2] !== w.shape[3]) fail(n, 'weight must be [O,C,k,k]');
        const name = layerName(n, n.input?.[1]);
        y = b.conv2d(inp(n), w.shape[0]!, {
          kernel: w.shape[2]!, stride: square(n, a, 'strides', 1), padding: square(n, a, 'pads', 0), bias: !!n.input?.[2], name,
        });
        trainable.push({ name: `${name}.weight`, shape: w.shape, data: w.data });
        if (n.input?.[2]) { const bias = init(n, n.input[2], 'bias'); trainable.push({ name: `${name}.bias`, shape: bias.shape, data: bias.data }); }
        break;
      }
      case 'BatchNormalization': {
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => init(n, n.input?.[i], 'BN parameter'));
        const name = layerName(n, n.input?.[1]);
        y = b.batchNorm(inp(n), { eps: a.epsilon?.f ?? 1e-5, name });
        trainable.push({ name: `${name}.weight`, shape: scale!.shape, data: scale!.data }, { name: `${name}.bias`, shape: bias!.shape, data: bias!.data });
        buffers.push({ name: `${name}.running_mean`, shape: mean!.shape, data: mean!.data }, { name: `${name}.running_var`, shape: variance!.shape, data: variance!.data });
        break;
      }
      case 'Relu':
        y = b.relu(inp(n), layerName(n));
        break;
      case 'LeakyRelu':
        y = b.leakyRelu(inp(n), a.alpha?.f ?? 0.01, layerName(n));
        break;
      case 'Sigmoid': {
        const src = n.input?.[0] ?? '';
        const mul = (readers.get(out0(n)) ?? []).find((r) => r.opType === 'Mul' && r.input?.includes(src) && r.input?.includes(out0(n)));
        if (mul && (readers.get(out0(n)) ?? []).length === 1) {
          skip.add(mul);
          const v = b.silu(inp(n), layerName(mul));
          value.set(out0(mul), v);
          continue;
        }
        if (out0(n) === graphOutput) {
          outputActivation = 'sigmoid';
          logitsValue = inp(n);
          value.set(out0(n), logitsValue);
          continue;
        }
        return fail(n, 'a Sigmoid is supported only as x·sigmoid(x) (SiLU) or on the output');
      }
      case 'Softmax':
        if (out0(n) !== graphOutput) fail(n, 'Softmax is supported only on the output');
        outputActivation = 'softmax';
        logitsValue = inp(n);
        value.set(out0(n), logitsValue);
        continue;
      case 'Mul':
        return fail(n, 'Mul is supported only as x·sigmoid(x) (SiLU)');
      case 'MaxPool':
      case 'AveragePool': {
        const k = square(n, a, 'kernel_shape', 1);
        const opt = { stride: square(n, a, 'strides', 1), padding: square(n, a, 'pads', 0), name: layerName(n) };
        if (n.opType === 'AveragePool' && opt.padding > 0 && (a.count_include_pad?.i ?? 0) === 0) {
          fail(n, 'padded AveragePool must count padding (count_include_pad=1, PyTorch default)');
        }
        if ((n.output?.length ?? 1) > 1 && n.output![1]) fail(n, 'MaxPool Indices output');
        y = n.opType === 'MaxPool' ? b.maxPool(inp(n), k, opt) : b.avgPool(inp(n), k, opt);
        break;
      }
      case 'GlobalAveragePool':
        y = b.globalAvgPool(inp(n), layerName(n));
        break;
      case 'Flatten':
        if ((a.axis?.i ?? 1) !== 1) fail(n, 'Flatten axis must be 1');
        y = b.flatten(inp(n), layerName(n));
        break;
      case 'Reshape': {
        const shape = init(n, n.input?.[1], 'target shape');
        const s = Array.from(shape.data);
        const x = inp(n);
        const total = b.shape(x).reduce((p, c) => p * c, 1);
        const flatOk = s.length === 2 && (s[0] === -1 || s[0] === 0 || s[0]! >= 1) && (s[1] === -1 || s[1] === total) && !(s[0] === -1 && s[1] === -1);
        if (!flatOk) fail(n, `only reshapes to [N, features] are supported, got [${s}]`);
        y = b.flatten(x, layerName(n));
        break;
      }
      case 'Gemm': {
        if ((a.transA?.i ?? 0) !== 0 || (a.alpha?.f ?? 1) !== 1 || (a.beta?.f ?? 1) !== 1) fail(n, 'only Gemm with transA=0, alpha=beta=1');
        const w = init(n, n.input?.[1], 'weight');
        const wt = (a.transB?.i ?? 0) === 1 ? w : transpose2(w);
        const name = layerName(n, n.input?.[1]);
        y = b.linear(inp(n), wt.shape[0]!, { bias: !!n.input?.[2], name });
        trainable.push({ name: `${name}.weight`, shape: wt.shape, data: wt.data });
        if (n.input?.[2]) {
          const bias = init(n, n.input[2], 'bias');
          if (bias.data.length !== wt.shape[0]) fail(n, 'bias must be a vector of the output size');
          trainable.push({ name: `${name}.bias`, shape: [wt.shape[0]!], data: bias.data });
        }
        break;
      }
      case 'MatMul': {
        const w = transpose2(init(n, n.input?.[1], 'weight (second input)'));
        const rs = readers.get(out0(n)) ?? [];
        const add = rs.length === 1 && rs[0]!.opType === 'Add' && rs[0]!.input?.some((i) => i !== out0(n) && inits.has(i)) ? rs[0]! : null;
        const name = layerName(n, n.input?.[1]);
        y = b.linear(inp(n), w.shape[0]!, { bias: !!add, name });
        trainable.push({ name: `${name}.weight`, shape: w.shape, data: w.data });
        if (add) {
          skip.add(add);
          const bias = init(add, add.input!.find((i) => i !== out0(n)), 'bias');
          if (bias.data.length !== w.shape[0]) fail(add, 'bias must be a vector of the output size');
          trainable.push({ name: `${name}.bias`, shape: [w.shape[0]!], data: bias.data });
          value.set(out0(add), y);
          continue;
        }
        break;
      }
      case 'Add':
        if (n.input?.some((i) => inits.has(i))) fail(n, 'Add of a constant is supported only as a MatMul bias');
        y = b.addResidual(inp(n, 0), inp(n, 1), layerName(n));
        break;
      case 'Concat': {
        const rank = 1 + b.shape(inp(n)).length;
        const axis = a.axis?.i ?? 1;
        if (axis !== 1 && axis !== 1 - rank) fail(n, 'Concat only along channels (axis 1)');
        y = b.concat((n.input ?? []).map((_, i) => inp(n, i)), layerName(n));
        break;
      }
      case 'Dropout':
      case 'Identity':
        y = inp(n);
        break;
      default:
        return fail(n, 'unsupported operator');
    }
    value.set(out0(n), y);
  }
  const logits = logitsValue ?? value.get(graphOutput);
  if (!logits) throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: output "${graphOutput}" is not produced by a supported layer`, { file });
  let graph: LayerGraph;
  try {
    graph = b.build(logits);
  } catch (e) {
    throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: ${(e as Error).message}`, { file, cause: e });
  }
  // Keep the graph's parameter order (weight before bias, layer order).
  const byName = new Map(trainable.map((t) => [t.name, t]));
  const bufByName = new Map(buffers.map((t) => [t.name, t]));
  const params: ParamSet = {
    trainable: graph.params.map((p) => {
      const t = byName.get(p.name)!;
      if (t.data.length !== p.shape.reduce((x, c) => x * c, 1)) {
        throw new UnsupportedError('ONNX_UNSUPPORTED', `${file}: "${p.name}" has ${t.data.length} values, layer needs [${p.shape}]`, { file });
      }
      return { name: p.name, shape: p.shape.slice(), data: t.data };
    }),
    buffers: graph.buffers.map((s) => ({ name: s.name, shape: s.shape.slice(), data: bufByName.get(s.name)!.data })),
  };
  return { graph, params, outputActivation };
}

function transpose2(t: { shape: number[]; data: Float32Array }): { shape: number[]; data: Float32Array } {
  if (t.shape.length !== 2) throw new UnsupportedError('ONNX_UNSUPPORTED', `linear weight must be 2-D, got [${t.shape}]`);
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data: out };
}
