/**
 * Reverse-mode autodiff over a LayerGraph, emitted as one ONNX graph (forward + loss + backward)
 * that ORT runs as an ordinary InferenceSession.
 */
import { InputError } from '../util/errors.js';
import type { LayerGraph, LayerNode, ParamSet } from './graph.js';
import { validateGraph } from './graph.js';
import { emitBackward, emitForward, type Mode } from './layers.js';
import { emitLoss, validateLoss, type LossSpec } from './losses.js';
import { OnnxGraphBuilder } from './onnx-builder.js';

export interface CompileOptions {
  /** 'train': BN batch statistics + dropout masks; 'eval': BN running statistics, no dropout. */
  mode: Mode;
  /** Parameters fed as graph inputs each run, or embedded as initializers. */
  params: 'inputs' | ParamSet;
  /** What the gradient starts from: a loss, or a caller-given seed on the logits (d Σ seed·logits). */
  objective: { kind: 'loss'; loss: LossSpec } | { kind: 'seed' };
  /** Compute gradients of (non-frozen) parameters. */
  paramGrads: boolean;
  /** Parameter name prefixes whose gradients are not computed. */
  freeze?: string[];
  /** Compute d objective / d input. */
  inputGrad: boolean;
}

export interface CompiledGraph {
  onnx: Uint8Array;
  /** Names of parameters whose gradient is an output `grad:<name>`. */
  gradParams: string[];
  /** BN layers whose batch statistics are outputs `<layer>.batch_mean` / `<layer>.batch_var`. */
  batchStatLayers: string[];
  /** Dropout layers needing a mask input `<layer>.mask` ([N, ...shape]). */
  dropoutLayers: string[];
}

export const GRAD_PREFIX = 'grad:';

export function isFrozen(name: string, freeze: string[] | undefined): boolean {
  return !!freeze && freeze.some((p) => name.startsWith(p));
}

/** Builds forward + objective + backward. */
export function compileGraph(graphIn: LayerGraph, opts: CompileOptions): CompiledGraph {
  const graph = validateGraph(graphIn);
  const k = graph.numOutputs;
  const b = new OnnxGraphBuilder(`radml_${opts.objective.kind}_${opts.mode}`);
  const x = b.input('input', ['N', ...graph.inputShape]);
  const embedded = opts.params === 'inputs' ? null : opts.params;
  const paramNames = new Set(graph.params.map((p) => p.name));
  const bufferNames = new Set(graph.buffers.map((p) => p.name));
  if (embedded) {
    checkParams(graph, embedded);
    for (const t of embedded.trainable) b.initializer(t.name, t.shape, t.data);
    if (opts.mode === 'eval') for (const t of embedded.buffers) b.initializer(t.name, t.shape, t.data);
  } else {
    for (const p of graph.params) b.input(p.name, p.shape);
    if (opts.mode === 'eval') for (const p of graph.buffers) b.input(p.name, p.shape);
  }
  const param = (name: string): string => {
    if (!paramNames.has(name)) throw new Error(`internal: unknown parameter ${name}`);
    return name;
  };
  const buffer = (name: string): string => {
    if (!bufferNames.has(name)) throw new Error(`internal: unknown buffer ${name}`);
    return name;
  };
  const dropoutLayers: string[] = [];
  const maskFor = new Map<string, string>();
  const dropoutMask = (node: LayerNode): string => {
    let m = maskFor.get(node.name);
    if (!m) {
      m = b.input(`${node.name}.mask`, ['N', ...graph.shapes[node.name]!]);
      maskFor.set(node.name, m);
      dropoutLayers.push(node.name);
    }
    return m;
  };

  const fwd = emitForward({ b, graph, mode: opts.mode, param, buffer, dropoutMask }, x);
  const logits = fwd.values.get(graph.output)!;
  b.output(logits, 'logits', ['N', k]);

  let seed: string;
  if (opts.objective.kind === 'loss') {
    validateLoss(opts.objective.loss, k);
    const target = b.input('target', ['N', k]);
    const weight = b.input('weight', ['N']);
    const mask = opts.objective.loss.kind === 'bce_logits' ? b.input('mask', ['N', k]) : '';
    const lv = emitLoss(b, opts.objective.loss, k, logits, target, mask, weight);
    b.output(lv.loss, 'loss', []);
    seed = lv.dlogits;
  } else {
    seed = b.input('seed', ['N', k]);
  }

  // Which values carry gradient: those downstream of the input (if wanted) or of a non-frozen param.
  const gradParams = opts.paramGrads ? graph.params.map((p) => p.name).filter((n) => !isFrozen(n, opts.freeze)) : [];
  const gradParamSet = new Set(gradParams);
  const needs = new Set<string>();
  if (opts.inputGrad) needs.add('input');
  const nodeHasGradParams = (n: LayerNode) => gradParamSet.has(`${n.name}.weight`) || gradParamSet.has(`${n.name}.bias`);
  for (const n of graph.nodes) {
    if (nodeHasGradParams(n) || n.inputs.some((i) => needs.has(i))) needs.add(n.name);
  }

  const grads = new Map<string, string[]>([[graph.output, [seed]]]);
  const paramGradValues = new Map<string, string>();
  for (let idx = graph.nodes.length - 1; idx >= 0; idx--) {
    const node = graph.nodes[idx]!;
    const parts = grads.get(node.name);
    if (!parts || !needs.has(node.name)) continue;
    const dy = parts.length === 1 ? parts[0]! : b.op('Sum', parts);
    const r = emitBackward({
      b, graph, node, mode: opts.mode, values: fwd.values, saved: fwd.saved.get(node.name), dy,
      needInput: node.inputs.map((i) => needs.has(i)), needParams: nodeHasGradParams(node), param, dropoutMask,
    });
    r.dx.forEach((d, i) => {
      if (!d || !needs.has(node.inputs[i]!)) return;
      const name = node.inputs[i]!;
      grads.set(name, [...(grads.get(name) ?? []), d]);
    });
    for (const [name, v] of r.dparams) if (gradParamSet.has(name)) paramGradValues.set(name, v);
  }
  for (const name of gradParams) {
    const v = paramGradValues.get(name);
    const spec = graph.params.find((p) => p.name === name)!;
    // A parameter the objective does not depend on (e.g. behind a frozen branch) gets an explicit zero.
    b.output(v ?? b.constF(new Float32Array(spec.shape.reduce((a, c) => a * c, 1)), spec.shape), GRAD_PREFIX + name, spec.shape);
  }
  if (opts.inputGrad) {
    const parts = grads.get('input') ?? [];
    const v = parts.length === 0 ? b.op('Mul', [x, b.scalar(0)]) : parts.length === 1 ? parts[0]! : b.op('Sum', parts);
    b.output(v, 'input_grad', ['N', ...graph.inputShape]);
  }
  for (const s of fwd.batchStats) {
    const c = graph.shapes[s.layer]![0]!;
    b.output(s.mean, `${s.layer}.batch_mean`, [c]);
    b.output(s.variance, `${s.layer}.batch_var`, [c]);
  }
  return { onnx: b.toBytes(), gradParams, batchStatLayers: fwd.batchStats.map((s) => s.layer), dropoutLayers };
}

/** Throws an InputError when a ParamSet does not fit a graph (names, order or shapes). */
export function checkParams(graph: LayerGraph, params: ParamSet): void {
  const bad = (msg: string): never => {
    throw new InputError('PARAMS_MISMATCH', `parameters do not fit the graph: ${msg}`);
  };
  if (params.trainable.length !== graph.params.length) bad(`${params.trainable.length} trainable tensors, graph has ${graph.params.length}`);
  graph.params.forEach((p, i) => {
    const t = params.trainable[i]!;
    if (t.name !== p.name) bad(`trainable #${i} is "${t.name}", expected "${p.name}"`);
    if (t.shape.join(',') !== p.shape.join(',')) bad(`"${p.name}" has shape [${t.shape}], expected [${p.shape}]`);
    if (t.data.length !== p.shape.reduce((a, c) => a * c, 1)) bad(`"${p.name}" has ${t.data.length} values`);
  });
  for (const spec of graph.buffers) {
    const t = params.buffers.find((x) => x.name === spec.name);
    if (!t) bad(`missing buffer "${spec.name}"`);
    else if (t.data.length !== spec.shape.reduce((a, c) => a * c, 1)) bad(`buffer "${spec.name}" has ${t.data.length} values`);
  }
}

// ---- public compile entry points

export interface TrainingGraph {
  onnx: Uint8Array;
  graph: LayerGraph;
  loss: LossSpec;
  /** Parameter name prefixes that are frozen (their grads are empty arrays). */
  freeze: string[];
}

/**
 * Compiles the training-step graph: inputs `input`, `target`, `weight` (+ `mask` for bce_logits,
 * `<layer>.mask` per dropout layer) and every trainable parameter; outputs `loss`, `logits`,
 * `grad:<param>` and BN batch statistics. The batch dimension is dynamic.
 *
 * @example
 *   const tg = compileTrainingGraph(graph, { kind: 'softmax_ce' });
 *   const s = await GradientSession.create(tg);
 */
export function compileTrainingGraph(graph: LayerGraph, loss: LossSpec, opts: { freeze?: string[] } = {}): TrainingGraph {
  const freeze = opts.freeze ?? [];
  const c = compileGraph(graph, { mode: 'train', params: 'inputs', objective: { kind: 'loss', loss }, paramGrads: true, freeze, inputGrad: false });
  if (c.gradParams.length === 0) throw new InputError('FREEZE_INVALID', `freezing [${freeze.join(', ')}] leaves nothing to train`);
  return { onnx: c.onnx, graph, loss, freeze };
}

export type InputGradientObjective = { kind: 'logit' } | { kind: 'loss'; loss: LossSpec };

/**
 * Compiles a graph giving d objective / d input with the given parameters embedded (inference
 * behaviour: BN running statistics, no dropout). Objective `logit`: input `seed` [N,K], gradient of
 * Σ seed·logits (a one-hot seed picks a class logit). Objective `loss`: inputs `target`, `weight`
 * (+ `mask`), outputs `loss` too. Outputs always include `logits` and `input_grad` [N,C,H,W].
 *
 * @example
 *   const bytes = compileInputGradientGraph(graph, params, { kind: 'logit' });
 *   const s = await InputGradientSession.create(bytes, graph);
 */
export function compileInputGradientGraph(graph: LayerGraph, params: ParamSet, objective: InputGradientObjective): Uint8Array {
  return compileGraph(graph, {
    mode: 'eval', params, paramGrads: false, inputGrad: true,
    objective: objective.kind === 'loss' ? objective : { kind: 'seed' },
  }).onnx;
}
