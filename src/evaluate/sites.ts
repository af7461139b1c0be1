/**
 * External validation across sites: leave-one-site-out (threshold chosen on the other sites, applied to
 * the held-out one) and threshold transport (a threshold chosen at site A, applied at site B).
 */
import { type Labelled, thresholdFor } from './binary.js';
import { confusionAt, operatingMetrics } from './confusion.js';
import { aurocDelong } from './discrimination.js';
import { type ThresholdRule, describeRule } from './operating-point.js';
import type { SiteValidation } from './schema.js';
import { fin } from './stats.js';
import { subset } from './subgroups.js';

/**
 * @param siteOf site of each table row (undefined when unknown)
 * @example siteValidation(evaluation, siteColumnValues, { kind: 'sensitivity', target: 0.9 }, 30)
 */
export function siteValidation(data: Labelled, siteOf: (string | undefined)[], rule: ThresholdRule, minN: number): SiteValidation | null {
  const sites = [...new Set(data.rows.map((r) => siteOf[r]).filter((s): s is string => s !== undefined))].sort();
  if (sites.length < 2) return null;
  // A fixed threshold needs no choosing, so transport it as Youden to ask the interesting question.
  const chooser: ThresholdRule = rule.kind === 'fixed' ? { kind: 'youden' } : rule;
  const bySite = new Map(sites.map((s) => [s, subset(data, (row) => siteOf[row] === s)]));
  const loso: SiteValidation['leave_one_site_out'] = [];
  for (const s of sites) {
    const held = bySite.get(s)!;
    const others = subset(data, (row) => siteOf[row] !== undefined && siteOf[row] !== s);
    const t = thresholdFor(chooser, others);
    const nPos = held.labels.reduce((a, b) => a + b, 0);
    const m = t.threshold === null ? null : operatingMetrics(confusionAt(held.scores, held.labels, t.threshold));
    const del = aurocDelong(held.scores, held.labels);
    const entry: SiteValidation['leave_one_site_out'][number] = {
      site: s,
      n: held.scores.length,
      n_positive: nPos,
      threshold: fin(t.threshold),
      auroc: { estimate: del.estimate, ci95: del.ci95 },
      sensitivity: m ? m.sensitivity : { estimate: null, ci95: null },
      specificity: m ? m.specificity : { estimate: null, ci95: null },
    };
    const notes = [t.note, held.scores.length < minN ? `n=${held.scores.length} is below the minimum of ${minN}` : undefined, del.message].filter(Boolean);
    if (notes.length) entry.note = notes.join('; ');
    loso.push(entry);
  }
  const thresholds = sites.map((s) => thresholdFor(chooser, bySite.get(s)!).threshold);
  const sensitivity: (number | null)[][] = [];
  const specificity: (number | null)[][] = [];
  for (let a = 0; a < sites.length; a++) {
    const rowSens: (number | null)[] = [];
    const rowSpec: (number | null)[] = [];
    for (let b = 0; b < sites.length; b++) {
      const t = thresholds[a];
      if (t === null || t === undefined) {
        rowSens.push(null);
        rowSpec.push(null);
        continue;
      }
      const m = operatingMetrics(confusionAt(bySite.get(sites[b]!)!.scores, bySite.get(sites[b]!)!.labels, t));
      rowSens.push(m.sensitivity.estimate);
      rowSpec.push(m.specificity.estimate);
    }
    sensitivity.push(rowSens);
    specificity.push(rowSpec);
  }
  return {
    rule: describeRule(chooser),
    leave_one_site_out: loso,
    transport: { sites, thresholds: thresholds.map((t) => fin(t)), sensitivity, specificity },
  };
}
