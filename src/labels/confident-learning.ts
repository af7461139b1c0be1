/**
 * Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) for finding likely label errors from
 * OUT-OF-FOLD predicted probabilities (in-sample predictions have memorised the labels and hide
 * the errors):
 *
 * 1. per-class threshold t_j = mean predicted probability of class j over examples labelled j;
 * 2. confident joint C[s][j]: an example labelled s counts towards the class j with the highest
 *    probability among those with p_j ≥ t_j (examples above no threshold are not counted);
 * 3. calibrate C so each row sums to the number of examples labelled s, normalise to a joint Q;
 * 4. prune by noise rate: for every off-diagonal (s, j), flag the n·Q[s][j] examples labelled s
 *    with the largest margin p_j − p_s;
 * 5. rank the flagged examples by self-confidence p_s or by normalised margin p_s − max_{j≠s} p_j
 *    (ascending: most suspicious first).
 */

export type RankBy = 'self-confidence' | 'normalized-margin';

export interface LabelIssue {
  /** Row index in the input. */
  index: number;
  given: number;
  suggested: number;
  selfConfidence: number;
  normalizedMargin: number;
  rank: number;
}

export interface ConfidentLearningResult {
  thresholds: number[];
  /** Raw confident joint C[given][suggested]. */
  confidentJoint: number[][];
  /** Calibrated, normalised joint Q[given][true]. */
  joint: number[][];
  /** Estimated number of label errors (off-diagonal mass × n). */
  estimatedErrors: number;
  /** Flagged examples, most suspicious first. */
  issues: LabelIssue[];
}

/**
 * Find likely label errors.
 *
 * @example
 * const r = confidentLearning([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.95, 0.05]]);
 * r.issues[0].index // 2: labelled 1, predicted 0 with confidence
 */
export function confidentLearning(given: readonly number[], probs: readonly (readonly number[])[], options: { rankBy?: RankBy } = {}): ConfidentLearningResult {
  const n = given.length;
  if (probs.length !== n) throw new RangeError(`confidentLearning: ${n} labels but ${probs.length} probability rows`);
  const K = probs[0]?.length ?? 0;
  if (K < 2) throw new RangeError('confidentLearning: need probabilities for at least two classes');
  const sum = new Array<number>(K).fill(0);
  const count = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) {
    const s = given[i]!;
    if (!Number.isInteger(s) || s < 0 || s >= K) throw new RangeError(`confidentLearning: label ${s} at row ${i} is not a class index 0..${K - 1}`);
    if (probs[i]!.length !== K) throw new RangeError(`confidentLearning: row ${i} has ${probs[i]!.length} probabilities, expected ${K}`);
    sum[s]! += probs[i]![s]!;
    count[s]!++;
  }
  // A class nobody is labelled with has no threshold; it can then never be "confidently" suggested.
  const thresholds = sum.map((x, j) => (count[j]! > 0 ? x / count[j]! : Infinity));
  const C = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  const assigned = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const p = probs[i]!;
    let best = -1;
    for (let j = 0; j < K; j++) if (p[j]! >= thresholds[j]! && (best < 0 || p[j]! > p[best]!)) best = j;
    if (best >= 0) {
      C[given[i]!]![best]!++;
      assigned[i] = best;
    }
  }
  // Calibrate rows to the label counts, then normalise.
  const Q = C.map((row, s) => {
    const r = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (r > 0 ? (c / r) * count[s]! : 0));
  });
  const total = Q.flat().reduce((a, b) => a + b, 0);
  const joint = Q.map((row) => row.map((q) => (total > 0 ? q / total : 0)));
  let offDiagonal = 0;
  for (let s = 0; s < K; s++) for (let j = 0; j < K; j++) if (s !== j) offDiagonal += joint[s]![j]!;

  // Prune by noise rate.
  const flagged = new Map<number, number>(); // index → suggested class
  for (let s = 0; s < K; s++) {
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (given[i] === s) members.push(i);
    for (let j = 0; j < K; j++) {
      if (j === s) continue;
      const toRemove = Math.round(n * joint[s]![j]!);
      if (toRemove <= 0) continue;
      const ranked = members
        .filter((i) => !flagged.has(i))
        .map((i) => ({ i, margin: probs[i]![j]! - probs[i]![s]! }))
        .sort((a, b) => b.margin - a.margin)
        .slice(0, toRemove);
      for (const r of ranked) flagged.set(r.i, j);
    }
  }
  const issues: LabelIssue[] = [...flagged.entries()].map(([i, j]) => {
    const p = probs[i]!;
    const s = given[i]!;
    let other = -Infinity;
    let argOther = j;
    for (let k = 0; k < K; k++) if (k !== s && p[k]! > other) {
      other = p[k]!;
      argOther = k;
    }
    return { index: i, given: s, suggested: assigned[i]! >= 0 && assigned[i] !== s ? assigned[i]! : argOther, selfConfidence: p[s]!, normalizedMargin: p[s]! - other, rank: 0 };
  });
  const key = options.rankBy === 'normalized-margin' ? (x: LabelIssue) => x.normalizedMargin : (x: LabelIssue) => x.selfConfidence;
  issues.sort((a, b) => key(a) - key(b) || a.index - b.index);
  issues.forEach((x, r) => (x.rank = r + 1));
  return { thresholds, confidentJoint: C, joint, estimatedErrors: Math.round(offDiagonal * n), issues };
}
