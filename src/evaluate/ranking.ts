/**
 * Discrimination from one sort: the scores are sorted once into groups of tied values, and AUROC,
 * the ROC and PR curves, average precision, DeLong variances and every bootstrap resample are then
 * linear passes over those groups.
 */

/** Binary labels (1 = positive) and scores, sorted once by descending score with ties grouped. */
export interface RankedScores {
  n: number;
  nPositive: number;
  nNegative: number;
  /** Distinct scores, descending. */
  groupScore: Float64Array;
  /** Positives / negatives per distinct score. */
  groupPositives: Int32Array;
  groupNegatives: Int32Array;
  /** For each positive (in input order of positives): its group index. */
  positiveGroup: Int32Array;
  negativeGroup: Int32Array;
}

/**
 * Sort scores once (descending) and group ties. `labels[i]` is 1 for a positive and 0 for a negative.
 * @example rankScores([0.9, 0.2, 0.9], [1, 0, 0]).groupScore // [0.9, 0.2]
 */
export function rankScores(scores: ArrayLike<number>, labels: ArrayLike<number>): RankedScores {
  const n = scores.length;
  // Native numeric sort of a copy (no comparator callback), then each case finds its tie group by
  // binary search over the distinct values: several times faster than sorting an index array.
  const sorted = Float64Array.from(scores as ArrayLike<number>).sort();
  const distinct: number[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const v = sorted[k]!;
    if (distinct.length === 0 || v !== distinct[distinct.length - 1]) distinct.push(v);
  }
  const gScore = Float64Array.from(distinct);
  const groupOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = scores[i]!;
    let lo = 0;
    let hi = gScore.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (gScore[mid]! > v) lo = mid + 1;
      else hi = mid;
    }
    groupOf[i] = lo;
  }
  const g = gScore.length - 1;
  const G = g + 1;
  const groupPositives = new Int32Array(G);
  const groupNegatives = new Int32Array(G);
  let nPositive = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) nPositive++;
  const positiveGroup = new Int32Array(nPositive);
  const negativeGroup = new Int32Array(n - nPositive);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const gi = groupOf[i]!;
    if (labels[i] === 1) {
      groupPositives[gi]!++;
      positiveGroup[p++] = gi;
    } else {
      groupNegatives[gi]!++;
      negativeGroup[q++] = gi;
    }
  }
  return { n, nPositive, nNegative: n - nPositive, groupScore: gScore, groupPositives, groupNegatives, positiveGroup, negativeGroup };
}

/**
 * AUROC (Mann–Whitney, ties count one half) from per-group positive and negative weights.
 * Returns NaN when either class has no weight.
 */
export function aurocFromGroups(groupPositives: ArrayLike<number>, groupNegatives: ArrayLike<number>): number {
  let negativesBelow = 0;
  let sum = 0;
  let P = 0;
  for (let g = groupPositives.length - 1; g >= 0; g--) {
    const wp = groupPositives[g]!;
    const wn = groupNegatives[g]!;
    if (wp !== 0) sum += wp * (negativesBelow + 0.5 * wn);
    negativesBelow += wn;
    P += wp;
  }
  return sum / (P * negativesBelow);
}

export function auroc(r: RankedScores): number {
  return aurocFromGroups(r.groupPositives, r.groupNegatives);
}

export interface RocPoint {
  threshold: number;
  fpr: number;
  tpr: number;
}

/** ROC vertices at each distinct score (predict positive when score ≥ threshold), starting at (0, 0). */
export function rocCurve(r: RankedScores): RocPoint[] {
  const pts: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < r.groupScore.length; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    pts.push({ threshold: r.groupScore[g]!, fpr: fp / r.nNegative, tpr: tp / r.nPositive });
  }
  return pts;
}

/**
 * Partial AUROC over FPR ∈ [0, maxFpr]: the raw area and the McClish-standardised value
 * 0.5·(1 + (A − A_min)/(A_max − A_min)) with A_min = maxFpr²/2, A_max = maxFpr — the same
 * quantity scikit-learn returns for `roc_auc_score(..., max_fpr=maxFpr)`.
 */
export function partialAuroc(r: RankedScores, maxFpr: number): { raw: number; standardized: number } {
  // One pass over the ROC vertices (no point objects: a million distinct scores would mean a million).
  let area = 0;
  let tp = 0;
  let fp = 0;
  let aF = 0;
  let aT = 0;
  for (let g = 0; g < r.groupScore.length; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    const bF = fp / r.nNegative;
    const bT = tp / r.nPositive;
    if (aF >= maxFpr) break;
    if (bF <= maxFpr) area += ((bF - aF) * (aT + bT)) / 2;
    else {
      const tprAt = aT + ((bT - aT) * (maxFpr - aF)) / (bF - aF);
      area += ((maxFpr - aF) * (aT + tprAt)) / 2;
      break;
    }
    aF = bF;
    aT = bT;
  }
  const minArea = 0.5 * maxFpr * maxFpr;
  const maxArea = maxFpr;
  return { raw: area, standardized: 0.5 * (1 + (area - minArea) / (maxArea - minArea)) };
}

/**
 * Indices 0…count−1 of `max` points spread evenly over them (all when count ≤ max), first and last
 * included — how the report thins a curve of a million vertices to a plottable few hundred.
 */
function evenPick(count: number, max: number): (i: number) => boolean {
  if (count <= max) return () => true;
  const want = new Set<number>();
  const step = (count - 1) / (max - 1);
  for (let k = 0; k < max; k++) want.add(Math.round(k * step));
  return (i) => want.has(i);
}

/** `rocCurve` thinned to at most `max` evenly spaced vertices, without building every vertex. */
export function rocCurveSampled(r: RankedScores, max: number): { fpr: number; tpr: number }[] {
  const keep = evenPick(r.groupScore.length + 1, max);
  const out = keep(0) ? [{ fpr: 0, tpr: 0 }] : [];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < r.groupScore.length; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    if (keep(g + 1)) out.push({ fpr: fp / r.nNegative, tpr: tp / r.nPositive });
  }
  return out;
}

/** `prCurve` thinned to at most `max` evenly spaced points, without building every point. */
export function prCurveSampled(r: RankedScores, max: number): { recall: number; precision: number }[] {
  const keep = evenPick(r.groupScore.length, max);
  const out: { recall: number; precision: number }[] = [];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < r.groupScore.length; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    if (keep(g)) out.push({ recall: tp / r.nPositive, precision: tp + fp > 0 ? tp / (tp + fp) : 1 });
  }
  return out;
}

export interface PrPoint {
  threshold: number;
  recall: number;
  precision: number;
}

/** Precision–recall points at each distinct score, descending threshold. */
export function prCurve(r: RankedScores): PrPoint[] {
  const pts: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < r.groupScore.length; g++) {
    tp += r.groupPositives[g]!;
    fp += r.groupNegatives[g]!;
    pts.push({ threshold: r.groupScore[g]!, recall: tp / r.nPositive, precision: tp + fp > 0 ? tp / (tp + fp) : 1 });
  }
  return pts;
}

/** Average precision Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds (scikit-learn's definition, no interpolation). */
export function averagePrecisionFromGroups(groupPositives: ArrayLike<number>, groupNegatives: ArrayLike<number>): number {
  let P = 0;
  for (let g = 0; g < groupPositives.length; g++) P += groupPositives[g]!;
  let tp = 0;
  let fp = 0;
  let sum = 0;
  for (let g = 0; g < groupPositives.length; g++) {
    const wp = groupPositives[g]!;
    tp += wp;
    fp += groupNegatives[g]!;
    if (wp !== 0) sum += wp * (tp / (tp + fp));
  }
  // Summing (wp/P)·precision term by term can round above 1 (e.g. perfect ranking over many groups);
  // one division at the end and a clamp keep AP in [0, 1].
  return Math.min(1, sum / P);
}

export function averagePrecision(r: RankedScores): number {
  return averagePrecisionFromGroups(r.groupPositives, r.groupNegatives);
}

/** DeLong structural components (Sun & Xu 2014, midrank form): V10 per positive, V01 per negative. */
export interface DelongComponents {
  auc: number;
  v10: Float64Array;
  v01: Float64Array;
}

/**
 * Fast DeLong placement values in O(n log n): with groups already sorted, the midrank of every case
 * in the pooled sample and within its own class follows from running counts, so no pairwise loop.
 */
export function delongComponents(r: RankedScores): DelongComponents {
  const m = r.nPositive;
  const n = r.nNegative;
  const G = r.groupScore.length;
  // Negatives strictly below and tied, per group: V10 for a positive at group g = (neg below + ½ neg tied) / n.
  const negBelow = new Float64Array(G);
  const posBelow = new Float64Array(G);
  let nb = 0;
  let pb = 0;
  for (let g = G - 1; g >= 0; g--) {
    negBelow[g] = nb;
    posBelow[g] = pb;
    nb += r.groupNegatives[g]!;
    pb += r.groupPositives[g]!;
  }
  const v10 = new Float64Array(m);
  const v01 = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < m; i++) {
    const g = r.positiveGroup[i]!;
    v10[i] = (negBelow[g]! + 0.5 * r.groupNegatives[g]!) / n;
    sum += v10[i]!;
  }
  for (let j = 0; j < n; j++) {
    const g = r.negativeGroup[j]!;
    // Fraction of positives scored above this negative, ties one half.
    v01[j] = (m - posBelow[g]! - 0.5 * r.groupPositives[g]!) / m;
  }
  return { auc: sum / m, v10, v01 };
}

function covariance(a: Float64Array, b: Float64Array): number {
  const k = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < k; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= k;
  mb /= k;
  let s = 0;
  for (let i = 0; i < k; i++) s += (a[i]! - ma) * (b[i]! - mb);
  return s / (k - 1);
}

/** DeLong variance of one AUROC: var(V10)/m + var(V01)/n. NaN when a class has fewer than 2 cases. */
export function delongVariance(c: DelongComponents): number {
  const m = c.v10.length;
  const n = c.v01.length;
  if (m < 2 || n < 2) return NaN;
  return covariance(c.v10, c.v10) / m + covariance(c.v01, c.v01) / n;
}

/**
 * Paired DeLong covariance of two AUROCs on the same cases. Components must come from the same
 * positives and negatives in the same order (they do when both rankings use the same label vector).
 */
export function delongCovariance(a: DelongComponents, b: DelongComponents): number {
  const m = a.v10.length;
  const n = a.v01.length;
  if (m < 2 || n < 2) return NaN;
  return covariance(a.v10, b.v10) / m + covariance(a.v01, b.v01) / n;
}
