/**
 * Forward and backward emission of every layer kind as default-domain ONNX ops.
 * The forward pass records what its backward needs (`saved`); backward functions take the
 * upstream gradient and return gradients of the inputs that need one, plus parameter gradients.
 *
 * Choices made for speed on ORT's CPU kernels (DESIGN.md "The engine"):
 * - conv weight gradient = im2col on a [C,N,H,W] transpose of the input (Pad + k² strided Slices +
 *   Concat) and one Gemm, so only the small input and output are transposed, never the columns;
 * - conv input gradient = ConvTranspose with the forward weights;
 * - max/avg-pool backward for non-overlapping windows upsamples with a 0/1 MatMul (width) and an
 *   Expand over a middle axis (height), then Equal/Where; other pools use a grouped ConvTranspose
 *   with one-hot kernels;
 * - max-pool ties: the gradient of a window is split evenly between all elements equal to its
 *   maximum (a valid subgradient; exact for the finite-difference tests, which use tie-free data);
 * - BatchNorm backward from the centred, normalised tensor (no E[x²]−μ² statistics).
 */
import type { LayerGraph, LayerNode } from './graph.js';
import type { OnnxGraphBuilder } from './onnx-builder.js';

export type Mode = 'train' | 'eval';

/** Kernel choices measured for speed (see report); exported so benchmarks can compare them. */
export const tuning = {
  /** Input gradient of stride-1 convs: ConvTranspose, or Conv with flipped, transposed weights. */
  convInputGrad: 'convtranspose' as 'convtranspose' | 'conv',
  /** Backward of non-overlapping max-pools: 0/1 MatMul + Expand upsampling, or SpaceToDepth/DepthToSpace. */
  maxPoolBackward: 'upsample' as 'upsample' | 'depth',
};

export interface ForwardContext {
  b: OnnxGraphBuilder;
  graph: LayerGraph;
  mode: Mode;
  param(name: string): string;
  buffer(name: string): string;
  /** Graph input holding the dropout mask (0 or 1/(1-p)) for a node, training mode only. */
  dropoutMask(node: LayerNode): string;
}

export interface Saved {
  [k: string]: string;
}

export interface BatchStatValues {
  layer: string;
  mean: string;
  variance: string;
}

export interface ForwardResult {
  values: Map<string, string>;
  saved: Map<string, Saved>;
  batchStats: BatchStatValues[];
}

const REDUCE_NCHW = [0, 2, 3];

/** Emits the forward pass; `values` maps layer names (and `input`) to ONNX value names. */
export function emitForward(ctx: ForwardContext, input: string): ForwardResult {
  const { b, graph } = ctx;
  const values = new Map<string, string>([['input', input]]);
  const saved = new Map<string, Saved>();
  const batchStats: BatchStatValues[] = [];
  for (const node of graph.nodes) {
    const x = values.get(node.inputs[0]!)!;
    const inShape = graph.shapes[node.inputs[0]!]!;
    let y: string;
    switch (node.op) {
      case 'conv2d': {
        const ins = [x, ctx.param(`${node.name}.weight`)];
        if (node.bias) ins.push(ctx.param(`${node.name}.bias`));
        const p = node.padding;
        y = b.op('Conv', ins, { kernel_shape: [node.kernel, node.kernel], strides: [node.stride, node.stride], pads: [p, p, p, p] });
        break;
      }
      case 'batchnorm2d': {
        // y = xc·(γ/σ) + β with xc = x − μ; x̂ is never materialised (backward works from xc).
        const g4 = b.op('Reshape', [ctx.param(`${node.name}.weight`), b.constI64([1, -1, 1, 1])]);
        const b4 = b.op('Reshape', [ctx.param(`${node.name}.bias`), b.constI64([1, -1, 1, 1])]);
        let xc: string, variance: string;
        if (ctx.mode === 'train') {
          const mean = b.op('ReduceMean', [x], { axes: REDUCE_NCHW, keepdims: 1 });
          xc = b.op('Sub', [x, mean]);
          variance = b.op('ReduceMean', [b.op('Mul', [xc, xc])], { axes: REDUCE_NCHW, keepdims: 1 });
          batchStats.push({
            layer: node.name,
            mean: b.op('Reshape', [mean, b.constI64([-1])]),
            variance: b.op('Reshape', [variance, b.constI64([-1])]),
          });
        } else {
          xc = b.op('Sub', [x, b.op('Reshape', [ctx.buffer(`${node.name}.running_mean`), b.constI64([1, -1, 1, 1])])]);
          variance = b.op('Reshape', [ctx.buffer(`${node.name}.running_var`), b.constI64([1, -1, 1, 1])]);
        }
        const invstd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, b.scalar(node.eps)])])]);
        const scale = b.op('Mul', [g4, invstd]);
        y = b.op('Add', [b.op('Mul', [xc, scale]), b4]);
        saved.set(node.name, { xc, invstd, scale });
        break;
      }
      case 'relu':
        y = b.op('Relu', [x]);
        break;
      case 'leaky_relu':
        y = b.op('LeakyRelu', [x], { alpha: { float: node.alpha } });
        break;
      case 'silu': {
        const s = b.op('Sigmoid', [x]);
        y = b.op('Mul', [x, s]);
        saved.set(node.name, { s });
        break;
      }
      case 'maxpool2d': {
        const p = node.padding;
        y = b.op('MaxPool', [x], { kernel_shape: [node.kernel, node.kernel], strides: [node.stride, node.stride], pads: [p, p, p, p] });
        break;
      }
      case 'avgpool2d': {
        const p = node.padding;
        y = b.op('AveragePool', [x], {
          kernel_shape: [node.kernel, node.kernel], strides: [node.stride, node.stride], pads: [p, p, p, p], count_include_pad: 1,
        });
        break;
      }
      case 'global_avg_pool':
        y = b.op('Reshape', [b.op('GlobalAveragePool', [x]), b.constI64([0, -1])]);
        break;
      case 'dropout':
        y = ctx.mode === 'train' && node.p > 0 ? b.op('Mul', [x, ctx.dropoutMask(node)]) : x;
        break;
      case 'flatten':
        y = inShape.length === 1 ? x : b.op('Flatten', [x], { axis: 1 });
        break;
      case 'linear': {
        const ins = [x, ctx.param(`${node.name}.weight`)];
        if (node.bias) ins.push(ctx.param(`${node.name}.bias`));
        y = b.op('Gemm', ins, { transB: 1 });
        break;
      }
      case 'add':
        y = b.op('Add', [x, values.get(node.inputs[1]!)!]);
        break;
      case 'concat':
        y = b.op('Concat', node.inputs.map((i) => values.get(i)!), { axis: 1 });
        break;
    }
    values.set(node.name, y);
  }
  return { values, saved, batchStats };
}

export interface BackwardArgs {
  b: OnnxGraphBuilder;
  graph: LayerGraph;
  node: LayerNode;
  mode: Mode;
  values: Map<string, string>;
  saved: Saved | undefined;
  dy: string;
  /** Which of node.inputs need a gradient. */
  needInput: boolean[];
  /** Whether this node's parameters need gradients. */
  needParams: boolean;
  param(name: string): string;
  dropoutMask(node: LayerNode): string;
}

export interface BackwardResult {
  /** Gradient per node input (undefined when not needed). */
  dx: (string | undefined)[];
  /** Parameter gradients by parameter name. */
  dparams: Map<string, string>;
}

/** 0/1 matrix [small, small*k] mapping column j to columns j*k..j*k+k-1 (nearest upsampling of the last axis). */
function upsampleMatrix(small: number, k: number): Float32Array {
  const m = new Float32Array(small * small * k);
  for (let j = 0; j < small; j++) for (let t = 0; t < k; t++) m[j * small * k + j * k + t] = 1;
  return m;
}

/** Nearest upsampling of [N,C,Ho,Wo] by k in both spatial axes (MatMul for width, Expand for height). */
function upsample(b: OnnxGraphBuilder, t: string, ho: number, wo: number, k: number): string {
  const u = b.constF(upsampleMatrix(wo, k), [wo, wo * k]);
  const wide = b.op('MatMul', [t, u]); // [N,C,Ho,W]
  const r5 = b.op('Reshape', [wide, b.constI64([0, 0, ho, 1, wo * k])]);
  const e = b.op('Expand', [r5, b.constI64([1, 1, 1, k, 1])]);
  return b.op('Reshape', [e, b.constI64([0, 0, ho * k, wo * k])]);
}

function isSimplePool(node: { kernel: number; stride: number; padding: number }, h: number, w: number): boolean {
  return node.kernel === node.stride && node.padding === 0 && h % node.kernel === 0 && w % node.kernel === 0;
}

/** output_padding that makes a strided ConvTranspose reproduce the forward input size exactly. */
function outputPadding(size: number, out: number, k: number, s: number, p: number): number {
  return size - ((out - 1) * s - 2 * p + k);
}

/** Emits the backward of one node. */
export function emitBackward(a: BackwardArgs): BackwardResult {
  const { b, graph, node, dy, saved } = a;
  const dparams = new Map<string, string>();
  const dx: (string | undefined)[] = node.inputs.map(() => undefined);
  const x = a.values.get(node.inputs[0]!)!;
  const inShape = graph.shapes[node.inputs[0]!]!;
  const outShape = graph.shapes[node.name]!;
  switch (node.op) {
    case 'conv2d': {
      const [c, h, w] = inShape as [number, number, number];
      const [o, ho, wo] = outShape as [number, number, number];
      const k = node.kernel, s = node.stride, p = node.padding;
      if (a.needParams) {
        // im2col over [C,N,H,W] so the columns come out as [k²·C, N·Ho·Wo] with no big transpose.
        const xt = b.op('Transpose', [x], { perm: [1, 0, 2, 3] });
        let cols: string;
        if (k === 1 && s === 1 && p === 0) {
          cols = b.op('Reshape', [xt, b.constI64([c, -1])]);
        } else {
          const xp = p > 0 ? b.op('Pad', [xt, b.constI64([0, 0, p, p, 0, 0, p, p])]) : xt;
          const slices: string[] = [];
          for (let i = 0; i < k; i++) {
            for (let j = 0; j < k; j++) {
              slices.push(b.op('Slice', [
                xp, b.constI64([i, j]), b.constI64([i + s * (ho - 1) + 1, j + s * (wo - 1) + 1]), b.constI64([2, 3]), b.constI64([s, s]),
              ]));
            }
          }
          const cat = slices.length === 1 ? slices[0]! : b.op('Concat', slices, { axis: 0 });
          cols = b.op('Reshape', [cat, b.constI64([k * k * c, -1])]);
        }
        const dyt = b.op('Reshape', [b.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), b.constI64([o, -1])]);
        const dwFlat = b.op('Gemm', [dyt, cols], { transB: 1 }); // [O, k·k·C] ordered (i, j, c)
        const dw = b.op('Transpose', [b.op('Reshape', [dwFlat, b.constI64([o, k, k, c])])], { perm: [0, 3, 1, 2] });
        dparams.set(`${node.name}.weight`, dw);
        if (node.bias) dparams.set(`${node.name}.bias`, b.op('ReduceSum', [dy, b.constI64(REDUCE_NCHW)], { keepdims: 0 }));
      }
      if (a.needInput[0] && s === 1 && tuning.convInputGrad === 'conv' && k - 1 - p >= 0) {
        // Full correlation with the spatially flipped, in/out-swapped kernel.
        const wt = b.op('Transpose', [a.param(`${node.name}.weight`)], { perm: [1, 0, 2, 3] });
        const flipped = b.op('Slice', [wt, b.constI64([k - 1, k - 1]), b.constI64([-(k + 1), -(k + 1)]), b.constI64([2, 3]), b.constI64([-1, -1])]);
        const q = k - 1 - p;
        dx[0] = b.op('Conv', [dy, flipped], { kernel_shape: [k, k], strides: [1, 1], pads: [q, q, q, q] });
      } else if (a.needInput[0]) {
        const oph = outputPadding(h, ho, k, s, p), opw = outputPadding(w, wo, k, s, p);
        dx[0] = b.op('ConvTranspose', [dy, a.param(`${node.name}.weight`)], {
          kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], output_padding: [oph, opw],
        });
      }
      break;
    }
    case 'batchnorm2d': {
      const { xc, invstd, scale } = saved!;
      const dbeta4 = b.op('ReduceSum', [dy, b.constI64(REDUCE_NCHW)], { keepdims: 1 });
      const sdx4 = b.op('ReduceSum', [b.op('Mul', [dy, xc!]), b.constI64(REDUCE_NCHW)], { keepdims: 1 }); // Σ dy·xc
      if (a.needParams) {
        dparams.set(`${node.name}.weight`, b.op('Reshape', [b.op('Mul', [sdx4, invstd!]), b.constI64([-1])]));
        dparams.set(`${node.name}.bias`, b.op('Reshape', [dbeta4, b.constI64([-1])]));
      }
      if (a.needInput[0]) {
        if (a.mode === 'train') {
          // dx = s·(dy − mean(dy) − xc·σ⁻²·mean(dy·xc)), s = γ/σ; per-channel factors are formed at [1,C,1,1].
          // M = N·H·W values per channel; N is dynamic so it is read from the tensor's size.
          const m = b.op('Div', [b.op('Cast', [b.op('Size', [dy])], { to: 1 }), b.scalar(inShape[0]!)]);
          const c1 = b.op('Div', [b.op('Mul', [scale!, dbeta4]), m]);
          const c2 = b.op('Div', [b.op('Mul', [b.op('Mul', [scale!, b.op('Mul', [invstd!, invstd!])]), sdx4]), m]);
          dx[0] = b.op('Sub', [b.op('Mul', [dy, scale!]), b.op('Add', [b.op('Mul', [xc!, c2]), c1])]);
        } else {
          dx[0] = b.op('Mul', [dy, scale!]);
        }
      }
      break;
    }
    case 'relu': {
      const y = a.values.get(node.name)!;
      dx[0] = b.op('Where', [b.op('Greater', [y, b.scalar(0)]), dy, b.scalar(0)]);
      break;
    }
    case 'leaky_relu':
      dx[0] = b.op('Where', [b.op('Greater', [x, b.scalar(0)]), dy, b.op('Mul', [dy, b.scalar(node.alpha)])]);
      break;
    case 'silu': {
      const s = saved!.s!;
      // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x)))
      const oneMinus = b.op('Sub', [b.scalar(1), s]);
      const deriv = b.op('Mul', [s, b.op('Add', [b.scalar(1), b.op('Mul', [x, oneMinus])])]);
      dx[0] = b.op('Mul', [dy, deriv]);
      break;
    }
    case 'maxpool2d': {
      const [c, h, w] = inShape as [number, number, number];
      const [, ho, wo] = outShape as [number, number, number];
      const y = a.values.get(node.name)!;
      const k = node.kernel, s = node.stride, p = node.padding;
      if (isSimplePool(node, h, w) && tuning.maxPoolBackward === 'depth') {
        // Window offsets become a middle axis: [N, k², C, Ho, Wo]; compare with y broadcast over it.
        const kk = k * k;
        const cand = b.op('Reshape', [b.op('SpaceToDepth', [x], { blocksize: k }), b.constI64([0, kk, c, ho, wo])]);
        const maskF = b.op('Cast', [b.op('Equal', [cand, b.op('Reshape', [y, b.constI64([0, 1, c, ho, wo])])])], { to: 1 });
        const count = b.op('ReduceSum', [maskF, b.constI64([1])], { keepdims: 1 });
        const share = b.op('Div', [b.op('Reshape', [dy, b.constI64([0, 1, c, ho, wo])]), count]);
        const g = b.op('Reshape', [b.op('Mul', [maskF, share]), b.constI64([0, kk * c, ho, wo])]);
        dx[0] = b.op('DepthToSpace', [g], { blocksize: k, mode: 'DCR' });
      } else if (isSimplePool(node, h, w)) {
        const mask = b.op('Equal', [x, upsample(b, y, ho, wo, k)]);
        const count = b.op('Mul', [
          b.op('AveragePool', [b.op('Cast', [mask], { to: 1 })], { kernel_shape: [k, k], strides: [k, k] }),
          b.scalar(k * k),
        ]);
        const share = upsample(b, b.op('Div', [dy, count]), ho, wo, k);
        dx[0] = b.op('Where', [mask, share, b.scalar(0)]);
      } else {
        const xp = p > 0 ? b.op('Pad', [x, b.constI64([0, 0, p, p, 0, 0, p, p]), b.scalar(-3.4e38)]) : x;
        const masks: string[] = [];
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const sl = b.op('Slice', [
              xp, b.constI64([i, j]), b.constI64([i + s * (ho - 1) + 1, j + s * (wo - 1) + 1]), b.constI64([2, 3]), b.constI64([s, s]),
            ]);
            masks.push(b.op('Cast', [b.op('Equal', [sl, y])], { to: 1 }));
          }
        }
        const count = masks.length === 1 ? masks[0]! : b.op('Sum', masks);
        const share = b.op('Div', [dy, count]);
        const parts = masks.map((m) => b.op('Unsqueeze', [b.op('Mul', [m, share]), b.constI64([2])]));
        const stacked = b.op('Reshape', [b.op('Concat', parts, { axis: 2 }), b.constI64([0, c * k * k, ho, wo])]);
        dx[0] = scatterWindows(b, stacked, c, k, s, p, oneHotKernels(c, k), h, w, ho, wo);
      }
      break;
    }
    case 'avgpool2d': {
      const [c, h, w] = inShape as [number, number, number];
      const [, ho, wo] = outShape as [number, number, number];
      const k = node.kernel, s = node.stride, p = node.padding;
      if (isSimplePool(node, h, w)) {
        dx[0] = upsample(b, b.op('Mul', [dy, b.scalar(1 / (k * k))]), ho, wo, k);
      } else {
        const kern = new Float32Array(c * k * k).fill(1 / (k * k));
        dx[0] = scatterWindows(b, dy, c, k, s, p, kern, h, w, ho, wo);
      }
      break;
    }
    case 'global_avg_pool': {
      const [c, h, w] = inShape as [number, number, number];
      // [N·C,1] × [1,H·W] instead of broadcasting a trailing 1 (slow in ORT).
      const col = b.op('Reshape', [dy, b.constI64([-1, 1])]);
      const spread = b.op('MatMul', [col, b.constF(new Float32Array(h * w).fill(1 / (h * w)), [1, h * w])]);
      dx[0] = b.op('Reshape', [spread, b.constI64([-1, c, h, w])]);
      break;
    }
    case 'dropout':
      dx[0] = a.mode === 'train' && node.p > 0 ? b.op('Mul', [dy, a.dropoutMask(node)]) : dy;
      break;
    case 'flatten':
      dx[0] = inShape.length === 1 ? dy : b.op('Reshape', [dy, b.constI64([-1, ...inShape])]);
      break;
    case 'linear': {
      if (a.needParams) {
        dparams.set(`${node.name}.weight`, b.op('Gemm', [dy, x], { transA: 1 }));
        if (node.bias) dparams.set(`${node.name}.bias`, b.op('ReduceSum', [dy, b.constI64([0])], { keepdims: 0 }));
      }
      if (a.needInput[0]) dx[0] = b.op('MatMul', [dy, a.param(`${node.name}.weight`)]);
      break;
    }
    case 'add':
      dx[0] = dy;
      dx[1] = dy;
      break;
    case 'concat': {
      const sizes = node.inputs.map((i) => graph.shapes[i]![0]!);
      const parts = node.inputs.length === 1 ? [dy] : b.opN('Split', [dy, b.constI64(sizes)], sizes.length, { axis: 1 });
      parts.forEach((part, i) => (dx[i] = part));
      break;
    }
  }
  return { dx, dparams };
}

/** Kernels [C·k², 1, k, k] with a single 1 at window offset (i,j) for channel c·k² + i·k + j. */
function oneHotKernels(c: number, k: number): Float32Array {
  const kk = k * k;
  const m = new Float32Array(c * kk * kk);
  for (let ch = 0; ch < c; ch++) for (let t = 0; t < kk; t++) m[(ch * kk + t) * kk + t] = 1;
  return m;
}

/** Adds per-window contributions back onto the input grid with a grouped (depthwise) ConvTranspose. */
function scatterWindows(
  b: OnnxGraphBuilder, t: string, c: number, k: number, s: number, p: number, kernels: Float32Array,
  h: number, w: number, ho: number, wo: number,
): string {
  const perGroupIn = kernels.length / (c * k * k);
  const wName = b.constF(kernels, [c * perGroupIn, 1, k, k]);
  return b.op('ConvTranspose', [t, wName], {
    kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], group: c,
    output_padding: [outputPadding(h, ho, k, s, p), outputPadding(w, wo, k, s, p)],
  });
}
