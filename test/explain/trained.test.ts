import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { GradientModel } from '../../src/explain/model.js';
import { gradCam, inputGradient, integratedGradients, sumChannels } from '../../src/explain/saliency.js';
import { randomisationTest } from '../../src/explain/sanity.js';
import { localisationSummary, pointingGame, topFractionIoU, energyInMask } from '../../src/explain/metrics.js';
import { LESION, PX, SIZE, toInput, toyData, trainToy } from '../robustness/toy.js';
import type { LayerGraph, ParamSet } from '../../src/engine/index.js';

let graph: LayerGraph;
let params: ParamSet;
before(async () => {
  ({ graph, params } = await trainToy(2, 150));
});

test('localisation metrics on hand-made maps', () => {
  const mask = new Uint8Array(16); mask[5] = 1; mask[6] = 1;
  const map = new Float32Array(16); map[6] = 3; map[0] = 1;
  assert.equal(pointingGame(map, mask, 4), true);
  map[0] = 5;
  assert.equal(pointingGame(map, mask, 4), false);
  assert.equal(pointingGame(map, mask, 4, 1), false);
  assert.equal(pointingGame(map, mask, 4, 2), true);
  assert.equal(topFractionIoU(map, mask, 2 / 16), 1 / 3);
  assert.equal(energyInMask(map, mask), 3 / 8);
});

test('Grad-CAM of the trained tiny model points at the lesion far above chance', async () => {
  const m = new GradientModel(graph, params);
  const d = toyData(64, 31);
  const les = Array.from({ length: d.n }, (_, i) => i).filter((i) => d.labels[i] === LESION);
  const x = new Float32Array(les.length * PX);
  const masks = new Uint8Array(les.length * PX);
  les.forEach((i, j) => { x.set(toInput(d.images.subarray(i * PX, (i + 1) * PX)), j * PX); masks.set(d.masks.subarray(i * PX, (i + 1) * PX), j * PX); });
  const cam = await gradCam(m, x, les.length, les.map(() => LESION), { layer: 'block0.relu' });
  const s = localisationSummary(cam.maps, masks, SIZE, SIZE, { topFraction: 16 / PX });
  assert.equal(s.images, les.length);
  assert.ok(s.pointingHitRate >= 0.8 && s.chanceHitRate < 0.1, JSON.stringify(s));
  const ig = await integratedGradients(m, x.subarray(0, 8 * PX), 8, Array(8).fill(LESION), { steps: 20 });
  const si = localisationSummary(ig.maps, masks.subarray(0, 8 * PX), SIZE, SIZE);
  assert.ok(si.meanEnergyInMask > 3 * si.chanceEnergy, JSON.stringify(si));
  await m.release();
});

test('randomisation sanity test: maps of the trained model differ from those of a randomised one (Spearman), and not from itself', async (t) => {
  const d = toyData(8, 41);
  const x = toInput(d.images);
  const classes = Array.from(d.labels);
  const method = async (m: GradientModel, xx: Float32Array, n: number, c: number[]) => (await gradCam(m, xx, n, c, { layer: 'block0.relu' })).maps;
  const r = await randomisationTest(graph, params, x, d.n, classes, method, { cascade: false });
  const grads = await randomisationTest(graph, params, x, d.n, classes, async (m, xx, n, c) => sumChannels(await inputGradient(m, xx, n, c), n, 1, PX, true), { cascade: false });
  const ig = await randomisationTest(graph, params, x, d.n, classes, async (m, xx, n, c) => (await integratedGradients(m, xx, n, c, { steps: 8 })).maps, { cascade: false });
  t.diagnostic(`Spearman trained vs randomised: Grad-CAM ${r.fullyRandomisedSpearman.toFixed(3)}, gradient ${grads.fullyRandomisedSpearman.toFixed(3)}, IG ${ig.fullyRandomisedSpearman.toFixed(3)}`);
  assert.ok(grads.passed, `gradient: ${grads.fullyRandomisedSpearman}`);
  // Integrated gradients multiply the gradient by (x − baseline), so part of the map is the image
  // itself and survives randomisation (Adebayo et al. 2018, Fig. 2: input × gradient stays correlated):
  // IG must keep more rank correlation than the plain gradient, yet still change with the weights.
  assert.ok(ig.fullyRandomisedSpearman > grads.fullyRandomisedSpearman + 0.1, `IG ${ig.fullyRandomisedSpearman} vs gradient ${grads.fullyRandomisedSpearman}`);
  assert.ok(ig.fullyRandomisedSpearman < 0.9, `IG maps must still depend on the weights: ${ig.fullyRandomisedSpearman}`);
  assert.equal(ig.passed, ig.fullyRandomisedSpearman < ig.threshold);
  assert.ok(r.passed, `fully randomised Spearman ${r.fullyRandomisedSpearman}`);
  assert.ok(r.fullyRandomisedSpearman < 0.4);
  // Control: "randomising" nothing (same parameters) must give ρ = 1, so the test can tell the two apart.
  const same = await randomisationTest(graph, params, x, d.n, classes, async (m, xx, n, c) => method(new GradientModel(graph, params), xx, n, c), { cascade: false });
  assert.ok(same.fullyRandomisedSpearman > 0.999);
  // Cascading from the output: one stage per parameterised layer.
  const cas = await randomisationTest(graph, params, x.subarray(0, 2 * PX), 2, classes.slice(0, 2), method);
  assert.deepEqual(cas.stages.map((s) => s.randomised.at(-1)), ['head.fc', 'block1.bn', 'block1.conv', 'block0.bn', 'block0.conv']);
});
