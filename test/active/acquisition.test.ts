/** Acquisition functions against numpy references: entropy, BALD mutual information, variation ratio, k-center greedy, k-means++ with a fixed random stream. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { acquire, bald, entropy, gradientEmbeddings, kCenterGreedy, kMeansPlusPlus, leastConfidence, margin, variationRatio } from '../../src/active/index.js';
import { Rng } from '../../src/util/rng.js';

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
const skip = hasNumpy ? false : 'numpy is not importable by python3 (npm test installs test/requirements.txt)';

/** Run a numpy script with JSON on stdin; it prints JSON. */
function numpy(script: string, input: unknown): any {
  const r = spawnSync('python3', ['-c', `import json, sys\nimport numpy as np\nd = json.load(sys.stdin)\n${script}`], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

function softmaxRows(rng: Rng, n: number, k: number, scale = 2): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += out[i * k + c] = Math.exp(rng.normal(0, scale));
    for (let c = 0; c < k; c++) out[i * k + c]! /= s;
  }
  return out;
}
const sigmoids = (rng: Rng, len: number) => Float32Array.from({ length: len }, () => 1 / (1 + Math.exp(-rng.normal(0, 2))));
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('entropy, least confidence, margin: categorical and multi-label (mean, max) match numpy', { skip }, () => {
  const rng = new Rng(3);
  const n = 40;
  const cat = softmaxRows(rng, n, 3);
  const ml = sigmoids(rng, n * 4);
  const ref = numpy(`
p = np.array(d['cat'], dtype=np.float64).reshape(-1, 3)
q = np.array(d['ml'], dtype=np.float64).reshape(-1, 4)
xl = lambda v: np.where(v > 1e-12, v * np.log(np.maximum(v, 1e-300)), 0.0)
hb = -(xl(q) + xl(1 - q))
s = np.sort(p, axis=1)
print(json.dumps({'h': (-xl(p).sum(1)).tolist(), 'hmean': hb.mean(1).tolist(), 'hmax': hb.max(1).tolist(),
  'lc': (1 - p.max(1)).tolist(), 'lcml': (1 - np.maximum(q, 1 - q)).mean(1).tolist(),
  'mg': (1 - (s[:, -1] - s[:, -2])).tolist(), 'mgml': (1 - np.abs(2 * q - 1)).max(1).tolist()}))`, { cat: Array.from(cat), ml: Array.from(ml) });
  close(entropy(cat, n, 3), ref.h);
  close(entropy(ml, n, 4, 'multilabel', 'mean'), ref.hmean);
  close(entropy(ml, n, 4, 'multilabel', 'max'), ref.hmax);
  close(leastConfidence(cat, n, 3), ref.lc);
  close(leastConfidence(ml, n, 4, 'multilabel'), ref.lcml);
  close(margin(cat, n, 3), ref.mg);
  close(margin(ml, n, 4, 'multilabel', 'max'), ref.mgml);
});

test('BALD mutual information and variation ratio from [samples × cases × classes] match numpy', { skip }, () => {
  const rng = new Rng(5);
  const S = 12, n = 30;
  const cat = softmaxRows(rng, S * n, 3); // row (s, i) at (s·n + i)
  const ml = sigmoids(rng, S * n * 2);
  const ref = numpy(`
p = np.array(d['cat'], dtype=np.float64).reshape(${S}, ${n}, 3)
q = np.array(d['ml'], dtype=np.float64).reshape(${S}, ${n}, 2)
xl = lambda v: np.where(v > 1e-12, v * np.log(np.maximum(v, 1e-300)), 0.0)
H = lambda v: -xl(v).sum(-1)
mi = H(p.mean(0)) - H(p).mean(0)
hb = lambda v: -(xl(v) + xl(1 - v))
miml = hb(q.mean(0)) - hb(q).mean(0)
votes = np.stack([(p.argmax(2) == c).sum(0) for c in range(3)], 1)
vr = 1 - votes.max(1) / ${S}
pos = (q > 0.5).sum(0)
vrml = 1 - np.maximum(pos, ${S} - pos) / ${S}
print(json.dumps({'mi': mi.tolist(), 'mimean': miml.mean(1).tolist(), 'mimax': miml.max(1).tolist(), 'vr': vr.tolist(), 'vrml': vrml.mean(1).tolist()}))`, { cat: Array.from(cat), ml: Array.from(ml) });
  close(bald(cat, S, n, 3), ref.mi, 1e-9);
  close(bald(ml, S, n, 2, 'multilabel', 'mean'), ref.mimean, 1e-9);
  close(bald(ml, S, n, 2, 'multilabel', 'max'), ref.mimax, 1e-9);
  close(variationRatio(cat, S, n, 3), ref.vr);
  close(variationRatio(ml, S, n, 2, 'multilabel'), ref.vrml);
  // Identical samples carry no epistemic uncertainty.
  const same = new Float32Array(S * n * 3);
  for (let s = 0; s < S; s++) same.set(cat.subarray(0, n * 3), s * n * 3);
  for (const v of bald(same, S, n, 3)) assert.ok(Math.abs(v) < 1e-6);
});

test('k-center greedy (with and without labelled centres) picks exactly what numpy picks', { skip }, () => {
  const rng = new Rng(8);
  const n = 120, dim = 6, m = 7;
  const x = Float32Array.from({ length: n * dim }, () => rng.normal());
  const l = Float32Array.from({ length: m * dim }, () => rng.normal());
  const ref = numpy(`
X = np.array(d['x'], dtype=np.float32).astype(np.float64).reshape(-1, ${dim})
L = np.array(d['l'], dtype=np.float32).astype(np.float64).reshape(-1, ${dim})
def kcg(X, L, count, first):
    D = lambda a, b: ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    mind = D(X, L).min(1) if L is not None else np.full(len(X), np.inf)
    order, vals = [], []
    if L is None:
        order.append(first); vals.append(None); mind = np.minimum(mind, D(X, X[[first]])[:, 0])
    while len(order) < count:
        m = mind.copy(); m[order] = -1
        i = int(np.argmax(m)); order.append(i); vals.append(float(np.sqrt(mind[i])))
        mind = np.minimum(mind, D(X, X[[i]])[:, 0])
    return order, vals
a, av = kcg(X, L, 15, None)
b, bv = kcg(X, None, 15, 17)
print(json.dumps({'a': a, 'av': av, 'b': b, 'bv': bv[1:]}))`, { x: Array.from(x), l: Array.from(l) });
  const a = kCenterGreedy(x, n, dim, 15, { labelled: l, labelledCount: m });
  assert.deepEqual(a.order, ref.a);
  close(a.values, ref.av, 1e-9);
  const b = kCenterGreedy(x, n, dim, 15, { first: 17 });
  assert.deepEqual(b.order, ref.b);
  assert.ok(Number.isNaN(b.values[0]));
  close(b.values.slice(1), ref.bv, 1e-9);
});

test('k-means++ seeding on BADGE gradient embeddings: same picks as numpy given the same seeded uniforms', { skip }, () => {
  const rng = new Rng(13);
  const n = 150, k = 2, dim = 5, count = 20;
  const probs = softmaxRows(rng, n, k, 1.5);
  const feats = Float32Array.from({ length: n * dim }, () => Math.max(0, rng.normal()));
  const g = gradientEmbeddings(probs, feats, n, k, dim, 'categorical');
  // The same random stream (Rng seed 99) is handed to numpy as a list of uniforms.
  const us = (() => { const r = new Rng(99); return Array.from({ length: count }, () => r.random()); })();
  const r = new Rng(99);
  const got = kMeansPlusPlus(g, n, k * dim, count, () => r.random());
  const ref = numpy(`
p = np.array(d['p'], dtype=np.float32).astype(np.float64).reshape(-1, ${k})
h = np.array(d['h'], dtype=np.float32).astype(np.float64).reshape(-1, ${dim})
y = np.eye(${k})[p.argmax(1)]
G = (np.einsum('nk,nd->nkd', p - y, h)).reshape(len(p), -1).astype(np.float32).astype(np.float64)
us = d['us']
first = int(np.argmax((G ** 2).sum(1)))
order = [first]
d2 = ((G - G[first]) ** 2).sum(1); d2[first] = 0
u = 0
while len(order) < ${count}:
    c = np.cumsum(d2)
    i = int(np.searchsorted(c, us[u] * c[-1], side='right')); u += 1
    order.append(i)
    d2 = np.minimum(d2, ((G - G[i]) ** 2).sum(1)); d2[order] = 0
print(json.dumps({'order': order, 'G': G.ravel()[:40].tolist()}))`, { p: Array.from(probs), h: Array.from(feats), us });
  close(g.subarray(0, 40), ref.G, 1e-6);
  assert.deepEqual(got.order, ref.order);
  assert.equal(new Set(got.order).size, count, 'no case picked twice');
});

test('acquire: value ranking, class balance, diversity, costs and budget', () => {
  const n = 8;
  // p(positive): cases 0..5 are "pneumonia-predicted" except 6, 7; entropy highest near 0.5.
  const p1 = [0.52, 0.55, 0.6, 0.9, 0.95, 0.99, 0.3, 0.05];
  const probabilities = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
  const base = { kind: 'categorical' as const, n, k: 2, probabilities, rng: new Rng(1) };
  const byValue = acquire('entropy', base, { count: 3 });
  assert.deepEqual(byValue.map((a) => a.index), [0, 1, 2]);
  assert.match(byValue[0]!.reason, /entropy 0\.692 nats/);
  const balanced = acquire('entropy', base, { count: 4, balance: true });
  // Round-robin between the predicted-positive list (0,1,2,…) and predicted-negative (6, 7).
  assert.deepEqual(balanced.map((a) => a.index), [0, 6, 1, 7]);
  const costs = [10, 10, 1, 1, 1, 1, 1, 1];
  const cheap = acquire('entropy', base, { count: 2, costs });
  assert.deepEqual(cheap.map((a) => a.index), [2, 6], 'value per unit cost');
  const budget = acquire('entropy', base, { count: 8, costs, budget: 12 });
  assert.ok(budget.reduce((s, a) => s + a.cost, 0) <= 12);
  // Diversity: embeddings put 0, 1, 2 at one spot and 6 far away; top-4 by entropy are 0,1,2,6.
  const emb = Float32Array.from([0, 0, 0.01, 0, 0, 0.01, 5, 5, 5, 5, 5, 5, 9, 9, 9, 9].map((v) => v));
  const div = acquire('entropy', { ...base, embeddings: { data: emb, dim: 2 } }, { count: 2, diversity: true, diversityPool: 2 });
  assert.deepEqual(div.map((a) => a.index), [0, 6], 'the second pick is the far one, not the next most uncertain');
  const rnd = acquire('random', { ...base, rng: new Rng(4) }, { count: 8 });
  assert.deepEqual([...rnd.map((a) => a.index)].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.throws(() => acquire('bald', base, { count: 2 }), /needs at least 2 probability samples/);
  assert.throws(() => acquire('coreset', base, { count: 2 }), /needs penultimate embeddings/);
  assert.throws(() => acquire('entropi', base, { count: 2 }), /did you mean entropy/);
});
