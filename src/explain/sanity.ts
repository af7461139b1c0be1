/**
 * The model-parameter randomisation test (Adebayo et al. 2018): a saliency method that explains the
 * model must give different maps once the model's weights are replaced by random ones. Layers are
 * re-initialised cascading from the output towards the input; at each stage the Spearman rank
 * correlation between the trained and the randomised maps (of |map|) is reported.
 */
import { initParameters, type LayerGraph, type ParamSet } from '../engine/index.js';
import { GradientModel } from './model.js';
import { spearman } from './metrics.js';

export type MapFunction = (model: GradientModel, x: Float32Array, n: number, classes: number[]) => Promise<Float32Array>;

export interface RandomisationStage {
  /** Layers (parameter prefixes) randomised so far, output first. */
  randomised: string[];
  /** Spearman correlation of |map| per image, trained vs randomised. */
  spearman: number[];
  meanSpearman: number;
}

export interface RandomisationResult {
  stages: RandomisationStage[];
  /** Mean Spearman with every layer randomised. */
  fullyRandomisedSpearman: number;
  /** True when the fully randomised maps correlate less than `threshold` with the trained ones. */
  passed: boolean;
  threshold: number;
}

function layersWithParams(graph: LayerGraph): string[] {
  const out: string[] = [];
  for (const n of graph.nodes) if (graph.params.some((p) => p.name.startsWith(`${n.name}.`))) out.push(n.name);
  return out.reverse();
}

function withRandomised(params: ParamSet, fresh: ParamSet, layers: Set<string>): ParamSet {
  const pick = (t: ParamSet['trainable'][number], f: ParamSet['trainable'][number]) => (layers.has(t.name.slice(0, t.name.lastIndexOf('.'))) ? f : t);
  return {
    trainable: params.trainable.map((t, i) => pick(t, fresh.trainable[i]!)),
    buffers: params.buffers.map((t, i) => pick(t, fresh.buffers[i]!)),
  };
}

/**
 * @example
 *   const r = await randomisationTest(graph, params, x, n, classes, (m, x, n, c) => gradCam(m, x, n, c).then((r) => r.maps));
 *   r.fullyRandomisedSpearman // near 0 for a method that depends on the weights
 */
export async function randomisationTest(
  graph: LayerGraph, params: ParamSet, x: Float32Array, n: number, classes: number[], method: MapFunction,
  opts: { seed?: number; cascade?: boolean; threshold?: number; threads?: number } = {},
): Promise<RandomisationResult> {
  const threshold = opts.threshold ?? 0.5;
  const fresh = initParameters(graph, opts.seed ?? 12345);
  const trained = new GradientModel(graph, params, { threads: opts.threads });
  let ref: Float32Array;
  try {
    ref = await method(trained, x, n, classes);
  } finally {
    await trained.release();
  }
  const per = ref.length / n;
  const layers = layersWithParams(graph);
  const stagesLayers = opts.cascade === false ? [layers] : layers.map((_, i) => layers.slice(0, i + 1));
  const stages: RandomisationStage[] = [];
  for (const set of stagesLayers) {
    const m = new GradientModel(graph, withRandomised(params, fresh, new Set(set)), { threads: opts.threads });
    try {
      const maps = await method(m, x, n, classes);
      const rho: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = ref.subarray(i * per, (i + 1) * per).map(Math.abs);
        const b = maps.subarray(i * per, (i + 1) * per).map(Math.abs);
        const r = spearman(a, b);
        rho.push(Number.isFinite(r) ? r : 0);
      }
      stages.push({ randomised: set, spearman: rho, meanSpearman: rho.reduce((s, v) => s + v, 0) / rho.length });
    } finally {
      await m.release();
    }
  }
  const last = stages[stages.length - 1]!.meanSpearman;
  return { stages, fullyRandomisedSpearman: last, passed: last < threshold, threshold };
}
