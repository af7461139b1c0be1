/** Small models and data shared by explain/ and robustness/ tests. */
import { buildArchitecture, initParameters, type LayerGraph, type ParamSet } from '../../src/engine/index.js';
import { Rng } from '../../src/util/rng.js';

/** A tiny cnn with BN statistics perturbed away from the identity, so folding and cuts are exercised. */
export function tinyCnn(size = 16, classes = 2, seed = 3): { graph: LayerGraph; params: ParamSet } {
  const graph = buildArchitecture({ kind: 'cnn', width: 4, depth: 2 }, { inChannels: 1, imageSize: size, numOutputs: classes });
  const params = initParameters(graph, seed);
  const rng = new Rng(seed + 100);
  for (const b of params.buffers) for (let i = 0; i < b.data.length; i++) b.data[i] = b.name.endsWith('running_var') ? rng.uniform(0.5, 2) : rng.normal(0, 0.2);
  for (const t of params.trainable) if (t.name.endsWith('bn.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(0.5, 1.5);
  return { graph, params };
}

export function randomImages(n: number, per: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * per }, () => rng.normal(0, 1));
}
