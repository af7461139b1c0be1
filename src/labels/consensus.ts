/**
 * Consensus from several readers, per finding (binary: 1 present, 0 absent; an uncertain read
 * (-1) or a blank counts as no read):
 *
 * - majority: more 1 than 0 votes → 1, more 0 → 0, a tie → -1 (uncertain), no votes → blank;
 *   soft label = fraction of 1 votes;
 * - dawid-skene: EM for the two-class Dawid & Skene (1979) model: each reader r has a sensitivity
 *   P(reads 1 | present) and specificity P(reads 0 | absent), the finding a prevalence; the E-step
 *   gives each case's posterior P(present | reads), the M-step re-estimates the reader parameters
 *   from the posteriors, over the cases that reader actually read. Started from the vote
 *   fractions. Hard label = posterior ≥ 0.5; soft label = posterior;
 * - soft: soft label = vote fraction; hard label 1 / 0 only when all votes agree, else -1.
 */
import type { FindingValue } from '../data/manifest.js';

export type ConsensusMethod = 'majority' | 'dawid-skene' | 'soft';

export interface ReaderEstimate {
  sensitivity: number;
  specificity: number;
  /** Cases this reader gave a 1/0 read for. */
  reads: number;
}

export interface FindingConsensus {
  /** Hard label per case (1 / 0 / -1 / null). */
  label: FindingValue[];
  /** Soft label per case (probability or vote fraction; NaN with no votes). */
  soft: number[];
  /** Dawid–Skene only. */
  readers?: ReaderEstimate[];
  prevalence?: number;
  iterations?: number;
  converged?: boolean;
  logLikelihood?: number;
}

function votes(row: readonly FindingValue[]): { pos: number; neg: number } {
  let pos = 0;
  let neg = 0;
  for (const v of row) {
    if (v === 1) pos++;
    else if (v === 0) neg++;
  }
  return { pos, neg };
}

/**
 * Majority vote per case; ties are uncertain (-1).
 *
 * @example majorityVote([[1, 1, 0], [1, 0, null], [null, null, null]]).label // [1, -1, null]
 */
export function majorityVote(ratings: readonly (readonly FindingValue[])[]): FindingConsensus {
  const label: FindingValue[] = [];
  const soft: number[] = [];
  for (const row of ratings) {
    const { pos, neg } = votes(row);
    soft.push(pos + neg === 0 ? NaN : pos / (pos + neg));
    label.push(pos + neg === 0 ? null : pos > neg ? 1 : neg > pos ? 0 : -1);
  }
  return { label, soft };
}

/**
 * Soft labels (vote fractions); the hard label is kept only where the readers are unanimous.
 *
 * @example softVote([[1, 1], [1, 0]]).label // [1, -1]
 */
export function softVote(ratings: readonly (readonly FindingValue[])[]): FindingConsensus {
  const m = majorityVote(ratings);
  return { label: m.soft.map((s) => (Number.isNaN(s) ? null : s === 1 ? 1 : s === 0 ? 0 : -1)), soft: m.soft };
}

export interface DawidSkeneOptions {
  maxIterations?: number;
  /** Stop when no parameter moves more than this. */
  tolerance?: number;
  /**
   * Beta pseudo-counts added to each reader's sensitivity/specificity counts, keeping estimates
   * off exactly 0 and 1 (which would let one read veto all others).
   */
  pseudoCount?: number;
}

/**
 * Binary Dawid–Skene EM for one finding.
 *
 * @example
 * const r = dawidSkene(ratings); // ratings[case][reader] in {1, 0, -1, null}
 * r.readers![0].sensitivity; r.soft[0] // posterior P(present) of case 0
 */
export function dawidSkene(ratings: readonly (readonly FindingValue[])[], options: DawidSkeneOptions = {}): FindingConsensus {
  const maxIt = options.maxIterations ?? 500;
  const tol = options.tolerance ?? 1e-7;
  const a = options.pseudoCount ?? 0.5;
  const nCases = ratings.length;
  const nReaders = ratings.reduce((m, r) => Math.max(m, r.length), 0);
  // Initial posteriors: vote fractions (0.5 where nobody read).
  const post = new Float64Array(nCases);
  for (let i = 0; i < nCases; i++) {
    const { pos, neg } = votes(ratings[i]!);
    post[i] = pos + neg === 0 ? 0.5 : pos / (pos + neg);
  }
  const sens = new Float64Array(nReaders);
  const spec = new Float64Array(nReaders);
  const reads = new Array<number>(nReaders).fill(0);
  let prevalence = 0.5;
  let iterations = 0;
  let converged = false;
  let logLikelihood = NaN;
  for (let it = 0; it < maxIt; it++) {
    iterations = it + 1;
    // M-step.
    let delta = 0;
    let sumPost = 0;
    let counted = 0;
    for (let r = 0; r < nReaders; r++) {
      let tp = 0, pos = 0, tn = 0, neg = 0, n = 0;
      for (let i = 0; i < nCases; i++) {
        const v = ratings[i]![r];
        if (v !== 1 && v !== 0) continue;
        n++;
        pos += post[i]!;
        neg += 1 - post[i]!;
        if (v === 1) tp += post[i]!;
        else tn += 1 - post[i]!;
      }
      reads[r] = n;
      const s = (tp + a) / (pos + 2 * a);
      const c = (tn + a) / (neg + 2 * a);
      delta = Math.max(delta, Math.abs(s - sens[r]!), Math.abs(c - spec[r]!));
      sens[r] = s;
      spec[r] = c;
    }
    for (let i = 0; i < nCases; i++) {
      const { pos, neg } = votes(ratings[i]!);
      if (pos + neg === 0) continue;
      sumPost += post[i]!;
      counted++;
    }
    const newPrev = counted === 0 ? 0.5 : Math.min(1 - 1e-6, Math.max(1e-6, sumPost / counted));
    delta = Math.max(delta, Math.abs(newPrev - prevalence));
    prevalence = newPrev;
    // E-step (log space for many readers).
    logLikelihood = 0;
    const lp1 = Math.log(prevalence);
    const lp0 = Math.log(1 - prevalence);
    for (let i = 0; i < nCases; i++) {
      const row = ratings[i]!;
      let l1 = lp1;
      let l0 = lp0;
      let any = false;
      for (let r = 0; r < row.length; r++) {
        const v = row[r];
        if (v === 1) {
          l1 += Math.log(sens[r]!);
          l0 += Math.log(1 - spec[r]!);
          any = true;
        } else if (v === 0) {
          l1 += Math.log(1 - sens[r]!);
          l0 += Math.log(spec[r]!);
          any = true;
        }
      }
      if (!any) {
        post[i] = prevalence;
        continue;
      }
      const m = Math.max(l1, l0);
      const z = Math.exp(l1 - m) + Math.exp(l0 - m);
      post[i] = Math.exp(l1 - m) / z;
      logLikelihood += m + Math.log(z);
    }
    if (it > 0 && delta < tol) {
      converged = true;
      break;
    }
  }
  const label: FindingValue[] = [];
  const soft: number[] = [];
  for (let i = 0; i < nCases; i++) {
    const { pos, neg } = votes(ratings[i]!);
    if (pos + neg === 0) {
      label.push(null);
      soft.push(NaN);
    } else {
      label.push(post[i]! >= 0.5 ? 1 : 0);
      soft.push(post[i]!);
    }
  }
  return {
    label,
    soft,
    readers: Array.from({ length: nReaders }, (_, r) => ({ sensitivity: sens[r]!, specificity: spec[r]!, reads: reads[r]! })),
    prevalence,
    iterations,
    converged,
    logLikelihood,
  };
}

/** Run the chosen consensus method on one finding's ratings. */
export function consensus(ratings: readonly (readonly FindingValue[])[], method: ConsensusMethod, options: DawidSkeneOptions = {}): FindingConsensus {
  if (method === 'majority') return majorityVote(ratings);
  if (method === 'soft') return softVote(ratings);
  return dawidSkene(ratings, options);
}
