/**
 * Diversity in embedding space: k-center greedy (Sener & Savarese 2018, the core-set heuristic) and
 * k-means++ seeding (Arthur & Vassilvitskii 2007, as BADGE uses it), both in float64 on float32
 * embeddings, deterministic given their first pick and random source.
 */

function sqDist(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = a[i * dim + d]! - b[j * dim + d]!;
    s += t * t;
  }
  return s;
}

/**
 * Greedy k-center: repeatedly take the point farthest (Euclidean) from every centre so far — the
 * labelled points and the points already picked. Without labelled points the first pick is `first`.
 * Ties go to the lowest index. Values are the distance to the nearest centre when picked (NaN for
 * `first` without labelled points).
 *
 * @example kCenterGreedy(x, 100, 64, 10, { labelled: l, labelledCount: 50 }).order // 10 indices in pick order
 */
export function kCenterGreedy(
  x: Float32Array, n: number, dim: number, count: number,
  opts: { labelled?: Float32Array; labelledCount?: number; first?: number } = {},
): { order: number[]; values: number[] } {
  if (x.length !== n * dim) throw new RangeError(`kCenterGreedy: ${x.length} values, expected ${n} × ${dim}`);
  const minD = new Float64Array(n).fill(Infinity);
  const m = opts.labelledCount ?? 0;
  for (let j = 0; j < m; j++) for (let i = 0; i < n; i++) minD[i] = Math.min(minD[i]!, sqDist(x, i, opts.labelled!, j, dim));
  const taken = new Uint8Array(n);
  const order: number[] = [];
  const values: number[] = [];
  const take = (i: number, v: number) => {
    taken[i] = 1;
    order.push(i);
    values.push(v);
    for (let t = 0; t < n; t++) if (!taken[t]) minD[t] = Math.min(minD[t]!, sqDist(x, t, x, i, dim));
  };
  const want = Math.min(count, n);
  if (m === 0 && want > 0) take(opts.first ?? 0, NaN);
  while (order.length < want) {
    let best = -1;
    for (let i = 0; i < n; i++) if (!taken[i] && (best < 0 || minD[i]! > minD[best]!)) best = i;
    take(best, Math.sqrt(minD[best]!));
  }
  return { order, values };
}

/**
 * k-means++ seeding: the first centre is the point of largest norm (as in BADGE's reference code),
 * each next one is drawn with probability ∝ D² (squared distance to the nearest centre) by inverse
 * CDF on `random()` ∈ [0,1): the first index whose running sum of D² exceeds random()·ΣD². When every
 * remaining D² is 0 (duplicates) the lowest unpicked index is taken. Values are D (not squared) at pick.
 *
 * @example kMeansPlusPlus(g, n, dim, 10, () => rng.random())
 */
export function kMeansPlusPlus(x: Float32Array, n: number, dim: number, count: number, random: () => number): { order: number[]; values: number[] } {
  if (x.length !== n * dim) throw new RangeError(`kMeansPlusPlus: ${x.length} values, expected ${n} × ${dim}`);
  const want = Math.min(count, n);
  const order: number[] = [];
  const values: number[] = [];
  if (want === 0) return { order, values };
  let first = 0;
  let bestNorm = -1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[i * dim + d]! ** 2;
    if (s > bestNorm) { bestNorm = s; first = i; }
  }
  const d2 = new Float64Array(n).fill(Infinity);
  const taken = new Uint8Array(n);
  const take = (i: number, v: number) => {
    taken[i] = 1;
    order.push(i);
    values.push(v);
    for (let t = 0; t < n; t++) d2[t] = taken[t] ? 0 : Math.min(d2[t]!, sqDist(x, t, x, i, dim));
  };
  take(first, Math.sqrt(bestNorm));
  while (order.length < want) {
    let total = 0;
    for (let i = 0; i < n; i++) total += d2[i]!;
    let pick = -1;
    if (total > 0) {
      const target = random() * total;
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc += d2[i]!;
        if (acc > target) { pick = i; break; }
      }
      // Rounding can leave target at the very top of the sum: take the last positive point.
      if (pick < 0) for (let i = n - 1; i >= 0; i--) if (d2[i]! > 0) { pick = i; break; }
    }
    if (pick < 0) pick = taken.indexOf(0);
    take(pick, Math.sqrt(d2[pick]!));
  }
  return { order, values };
}

/**
 * BADGE gradient embeddings: the gradient of the cross-entropy at the model's own hard guess ŷ with
 * respect to the final linear layer's weights, (p − onehot(ŷ)) ⊗ h, [n, k·dim]. Multi-label: ŷ per
 * finding is p > 0.5, with the binary cross-entropy gradient (p_c − ŷ_c)·h.
 *
 * @example const g = gradientEmbeddings(probs, feats, n, 2, 64, 'categorical'); // [n, 128]
 */
export function gradientEmbeddings(probs: ArrayLike<number>, features: Float32Array, n: number, k: number, dim: number, kind: 'categorical' | 'multilabel'): Float32Array {
  const out = new Float32Array(n * k * dim);
  for (let i = 0; i < n; i++) {
    let top = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + top]!) top = c;
    for (let c = 0; c < k; c++) {
      const p = probs[i * k + c]!;
      const y = kind === 'categorical' ? (c === top ? 1 : 0) : p > 0.5 ? 1 : 0;
      const g = p - y;
      for (let d = 0; d < dim; d++) out[(i * k + c) * dim + d] = g * features[i * dim + d]!;
    }
  }
  return out;
}
