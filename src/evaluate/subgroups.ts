/**
 * Subgroup analysis and fairness: every metric per value of a column at the overall operating point,
 * a minimum-n guard, disparity measures over the groups large enough to compare, and plain-language flags.
 */
import type { Labelled } from './binary.js';
import { operatingPointRecord } from './binary.js';
import { brierScore, calibrationErrors } from './calibration.js';
import { aurocDelong } from './discrimination.js';
import type { ThresholdRule } from './operating-point.js';
import { averagePrecision, rankScores } from './ranking.js';
import type { ClassResult, Disparity, Flag, GroupResult } from './schema.js';
import { fin, gatherBytes, gatherFloat } from './stats.js';

export function subset(data: Labelled, keep: (row: number) => boolean): Labelled {
  const idx: number[] = [];
  for (let i = 0; i < data.rows.length; i++) if (keep(data.rows[i]!)) idx.push(i);
  return {
    scores: gatherFloat(data.scores, idx),
    labels: gatherBytes(data.labels, idx),
    rows: idx.map((i) => data.rows[i]!),
  };
}

/** Metrics of one subgroup at a given threshold. */
export function groupResult(data: Labelled, rule: ThresholdRule, threshold: number | null, chosenOn: string, probs: boolean, minN: number, prevalence?: number): GroupResult {
  const r = rankScores(data.scores, data.labels);
  const del = aurocDelong(data.scores, data.labels, r);
  const n = r.n;
  const sufficient = n >= minN && r.nPositive > 0 && r.nNegative > 0;
  let note: string | undefined;
  if (n < minN) note = `n=${n} is below the minimum of ${minN}: shown for completeness, not used for disparity measures or flags.`;
  else if (!sufficient) note = `only ${r.nPositive === 0 ? 'negatives' : 'positives'} in this group: not compared.`;
  let meanP = 0;
  let obs = 0;
  for (let i = 0; i < n; i++) {
    meanP += data.scores[i]!;
    obs += data.labels[i]!;
  }
  const out: GroupResult = {
    n,
    n_positive: r.nPositive,
    n_negative: r.nNegative,
    sufficient,
    auroc: { estimate: del.estimate, ci95: del.ci95 },
    auprc: r.nPositive > 0 ? fin(averagePrecision(r)) : null,
    brier: probs && n > 0 ? fin(brierScore(data.scores, data.labels)) : null,
    ece: probs && n > 0 ? fin(calibrationErrors(data.scores, data.labels).ece) : null,
    mean_predicted: n > 0 ? meanP / n : null,
    observed_rate: n > 0 ? obs / n : null,
    operating_point: operatingPointRecord(rule, threshold, chosenOn, data, prevalence),
  };
  if (note) out.note = note;
  return out;
}

function gap(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  if (v.length < 2) return null;
  return Math.max(...v) - Math.min(...v);
}

/**
 * Disparities over the sufficient groups: equal opportunity difference (TPR range), FPR range,
 * equalized odds difference (the larger of the two, as Fairlearn), AUROC range, and the worst
 * calibration-in-the-large gap.
 */
export function disparities(groups: Record<string, GroupResult>): Disparity {
  const ok = Object.entries(groups).filter(([, g]) => g.sufficient);
  const tpr = ok.map(([, g]) => g.operating_point.sensitivity.estimate);
  const fpr = ok.map(([, g]) => g.operating_point.false_positive_rate.estimate);
  const eo = gap(tpr);
  const fg = gap(fpr);
  const cal = ok
    .map(([, g]) => (g.mean_predicted !== null && g.observed_rate !== null ? Math.abs(g.mean_predicted - g.observed_rate) : null))
    .filter((x): x is number => x !== null);
  return {
    groups_compared: ok.map(([k]) => k),
    equal_opportunity_difference: eo,
    equalized_odds_difference: eo === null || fg === null ? null : Math.max(eo, fg),
    fpr_gap: fg,
    auroc_gap: gap(ok.map(([, g]) => g.auroc.estimate)),
    calibration_gap: cal.length ? Math.max(...cal) : null,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const points = (x: number) => `${(100 * Math.abs(x)).toFixed(0)} points`;

/**
 * Plain words for a group whose calibration-in-the-large differs from the overall one. The direction
 * is the group's own (mean predicted above observed = overestimates), and the comparison with overall
 * says "more" or "less" only when both lean the same way.
 * @example calibrationGapText('site = B', 0.14, 0.06, 0.2)
 * // "For site = B the model overestimates risk (mean predicted 14% vs observed 6%), less than overall (8 points here, 20 points overall)."
 */
export function calibrationGapText(who: string, meanPredicted: number, observed: number, overall: number): string {
  const gap = meanPredicted - observed;
  const dir = gap >= 0 ? 'overestimates' : 'underestimates';
  const own = `For ${who} the model ${dir} risk (mean predicted ${pct(meanPredicted)} vs observed ${pct(observed)})`;
  const overallText = overall === 0 ? 'overall it is calibrated in the large' : `overall it ${overall > 0 ? 'overestimates' : 'underestimates'} by ${points(overall)}`;
  if (overall !== 0 && Math.sign(gap) === Math.sign(overall)) {
    return `${own}, ${Math.abs(gap) > Math.abs(overall) ? 'more' : 'less'} than overall (${points(gap)} here, ${points(overall)} overall).`;
  }
  return `${own}, while ${overallText}.`;
}
const f2 = (x: number) => x.toFixed(2);

/**
 * Plain-language flags for groups that fall short of the overall result by more than `tolerance`;
 * "concern" when the group's 95% interval lies entirely below the overall estimate. `aliases` names,
 * per value, the values of other columns that pick out exactly the same rows.
 */
export function subgroupFlags(column: string, groups: Record<string, GroupResult>, overall: Pick<ClassResult, 'auroc' | 'operating_point'> & { calibration_in_the_large: number | null }, minN: number, tolerance = 0.05, aliases: Record<string, string> = {}): Flag[] {
  const flags: Flag[] = [];
  const small: string[] = [];
  for (const [value, g] of Object.entries(groups)) {
    // Coinciding columns (site = manufacturer) are named together: one flag, not one per column.
    const who = `${column} = ${value}${aliases[value] ? ` (${aliases[value]})` : ''}`;
    if (!g.sufficient) {
      if (g.n < minN) small.push(`${value} (n=${g.n})`);
      continue;
    }
    const checks: [string, { estimate: number | null; ci95: [number, number] | null }, number | null, (x: number) => string, string][] = [
      ['sensitivity', g.operating_point.sensitivity, overall.operating_point.sensitivity.estimate, pct, 'more positive cases are missed'],
      ['specificity', g.operating_point.specificity, overall.operating_point.specificity.estimate, pct, 'more false alarms'],
      ['AUROC', g.auroc, overall.auroc.estimate, f2, 'the model ranks cases less well'],
    ];
    for (const [name, est, ref, fmt, meaning] of checks) {
      if (est.estimate === null || ref === null) continue;
      const d = ref - est.estimate;
      if (d <= tolerance) continue;
      const clear = est.ci95 !== null && est.ci95[1] < ref;
      const ci = est.ci95 ? ` (95% CI ${fmt(est.ci95[0])}–${fmt(est.ci95[1])})` : '';
      flags.push({
        severity: clear ? 'concern' : 'warning',
        text: `${name[0]!.toUpperCase() + name.slice(1)} for ${who} is ${fmt(est.estimate)}${ci}, below the overall ${fmt(ref)}: ${meaning} in this group${clear ? '' : ', though the interval is wide enough that this may be chance'}.`,
      });
    }
    // Judge a group's miscalibration relative to the overall one: a uniformly miscalibrated model is one finding, not one per group.
    const ref = overall.calibration_in_the_large ?? 0;
    // A group less miscalibrated than overall, in the same direction, is not a shortfall of that group.
    const gapHere = g.mean_predicted !== null && g.observed_rate !== null ? g.mean_predicted - g.observed_rate : null;
    if (gapHere !== null && Math.abs(gapHere - ref) > tolerance && (Math.sign(gapHere) !== Math.sign(ref) || Math.abs(gapHere) > Math.abs(ref))) {
      flags.push({ severity: 'warning', text: calibrationGapText(who, g.mean_predicted!, g.observed_rate!, ref) });
    }
  }
  if (small.length) flags.push({ severity: 'info', text: `Too few cases to judge ${column} = ${small.join(', ')}; these groups are listed but not compared.` });
  return flags;
}
