/**
 * Typed layer graphs: the model description every other engine part compiles from.
 * A LayerGraph is plain JSON (it travels to worker threads and into model.json); node outputs are
 * named by the node's `name`, the image input is named `input` ([N,C,H,W]).
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface ParamSet {
  /** conv/linear weights and biases, BN gamma/beta — order is stable (graph order, weight before bias). */
  trainable: NamedTensor[];
  /** BN running_mean / running_var (not trained by gradient). */
  buffers: NamedTensor[];
}

export type ParamKind = 'conv_weight' | 'conv_bias' | 'linear_weight' | 'linear_bias' | 'bn_weight' | 'bn_bias';
export interface ParamSpec {
  name: string;
  shape: number[];
  kind: ParamKind;
  /** Inputs feeding one output unit (for He/Kaiming initialisation). */
  fanIn: number;
}
export interface BufferSpec {
  name: string;
  shape: number[];
  kind: 'running_mean' | 'running_var';
}

interface NodeBase {
  name: string;
  inputs: string[];
}
export type LayerNode =
  | (NodeBase & { op: 'conv2d'; outChannels: number; kernel: number; stride: number; padding: number; bias: boolean })
  | (NodeBase & { op: 'batchnorm2d'; eps: number })
  | (NodeBase & { op: 'relu' })
  | (NodeBase & { op: 'silu' })
  | (NodeBase & { op: 'leaky_relu'; alpha: number })
  | (NodeBase & { op: 'maxpool2d'; kernel: number; stride: number; padding: number })
  | (NodeBase & { op: 'avgpool2d'; kernel: number; stride: number; padding: number })
  | (NodeBase & { op: 'global_avg_pool' })
  | (NodeBase & { op: 'dropout'; p: number })
  | (NodeBase & { op: 'linear'; outFeatures: number; bias: boolean })
  | (NodeBase & { op: 'flatten' })
  | (NodeBase & { op: 'add' })
  | (NodeBase & { op: 'concat' });
export type LayerOp = LayerNode['op'];

export interface LayerGraph {
  /** [C,H,W] of one input image. */
  inputShape: number[];
  nodes: LayerNode[];
  /** Name of the node producing logits [N,K]. */
  output: string;
  numOutputs: number;
  /** Per-sample shape of every value (`input` and each node), without the batch dimension. */
  shapes: Record<string, number[]>;
  params: ParamSpec[];
  buffers: BufferSpec[];
}

export const INPUT = 'input';

function poolOut(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/** Shape of a node's output given its input shapes; throws InputError on a mismatch. */
export function inferShape(node: LayerNode, ins: number[][]): number[] {
  const fail = (msg: string): never => {
    throw new InputError('GRAPH_INVALID', `layer "${node.name}" (${node.op}): ${msg}`);
  };
  const want4 = (s: number[] | undefined): number[] => {
    if (!s || s.length !== 3) return fail(`expects a [C,H,W] input, got [${s?.join(',')}]`);
    return s;
  };
  const x = ins[0];
  switch (node.op) {
    case 'conv2d': {
      const [, h, w] = want4(x);
      if (node.kernel < 1 || node.stride < 1 || node.padding < 0) fail('bad kernel/stride/padding');
      const ho = poolOut(h!, node.kernel, node.stride, node.padding);
      const wo = poolOut(w!, node.kernel, node.stride, node.padding);
      if (ho < 1 || wo < 1) fail(`output would be empty for input ${h}x${w}`);
      return [node.outChannels, ho, wo];
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      const [c, h, w] = want4(x);
      if (2 * node.padding > node.kernel) fail('padding must be at most half the kernel');
      const ho = poolOut(h!, node.kernel, node.stride, node.padding);
      const wo = poolOut(w!, node.kernel, node.stride, node.padding);
      if (ho < 1 || wo < 1) fail(`output would be empty for input ${h}x${w}`);
      return [c!, ho, wo];
    }
    case 'batchnorm2d':
      want4(x);
      return x!.slice();
    case 'relu':
    case 'silu':
    case 'leaky_relu':
      return x!.slice();
    case 'dropout':
      if (!(node.p >= 0 && node.p < 1)) fail('p must be in [0,1)');
      return x!.slice();
    case 'global_avg_pool':
      return [want4(x)[0]!];
    case 'flatten':
      return [x!.reduce((a, b) => a * b, 1)];
    case 'linear':
      if (x!.length !== 1) fail(`expects a flat [F] input, got [${x!.join(',')}] (add a flatten)`);
      return [node.outFeatures];
    case 'add':
      if (ins.length !== 2) fail('takes exactly two inputs');
      if (ins[0]!.join(',') !== ins[1]!.join(',')) fail(`shapes differ: [${ins[0]!.join(',')}] vs [${ins[1]!.join(',')}]`);
      return x!.slice();
    case 'concat': {
      if (ins.length < 1) fail('needs inputs');
      const rest = ins[0]!.slice(1).join(',');
      for (const s of ins) if (s.slice(1).join(',') !== rest) fail('inputs differ beyond the channel axis');
      return [ins.reduce((a, s) => a + s[0]!, 0), ...ins[0]!.slice(1)];
    }
  }
}

function paramsOf(node: LayerNode, inShape: number[]): { params: ParamSpec[]; buffers: BufferSpec[] } {
  switch (node.op) {
    case 'conv2d': {
      const fanIn = inShape[0]! * node.kernel * node.kernel;
      const params: ParamSpec[] = [
        { name: `${node.name}.weight`, shape: [node.outChannels, inShape[0]!, node.kernel, node.kernel], kind: 'conv_weight', fanIn },
      ];
      if (node.bias) params.push({ name: `${node.name}.bias`, shape: [node.outChannels], kind: 'conv_bias', fanIn });
      return { params, buffers: [] };
    }
    case 'linear': {
      const fanIn = inShape[0]!;
      const params: ParamSpec[] = [
        { name: `${node.name}.weight`, shape: [node.outFeatures, fanIn], kind: 'linear_weight', fanIn },
      ];
      if (node.bias) params.push({ name: `${node.name}.bias`, shape: [node.outFeatures], kind: 'linear_bias', fanIn });
      return { params, buffers: [] };
    }
    case 'batchnorm2d': {
      const c = inShape[0]!;
      return {
        params: [
          { name: `${node.name}.weight`, shape: [c], kind: 'bn_weight', fanIn: 1 },
          { name: `${node.name}.bias`, shape: [c], kind: 'bn_bias', fanIn: 1 },
        ],
        buffers: [
          { name: `${node.name}.running_mean`, shape: [c], kind: 'running_mean' },
          { name: `${node.name}.running_var`, shape: [c], kind: 'running_var' },
        ],
      };
    }
    default:
      return { params: [], buffers: [] };
  }
}

/**
 * Checks a list of nodes and derives shapes, parameters and buffers.
 * Used by the builder and to validate a graph read back from JSON.
 */
export function finishGraph(inputShape: number[], nodes: LayerNode[], output: string): LayerGraph {
  if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputError('GRAPH_INVALID', `input shape must be [C,H,W] positive integers, got [${inputShape.join(',')}]`);
  }
  const shapes: Record<string, number[]> = { [INPUT]: inputShape.slice() };
  const params: ParamSpec[] = [];
  const buffers: BufferSpec[] = [];
  for (const node of nodes) {
    if (node.name in shapes) throw new InputError('GRAPH_INVALID', `duplicate layer name "${node.name}"`);
    if (/[^A-Za-z0-9_.\-/]/.test(node.name)) throw new InputError('GRAPH_INVALID', `layer name "${node.name}" has odd characters`);
    const ins = node.inputs.map((i) => {
      const s = shapes[i];
      if (!s) throw new InputError('GRAPH_INVALID', `layer "${node.name}" reads "${i}", which is not defined before it`);
      return s;
    });
    shapes[node.name] = inferShape(node, ins);
    const p = paramsOf(node, ins[0]!);
    params.push(...p.params);
    buffers.push(...p.buffers);
  }
  const out = shapes[output];
  if (!out) throw new InputError('GRAPH_INVALID', `output "${output}" is not a layer`);
  if (out.length !== 1) throw new InputError('GRAPH_INVALID', `output "${output}" must be flat logits [K], got [${out.join(',')}]`);
  return { inputShape: inputShape.slice(), nodes, output, numOutputs: out[0]!, shapes, params, buffers };
}

/**
 * Fluent builder for layer graphs; each method returns the name of the value it produced.
 *
 * @example
 *   const b = new GraphBuilder([1, 28, 28]);
 *   let x = b.conv2d(b.input, 8, { kernel: 3, padding: 1 });
 *   x = b.relu(b.batchNorm(x));
 *   const g = b.build(b.linear(b.flatten(b.globalAvgPool(x)), 2));
 */
export class GraphBuilder {
  readonly input = INPUT;
  private nodes: LayerNode[] = [];
  private shapes: Record<string, number[]>;
  private counts = new Map<string, number>();

  constructor(private inputShape: number[]) {
    this.shapes = { [INPUT]: inputShape.slice() };
  }

  private name(kind: string, given?: string): string {
    if (given) return given;
    const n = this.counts.get(kind) ?? 0;
    this.counts.set(kind, n + 1);
    return `${kind}${n}`;
  }

  private add(node: LayerNode): string {
    const ins = node.inputs.map((i) => {
      const s = this.shapes[i];
      if (!s) throw new InputError('GRAPH_INVALID', `layer "${node.name}" reads unknown value "${i}"`);
      return s;
    });
    this.shapes[node.name] = inferShape(node, ins);
    this.nodes.push(node);
    return node.name;
  }

  shape(value: string): number[] {
    const s = this.shapes[value];
    if (!s) throw new InputError('GRAPH_INVALID', `unknown value "${value}"`);
    return s.slice();
  }

  conv2d(x: string, outChannels: number, o: { kernel?: number; stride?: number; padding?: number; bias?: boolean; name?: string } = {}): string {
    const kernel = o.kernel ?? 3;
    return this.add({
      op: 'conv2d', name: this.name('conv', o.name), inputs: [x], outChannels, kernel,
      stride: o.stride ?? 1, padding: o.padding ?? Math.floor(kernel / 2), bias: o.bias ?? true,
    });
  }
  batchNorm(x: string, o: { eps?: number; name?: string } = {}): string {
    return this.add({ op: 'batchnorm2d', name: this.name('bn', o.name), inputs: [x], eps: o.eps ?? 1e-5 });
  }
  relu(x: string, name?: string): string {
    return this.add({ op: 'relu', name: this.name('relu', name), inputs: [x] });
  }
  silu(x: string, name?: string): string {
    return this.add({ op: 'silu', name: this.name('silu', name), inputs: [x] });
  }
  leakyRelu(x: string, alpha = 0.01, name?: string): string {
    return this.add({ op: 'leaky_relu', name: this.name('lrelu', name), inputs: [x], alpha });
  }
  maxPool(x: string, kernel = 2, o: { stride?: number; padding?: number; name?: string } = {}): string {
    return this.add({ op: 'maxpool2d', name: this.name('maxpool', o.name), inputs: [x], kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0 });
  }
  avgPool(x: string, kernel = 2, o: { stride?: number; padding?: number; name?: string } = {}): string {
    return this.add({ op: 'avgpool2d', name: this.name('avgpool', o.name), inputs: [x], kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0 });
  }
  globalAvgPool(x: string, name?: string): string {
    return this.add({ op: 'global_avg_pool', name: this.name('gap', name), inputs: [x] });
  }
  dropout(x: string, p: number, name?: string): string {
    return this.add({ op: 'dropout', name: this.name('dropout', name), inputs: [x], p });
  }
  flatten(x: string, name?: string): string {
    return this.add({ op: 'flatten', name: this.name('flatten', name), inputs: [x] });
  }
  linear(x: string, outFeatures: number, o: { bias?: boolean; name?: string } = {}): string {
    return this.add({ op: 'linear', name: this.name('fc', o.name), inputs: [x], outFeatures, bias: o.bias ?? true });
  }
  addResidual(a: string, b: string, name?: string): string {
    return this.add({ op: 'add', name: this.name('add', name), inputs: [a, b] });
  }
  concat(xs: string[], name?: string): string {
    return this.add({ op: 'concat', name: this.name('concat', name), inputs: xs });
  }

  build(output: string): LayerGraph {
    return finishGraph(this.inputShape, this.nodes.slice(), output);
  }
}

const posInt = z.number().int().positive();
const base = { name: z.string().min(1), inputs: z.array(z.string()).min(1) };
const window = { kernel: posInt, stride: posInt, padding: z.number().int().nonnegative() };
/** Schema of one layer node as stored in JSON (model.json, worker messages). */
export const layerNodeSchema = z.discriminatedUnion('op', [
  z.object({ ...base, op: z.literal('conv2d'), outChannels: posInt, ...window, bias: z.boolean() }),
  z.object({ ...base, op: z.literal('batchnorm2d'), eps: z.number().positive() }),
  z.object({ ...base, op: z.literal('relu') }),
  z.object({ ...base, op: z.literal('silu') }),
  z.object({ ...base, op: z.literal('leaky_relu'), alpha: z.number().finite() }),
  z.object({ ...base, op: z.literal('maxpool2d'), ...window }),
  z.object({ ...base, op: z.literal('avgpool2d'), ...window }),
  z.object({ ...base, op: z.literal('global_avg_pool') }),
  z.object({ ...base, op: z.literal('dropout'), p: z.number().min(0).lt(1) }),
  z.object({ ...base, op: z.literal('linear'), outFeatures: posInt, bias: z.boolean() }),
  z.object({ ...base, op: z.literal('flatten') }),
  z.object({ ...base, op: z.literal('add') }),
  z.object({ ...base, op: z.literal('concat') }),
]);
const graphSchema = z.object({ inputShape: z.array(posInt).length(3), nodes: z.array(layerNodeSchema), output: z.string() });

/**
 * Re-validates a graph (e.g. one read from model.json) and recomputes its derived fields.
 *
 * @example const g = validateGraph(JSON.parse(text).graph);
 */
export function validateGraph(g: unknown): LayerGraph {
  const r = graphSchema.safeParse(g);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new InputError('GRAPH_INVALID', `not a valid layer graph: ${first?.path.join('.')}: ${first?.message}`);
  }
  return finishGraph(r.data.inputShape, r.data.nodes as LayerNode[], r.data.output);
}

/** For every value, the nodes reading it (used by autodiff to sum gradients of shared values). */
export function consumers(g: LayerGraph): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const n of g.nodes) for (const i of n.inputs) m.set(i, [...(m.get(i) ?? []), n.name]);
  return m;
}
