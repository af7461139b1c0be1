/**
 * Cutting a layer graph at an inner value, so the engine's public compilers give us what saliency
 * and OOD need without engine changes:
 *   - the prefix up to a value (flattened, so it is a valid LayerGraph whose "logits" are the
 *     activations) → the activations of a conv layer, or the penultimate features;
 *   - the suffix from that value to the logits (its input is the value) → with
 *     compileInputGradientGraph, d logit / d activations (Grad-CAM).
 * A value is a valid cut when every node after it reads only it or values computed after it (true
 * for every block output of the built-in cnn / resnet; not inside a residual block).
 */
import { InputError } from '../util/errors.js';
import { validateGraph, type LayerGraph, type LayerNode, type ParamSet } from '../engine/index.js';

const FLAT = '__cut.flatten';

function ancestors(graph: LayerGraph, value: string): Set<string> {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const out = new Set<string>();
  const stack = [value];
  while (stack.length) {
    const v = stack.pop()!;
    if (out.has(v) || v === 'input') continue;
    const node = byName.get(v);
    if (!node) throw new InputError('LAYER_UNKNOWN', `the model has no layer "${v}"`);
    out.add(v);
    stack.push(...node.inputs);
  }
  return out;
}

/** Names of values where the graph can be cut: spatial ([C,H,W]) outputs that separate input from logits. */
export function cutPoints(graph: LayerGraph): string[] {
  return graph.nodes
    .filter((n) => graph.shapes[n.name]!.length === 3)
    .map((n) => n.name)
    .filter((v) => {
      try {
        suffixGraph(graph, v);
        return true;
      } catch {
        return false;
      }
    });
}

/** The last spatial cut point: the default Grad-CAM layer (the output of the last conv block). */
export function lastConvLayer(graph: LayerGraph): string {
  const cuts = cutPoints(graph);
  if (cuts.length === 0) throw new InputError('LAYER_UNKNOWN', 'the model has no spatial layer to compute Grad-CAM on');
  return cuts[cuts.length - 1]!;
}

/**
 * The value feeding the final linear layer (the embedding used for OOD detection), or undefined when
 * the output is not a linear layer.
 */
export function penultimateValue(graph: LayerGraph): string | undefined {
  const out = graph.nodes.find((n) => n.name === graph.output);
  if (!out || out.op !== 'linear') return undefined;
  let v = out.inputs[0]!;
  // Dropout is the identity at inference; report the value before it.
  for (;;) {
    const n = graph.nodes.find((x) => x.name === v);
    if (n && n.op === 'dropout') v = n.inputs[0]!;
    else return v;
  }
}

/**
 * The graph up to `value`, flattened: its `numOutputs` is the value's size. Export it with
 * exportInferenceModel(..., { outputs: 'logits' }) to read the activations.
 */
export function prefixGraph(graph: LayerGraph, value: string): LayerGraph {
  const keep = ancestors(graph, value);
  const nodes: LayerNode[] = graph.nodes.filter((n) => keep.has(n.name)).map((n) => ({ ...n, inputs: n.inputs.slice() }) as LayerNode);
  if (graph.shapes[value]!.length === 1) return validateGraph({ ...graph, nodes, output: value });
  nodes.push({ op: 'flatten', name: FLAT, inputs: [value] });
  return validateGraph({ ...graph, nodes, output: FLAT });
}

/** The graph from `value` (as its input) to the logits; throws when `value` is not a valid cut. */
export function suffixGraph(graph: LayerGraph, value: string): LayerGraph {
  const before = ancestors(graph, value);
  const nodes: LayerNode[] = [];
  for (const n of graph.nodes) {
    if (before.has(n.name)) continue;
    const inputs = n.inputs.map((i) => {
      if (i === value) return 'input';
      if (i === 'input' || before.has(i)) {
        throw new InputError('LAYER_NOT_CUT', `layer "${value}" does not cut the model: "${n.name}" also reads "${i}" from before it (choose a block output)`);
      }
      return i;
    });
    nodes.push({ ...n, inputs } as LayerNode);
  }
  if (nodes.length === 0) throw new InputError('LAYER_NOT_CUT', `layer "${value}" is the model output`);
  return validateGraph({ ...graph, inputShape: graph.shapes[value]!.slice(), nodes, output: graph.output });
}

/** The parameters and buffers of `sub` taken (by name, in its order) from a full model's ParamSet. */
export function subsetParams(sub: LayerGraph, params: ParamSet): ParamSet {
  const t = new Map(params.trainable.map((x) => [x.name, x]));
  const b = new Map(params.buffers.map((x) => [x.name, x]));
  const pick = (m: Map<string, ParamSet['trainable'][number]>, name: string) => {
    const v = m.get(name);
    if (!v) throw new InputError('PARAMS_MISMATCH', `parameters lack "${name}"`);
    return v;
  };
  return { trainable: sub.params.map((p) => pick(t, p.name)), buffers: sub.buffers.map((p) => pick(b, p.name)) };
}
