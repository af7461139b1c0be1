/**
 * Inter-reader agreement on nominal labels: Cohen's kappa (two readers), Fleiss' kappa (many
 * readers), Krippendorff's alpha (nominal, any number of readers, missing reads allowed), and
 * percentile bootstrap confidence intervals over cases (seeded).
 *
 * Ratings are a cases × readers matrix; `null` is a missing read. Values are category codes
 * (for findings 1 / 0 / -1, all treated as nominal categories).
 */
import { Rng } from '../util/rng.js';

export type Rating = number | null;
/** ratings[case][reader]. */
export type RatingMatrix = readonly (readonly Rating[])[];

export interface Interval {
  lower: number;
  upper: number;
}

export interface StatWithCi {
  value: number;
  /** Percentile bootstrap interval over cases; NaN bounds when the statistic is undefined in too many resamples. */
  ci: Interval;
  /** Cases that entered the statistic. */
  n: number;
}

/**
 * Cohen's kappa between two readers over the cases both read (unweighted, as scikit-learn's
 * `cohen_kappa_score`). NaN when there is no case or expected agreement is 1.
 *
 * @example cohenKappa([1, 0, 1, 1], [1, 0, 0, 1]) // 0.5
 */
export function cohenKappa(a: readonly Rating[], b: readonly Rating[]): number {
  const ma = new Map<number, number>();
  const mb = new Map<number, number>();
  let n = 0;
  let agree = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === null || x === undefined || y === null || y === undefined) continue;
    n++;
    if (x === y) agree++;
    ma.set(x, (ma.get(x) ?? 0) + 1);
    mb.set(y, (mb.get(y) ?? 0) + 1);
  }
  if (n === 0) return NaN;
  let pe = 0;
  for (const [k, ca] of ma) pe += (ca / n) * ((mb.get(k) ?? 0) / n);
  const po = agree / n;
  if (pe === 1) return NaN;
  return (po - pe) / (1 - pe);
}

/**
 * Fleiss' kappa over cases with at least two reads. With the same number of reads per case this is
 * exactly Fleiss (1971) (statsmodels' `fleiss_kappa`); with varying numbers of reads each case's
 * agreement uses its own count (the usual generalisation).
 *
 * @example fleissKappa([[1, 1, 1], [0, 0, 1], [0, 0, 0]])
 */
export function fleissKappa(ratings: RatingMatrix): number {
  const catTotals = new Map<number, number>();
  let sumP = 0;
  let cases = 0;
  let totalReads = 0;
  const caseCounts = new Map<number, number>();
  for (const row of ratings) {
    caseCounts.clear();
    let ni = 0;
    for (const v of row) {
      if (v === null || v === undefined) continue;
      caseCounts.set(v, (caseCounts.get(v) ?? 0) + 1);
      ni++;
    }
    if (ni < 2) continue;
    let s = 0;
    for (const [k, c] of caseCounts) {
      s += c * (c - 1);
      catTotals.set(k, (catTotals.get(k) ?? 0) + c);
    }
    sumP += s / (ni * (ni - 1));
    cases++;
    totalReads += ni;
  }
  if (cases === 0) return NaN;
  const pBar = sumP / cases;
  let pe = 0;
  for (const c of catTotals.values()) pe += (c / totalReads) ** 2;
  if (pe === 1) return NaN;
  return (pBar - pe) / (1 - pe);
}

/**
 * Krippendorff's alpha for nominal data via the coincidence matrix (Krippendorff 2011): units with
 * fewer than two reads are not pairable and are dropped; missing reads are allowed.
 *
 * @example krippendorffAlphaNominal([[1, 1, null], [2, 2, 2], [1, 2, 1]])
 */
export function krippendorffAlphaNominal(ratings: RatingMatrix): number {
  // o[c][k] coincidences; only the diagonal and the marginals are needed for nominal alpha.
  const diag = new Map<number, number>();
  const marg = new Map<number, number>();
  let n = 0;
  const counts = new Map<number, number>();
  for (const row of ratings) {
    counts.clear();
    let mu = 0;
    for (const v of row) {
      if (v === null || v === undefined) continue;
      counts.set(v, (counts.get(v) ?? 0) + 1);
      mu++;
    }
    if (mu < 2) continue;
    for (const [k, c] of counts) {
      diag.set(k, (diag.get(k) ?? 0) + (c * (c - 1)) / (mu - 1));
      marg.set(k, (marg.get(k) ?? 0) + c);
    }
    n += mu;
  }
  if (n < 2) return NaN;
  let observedAgree = 0;
  for (const v of diag.values()) observedAgree += v;
  const Do = (n - observedAgree) / n; // share of pairable values in disagreeing pairs
  let sumSq = 0;
  for (const m of marg.values()) sumSq += m * m;
  const De = (n * n - sumSq) / (n * (n - 1));
  if (De === 0) return NaN;
  return 1 - Do / De;
}

/**
 * Percentile bootstrap over cases (rows) of a statistic of a rating matrix.
 *
 * @example bootstrapCi(ratings, fleissKappa, { seed: 1 })
 */
export function bootstrapCi(
  ratings: RatingMatrix,
  statistic: (r: RatingMatrix) => number,
  options: { resamples?: number; seed?: number | string; level?: number } = {},
): Interval {
  const B = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const rng = new Rng(options.seed ?? 1);
  const n = ratings.length;
  const values: number[] = [];
  const sample: (readonly Rating[])[] = new Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) sample[i] = ratings[rng.int(n)]!;
    const v = statistic(sample);
    if (Number.isFinite(v)) values.push(v);
  }
  // If most resamples are undefined (e.g. all one category), an interval would mislead.
  if (values.length < B / 2) return { lower: NaN, upper: NaN };
  values.sort((x, y) => x - y);
  const q = (p: number) => {
    const pos = p * (values.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return values[lo]! + (values[hi]! - values[lo]!) * (pos - lo);
  };
  return { lower: q((1 - level) / 2), upper: q(1 - (1 - level) / 2) };
}

export interface PairKappa extends StatWithCi {
  readerA: string;
  readerB: string;
}

export interface AgreementSummary {
  cohen: PairKappa[];
  fleiss: StatWithCi;
  krippendorff: StatWithCi;
}

/**
 * All agreement statistics for one finding, each with a bootstrap CI over cases.
 *
 * @example agreementSummary(ratings, ['r1', 'r2', 'r3'], { seed: 7, resamples: 500 })
 */
export function agreementSummary(
  ratings: RatingMatrix,
  readers: readonly string[],
  options: { resamples?: number; seed?: number | string } = {},
): AgreementSummary {
  const cohen: PairKappa[] = [];
  for (let a = 0; a < readers.length; a++) {
    for (let b = a + 1; b < readers.length; b++) {
      const both = ratings.filter((r) => r[a] !== null && r[a] !== undefined && r[b] !== null && r[b] !== undefined);
      const stat = (m: RatingMatrix) => cohenKappa(m.map((r) => r[a] ?? null), m.map((r) => r[b] ?? null));
      cohen.push({
        readerA: readers[a]!,
        readerB: readers[b]!,
        value: stat(both),
        ci: bootstrapCi(both, stat, { ...options, seed: `${options.seed ?? 1}:${a}:${b}` }),
        n: both.length,
      });
    }
  }
  const pairable = ratings.filter((r) => r.filter((v) => v !== null && v !== undefined).length >= 2);
  return {
    cohen,
    fleiss: { value: fleissKappa(pairable), ci: bootstrapCi(pairable, fleissKappa, { ...options, seed: `${options.seed ?? 1}:fleiss` }), n: pairable.length },
    krippendorff: {
      value: krippendorffAlphaNominal(pairable),
      ci: bootstrapCi(pairable, krippendorffAlphaNominal, { ...options, seed: `${options.seed ?? 1}:alpha` }),
      n: pairable.length,
    },
  };
}
