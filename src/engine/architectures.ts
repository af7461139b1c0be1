/**
 * Built-in architectures and parameter initialisation.
 *
 * `cnn` is the compact CNN measured in DESIGN.md: `depth` blocks of conv3x3 → BatchNorm → max-pool 2 →
 * ReLU (max-pool before ReLU is the same function as ReLU before max-pool, since both are monotone,
 * but lets the ReLU mask work at pooled size), channels `width·2^i`, then global average pool,
 * optional dropout and a linear classifier. Convs followed by BatchNorm carry no bias (it would be
 * cancelled by the BN mean).
 * `resnet` is a small ResNet with basic blocks (two conv3x3/BN, identity or 1x1-conv shortcut).
 */
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { GraphBuilder, type LayerGraph, type ParamSet } from './graph.js';

export type ArchSpec =
  | { kind: 'cnn'; width?: number; depth?: number; dropout?: number }
  | { kind: 'resnet'; width?: number; blocks?: number[]; dropout?: number };

export interface ArchIO {
  inChannels: number;
  imageSize: number;
  numOutputs: number;
}

/**
 * Builds a named architecture for square images.
 *
 * @example
 *   const g = buildArchitecture({ kind: 'cnn', width: 16 }, { inChannels: 1, imageSize: 64, numOutputs: 2 });
 */
export function buildArchitecture(arch: ArchSpec, io: ArchIO): LayerGraph {
  const { inChannels, imageSize, numOutputs } = io;
  for (const [k, v] of Object.entries(io)) {
    if (!Number.isInteger(v) || v < 1) throw new InputError('ARCH_INVALID', `${k} must be a positive integer, got ${v}`);
  }
  const b = new GraphBuilder([inChannels, imageSize, imageSize]);
  const dropout = arch.dropout ?? 0;
  let x = b.input;
  if (arch.kind === 'cnn') {
    const width = arch.width ?? 16;
    const depth = arch.depth ?? 4;
    if (depth < 1) throw new InputError('ARCH_INVALID', `cnn depth must be ≥ 1, got ${depth}`);
    for (let i = 0; i < depth; i++) {
      const c = width * 2 ** i;
      x = b.conv2d(x, c, { kernel: 3, padding: 1, bias: false, name: `block${i}.conv` });
      x = b.batchNorm(x, { name: `block${i}.bn` });
      if (b.shape(x)[1]! >= 2 && b.shape(x)[2]! >= 2) x = b.maxPool(x, 2, { name: `block${i}.pool` });
      x = b.relu(x, `block${i}.relu`);
    }
  } else if (arch.kind === 'resnet') {
    const width = arch.width ?? 16;
    const blocks = arch.blocks ?? [1, 1, 1, 1];
    if (blocks.length < 1 || blocks.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InputError('ARCH_INVALID', `resnet blocks must be positive integers, got [${blocks.join(',')}]`);
    }
    // Large inputs get a strided stem so the first stage does not run at full resolution.
    const big = imageSize > 64;
    x = b.conv2d(x, width, { kernel: 3, stride: big ? 2 : 1, padding: 1, bias: false, name: 'stem.conv' });
    x = b.relu(b.batchNorm(x, { name: 'stem.bn' }), 'stem.relu');
    if (big) x = b.maxPool(x, 2, { name: 'stem.pool' });
    blocks.forEach((n, stage) => {
      const c = width * 2 ** stage;
      for (let j = 0; j < n; j++) {
        const stride = stage > 0 && j === 0 && b.shape(x)[1]! >= 2 ? 2 : 1;
        const p = `stage${stage}.${j}`;
        let y = b.conv2d(x, c, { kernel: 3, stride, padding: 1, bias: false, name: `${p}.conv1` });
        y = b.relu(b.batchNorm(y, { name: `${p}.bn1` }), `${p}.relu1`);
        y = b.conv2d(y, c, { kernel: 3, stride: 1, padding: 1, bias: false, name: `${p}.conv2` });
        y = b.batchNorm(y, { name: `${p}.bn2` });
        let shortcut = x;
        if (stride !== 1 || b.shape(x)[0] !== c) {
          shortcut = b.conv2d(x, c, { kernel: 1, stride, padding: 0, bias: false, name: `${p}.down.conv` });
          shortcut = b.batchNorm(shortcut, { name: `${p}.down.bn` });
        }
        x = b.relu(b.addResidual(y, shortcut, `${p}.add`), `${p}.relu2`);
      }
    });
  } else {
    throw new InputError('ARCH_INVALID', `unknown architecture kind "${(arch as { kind: string }).kind}"`);
  }
  x = b.flatten(b.globalAvgPool(x, 'head.gap'), 'head.flatten');
  if (dropout > 0) x = b.dropout(x, dropout, 'head.dropout');
  return b.build(b.linear(x, numOutputs, { name: 'head.fc' }));
}

/**
 * Fresh parameters: conv weights He-normal (fan-in, gain √2), linear weights and all biases
 * uniform ±1/√fanIn (PyTorch's defaults), BN gamma 1 / beta 0, running mean 0 / var 1.
 *
 * @example const params = initParameters(graph, 1);
 */
export function initParameters(graph: LayerGraph, seed: number): ParamSet {
  const rng = new Rng(seed);
  const trainable = graph.params.map((p) => {
    const r = rng.fork(p.name);
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const bound = 1 / Math.sqrt(p.fanIn);
    switch (p.kind) {
      case 'conv_weight': {
        const sd = Math.sqrt(2 / p.fanIn);
        for (let i = 0; i < n; i++) data[i] = r.normal(0, sd);
        break;
      }
      case 'linear_weight':
      case 'linear_bias':
      case 'conv_bias':
        for (let i = 0; i < n; i++) data[i] = r.uniform(-bound, bound);
        break;
      case 'bn_weight':
        data.fill(1);
        break;
      case 'bn_bias':
        break;
    }
    return { name: p.name, shape: p.shape.slice(), data };
  });
  const buffers = graph.buffers.map((b) => {
    const n = b.shape.reduce((a, c) => a * c, 1);
    const data = new Float32Array(n);
    if (b.kind === 'running_var') data.fill(1);
    return { name: b.name, shape: b.shape.slice(), data };
  });
  return { trainable, buffers };
}
