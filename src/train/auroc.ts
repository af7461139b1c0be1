/**
 * Rank-based AUROC (Mann–Whitney U with mid-ranks for ties) used for early stopping and the
 * per-epoch validation score. The evaluation module has the full metric suite with intervals;
 * training only needs the point estimate, so it stays here with no dependency on evaluate/.
 */

/**
 * Area under the ROC curve of `scores` for binary `labels` (1 = positive). NaN when either class is absent.
 *
 * @example auroc([0.1, 0.8, 0.4], [0, 1, 1]) // 1
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`auroc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    // Tied scores share the mean of the ranks they span (1-based ranks i+1 … j+1).
    const midRank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (labels[order[k]!] === 1) {
      rankSumPos += midRank;
      nPos++;
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Mean AUROC over the columns of a multi-label score matrix, skipping entries whose mask is 0 and
 * columns where a class is absent. `scores`, `targets`, `mask` are row-major [n, k].
 */
export function meanColumnAuroc(scores: Float32Array, targets: Float32Array, mask: Float32Array | undefined, n: number, k: number): { mean: number; perColumn: number[] } {
  const perColumn: number[] = [];
  for (let c = 0; c < k; c++) {
    const s: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < n; r++) {
      if (mask && mask[r * k + c] === 0) continue;
      s.push(scores[r * k + c]!);
      l.push(targets[r * k + c]! >= 0.5 ? 1 : 0);
    }
    perColumn.push(auroc(s, l));
  }
  const valid = perColumn.filter((v) => Number.isFinite(v));
  return { mean: valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN, perColumn };
}
