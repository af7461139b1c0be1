/**
 * The report's sections. A section is a named renderer from the evaluation results to an HTML
 * fragment (or null to leave it out); later modules (robustness, saliency) add their own to the list.
 */
import type { ClassResult, EstimateRecord, EvaluationResults, OperatingPoint } from '../evaluate/schema.js';
import { PALETTE, confusionMatrixSvg, esc, fmt, forestPlot, linePlot, pct } from './svg.js';

export interface ReportContext {
  results: EvaluationResults;
  /** Extra data later sections may carry (e.g. robustness results), keyed by section id. */
  extras?: Record<string, unknown>;
}

export interface ReportSection {
  id: string;
  title: string;
  render(ctx: ReportContext): string | null;
}

const ci = (e: EstimateRecord | { estimate: number | null; ci95: [number, number] | null }, digits = 3, asPct = false) => {
  const f = (x: number | null) => (asPct ? pct(x) : fmt(x, digits));
  if (e.estimate === null) return '—';
  return e.ci95 ? `${f(e.estimate)} <span class="ci iv">(${f(e.ci95[0])}–${f(e.ci95[1])})</span>` : f(e.estimate);
};

/**
 * Below this many cases in a proportion's denominator (or in the smaller class, for AUROC) an
 * interval is printed but marked: 1 of 2 positives found is "50% (9–91%)", which reads as a result
 * and is not one.
 */
export const MIN_CASES = 10;

/** An estimate with its interval, marked "too few cases" when its denominator is below MIN_CASES. */
const ciN = (e: EstimateRecord | { estimate: number | null; ci95: [number, number] | null }, denominator: number, digits = 3, asPct = false) => {
  const base = ci(e, digits, asPct);
  if (e.estimate === null || denominator >= MIN_CASES) return base;
  return `${base} <span class="few" title="fewer than ${MIN_CASES} cases: the interval is too wide to read as a result">too few cases (n=${denominator})</span>`;
};

/** p-value for display: "< 0.0001" rather than a row of zeros. */
const pval = (p: number | null) => (p === null ? '—' : p < 0.0001 ? '&lt; 0.0001' : `= ${p.toFixed(4)}`);

const classList = (r: EvaluationResults) => Object.values(r.classes);

function messagesHtml(msgs: string[]): string {
  return msgs.length ? `<ul class="notes">${msgs.map((m) => `<li>${esc(m)}</li>`).join('')}</ul>` : '';
}

/**
 * Which way the model is off on average, in words and numbers: mean predicted probability against the
 * observed rate over the evaluation rows (from the reliability bins, which hold every row). A higher
 * mean prediction than observed rate is overestimation — the same sign as a negative calibration
 * intercept.
 * @example calibrationDirection(c) // "the model overestimates risk on average (mean predicted 14.0% vs observed 6.0%)"
 */
export function calibrationDirection(c: Pick<ClassResult, 'calibration'>): string {
  let n = 0;
  let p = 0;
  let o = 0;
  for (const b of c.calibration.bins) {
    n += b.count;
    p += b.count * b.mean_predicted;
    o += b.count * b.observed_rate;
  }
  if (n === 0) return 'no calibration bins';
  const mp = p / n;
  const ob = o / n;
  const dir = Math.abs(mp - ob) < 0.005 ? 'matches the observed rate on average' : mp > ob ? 'overestimates risk on average' : 'underestimates risk on average';
  return `the model ${dir} (mean predicted ${pct(mp, 1)} vs observed ${pct(ob, 1)})`;
}

/** One-paragraph plain-language reading of a class result. */
export function plainSummary(c: ClassResult, r: EvaluationResults): string {
  const parts: string[] = [];
  const name = esc(c.name);
  if (c.fit_for_use && !c.fit_for_use.fit) parts.push(`<span class="unfit">Not fit for use</span> ${esc(c.fit_for_use.reason ?? '')}; its threshold is not shipped by <code>--save-operating-points</code> unless forced.`);
  parts.push(`<strong>${name}</strong>: ${c.n} evaluation cases (${c.n_positive} positive, ${c.n_negative} negative${c.n_excluded ? `; ${c.n_excluded} excluded` : ''}).`);
  if (c.auroc.estimate === null) {
    parts.push(`Discrimination cannot be measured: ${esc(c.messages[0] ?? 'AUROC is undefined.')}`);
  } else {
    parts.push(
      `AUROC ${fmt(c.auroc.estimate, 2)}${c.auroc.ci95 ? ` (95% CI ${fmt(c.auroc.ci95[0], 2)}–${fmt(c.auroc.ci95[1], 2)})` : ''}: a randomly chosen positive case scores higher than a randomly chosen negative one ${pct(c.auroc.estimate, 0)} of the time.`,
    );
  }
  const op = c.operating_point;
  if (op.threshold !== null && op.sensitivity.estimate !== null && op.specificity.estimate !== null) {
    parts.push(
      `At the operating point (${esc(op.rule_description)}, threshold ${fmt(op.threshold, 3)}, chosen on ${esc(op.chosen_on)}) the model finds ${pct(op.sensitivity.estimate, 0)} of positive cases and correctly clears ${pct(op.specificity.estimate, 0)} of negative ones; ${op.ppv.estimate !== null ? `${pct(op.ppv.estimate, 0)} of the cases it flags are truly positive` : 'it flags no case'} at this data's prevalence (${pct(c.prevalence, 0)}).`,
    );
    if (op.ppv_at_prevalence && op.ppv_at_prevalence.estimate !== null && r.design.deployment_prevalence !== null)
      parts.push(`At the deployment prevalence of ${pct(r.design.deployment_prevalence, 1)}, PPV would be ${pct(op.ppv_at_prevalence.estimate, 0)} and NPV ${pct(op.npv_at_prevalence?.estimate ?? null, 1)}.`);
  } else if (op.note) parts.push(`No operating point: ${esc(op.note)}.`);
  if (c.ece !== null && c.calibration.intercept !== null) {
    const verdict = c.ece < 0.05 ? 'predicted risks are close to observed rates' : c.ece < 0.1 ? 'predicted risks are somewhat off' : 'predicted risks are clearly miscalibrated';
    parts.push(`Calibration: ${verdict} (ECE ${fmt(c.ece, 3)}; ${calibrationDirection(c)}, calibration intercept ${fmt(c.calibration.intercept, 2)}, slope ${fmt(c.calibration.slope, 2)}).`);
  }
  const concerns = c.flags.filter((f) => f.severity === 'concern').length;
  const warnings = c.flags.filter((f) => f.severity === 'warning').length;
  if (concerns + warnings > 0) parts.push(`Subgroups: ${concerns} clear shortfall(s) and ${warnings} possible one(s) — see “Subgroups and fairness”.`);
  return `<p>${parts.join(' ')}</p>`;
}

export const summarySection: ReportSection = {
  id: 'summary',
  title: 'Summary',
  render({ results: r }) {
    const out: string[] = [];
    if (r.design.same_data) out.push(`<p class="warn">Thresholds and recalibration were chosen on the same cases they are evaluated on (--same-data). Operating-point results are optimistic.</p>`);
    const warnings = r.messages.filter((m) => m.level === 'warning');
    if (warnings.length) out.push(`<div class="warn">${messagesHtml(warnings.map((w) => w.text))}</div>`);
    for (const c of classList(r)) out.push(plainSummary(c, r));
    if (r.averages) out.push(`<p>Across ${r.averages.classes_averaged.length} classes: macro AUROC ${fmt(r.averages.macro_auroc, 3)}, micro AUROC ${fmt(r.averages.micro_auroc, 3)}; macro AUPRC ${fmt(r.averages.macro_auprc, 3)}, micro AUPRC ${fmt(r.averages.micro_auprc, 3)}.</p>`);
    if (r.comparison) {
      const d = r.comparison.delong;
      out.push(
        `<p>Model comparison (${esc(r.comparison.score_a)} vs ${esc(r.comparison.score_b)}): AUROC difference ${fmt(d.difference, 3)}${d.ci95 ? ` (95% CI ${fmt(d.ci95[0], 3)} to ${fmt(d.ci95[1], 3)})` : ''}, paired DeLong p ${pval(d.p_value)}.</p>`,
      );
    }
    return out.join('');
  },
};

export const designSection: ReportSection = {
  id: 'design',
  title: 'Data and design',
  render({ results: r }) {
    const d = r.design;
    const rows: [string, string][] = [
      ['Predictions', esc(r.input.predictions)],
      ['Rows', String(r.input.n_rows)],
      ['Label', r.input.label_kind === 'categorical' ? `column “${esc(r.input.label_column ?? '')}”${r.input.positive ? `, positive class “${esc(r.input.positive)}”` : ''}` : 'one column per finding (1 positive, 0 negative; −1 and blank excluded)'],
      ['Tuning rows (thresholds, recalibration)', `${esc(d.tuning)} — n=${d.n_tuning}`],
      ['Evaluation rows (everything reported)', `${esc(d.evaluation)} — n=${d.n_evaluation}`],
      ['Headline operating point', esc(d.primary_rule)],
      ['Error costs', d.costs ? `false negative ${d.costs.fn}, false positive ${d.costs.fp}` : 'not given'],
      ['Deployment prevalence', d.deployment_prevalence !== null ? pct(d.deployment_prevalence) : 'not given (PPV/NPV at the data’s prevalence)'],
      ['Intervals', `DeLong (AUROC), stratified percentile bootstrap with ${d.bootstrap_resamples} resamples (AUROC, AUPRC, ROC band; seed ${d.seed}), Wilson (proportions)`],
      ['Subgroups', d.groups.length ? `${d.groups.map(esc).join(', ')}; groups with n &lt; ${d.min_group_n} are shown but not compared` : 'none requested'],
    ];
    const info = r.messages.filter((m) => m.level === 'info');
    return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>${messagesHtml(info.map((m) => m.text))}`;
  },
};

function rocPlot(c: ClassResult): string {
  const band = c.curves.roc_band;
  return linePlot({
    title: `ROC — ${c.name}`,
    xLabel: '1 − specificity (false positive rate)',
    yLabel: 'sensitivity',
    xDomain: [0, 1],
    yDomain: [0, 1],
    diagonal: true,
    legendAt: 'br',
    ...(band ? { bands: [{ x: band.fpr, lower: band.lower, upper: band.upper, label: '95% bootstrap band' }] } : {}),
    series: [
      { label: `AUROC ${fmt(c.auroc.estimate, 3)}`, points: c.curves.roc.map((p) => ({ x: p.fpr, y: p.tpr })) },
      ...(c.operating_point.sensitivity.estimate !== null && c.operating_point.specificity.estimate !== null
        ? [{ label: 'operating point', markers: true, color: PALETTE[1]!, points: [{ x: 1 - c.operating_point.specificity.estimate, y: c.operating_point.sensitivity.estimate }] }]
        : []),
    ],
    description: `ROC curve for ${c.name}, AUROC ${fmt(c.auroc.estimate, 3)}`,
  });
}

function prPlot(c: ClassResult): string {
  return linePlot({
    title: `Precision–recall — ${c.name}`,
    xLabel: 'recall (sensitivity)',
    yLabel: 'precision (PPV)',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [
      { label: `AP ${fmt(c.auprc.estimate, 3)}`, points: c.curves.pr.map((p) => ({ x: p.recall, y: p.precision })) },
      ...(c.prevalence !== null ? [{ label: `prevalence ${fmt(c.prevalence, 2)}`, dash: true, color: PALETTE[5]!, points: [{ x: 0, y: c.prevalence }, { x: 1, y: c.prevalence }] }] : []),
    ],
  });
}

export const discriminationSection: ReportSection = {
  id: 'discrimination',
  title: 'Discrimination',
  render({ results: r }) {
    const out: string[] = [];
    out.push(`<table><thead><tr><th>class</th><th>n (pos/neg)</th><th>AUROC (DeLong 95% CI)</th><th>AUROC bootstrap CI</th><th>AUPRC (bootstrap CI)</th><th>partial AUROC, FPR ≤ ${fmt(r.design.max_fpr, 2)} (McClish)</th></tr></thead><tbody>`);
    for (const c of classList(r)) {
      out.push(
        `<tr${c.fit_for_use && !c.fit_for_use.fit ? ' class="unfit-row"' : ''}><td>${esc(c.name)}${c.fit_for_use && !c.fit_for_use.fit ? ' <span class="unfit">not fit for use</span>' : ''}</td><td>${c.n} (${c.n_positive}/${c.n_negative})</td><td>${ciN(c.auroc, Math.min(c.n_positive, c.n_negative))}</td><td>${c.auroc.ci95_bootstrap ? `${fmt(c.auroc.ci95_bootstrap[0])}–${fmt(c.auroc.ci95_bootstrap[1])}` : '—'}</td><td>${ci(c.auprc)}</td><td>${fmt(c.partial_auroc.standardized)} <span class="ci">(raw area ${fmt(c.partial_auroc.raw, 4)})</span></td></tr>`,
      );
    }
    out.push('</tbody></table>');
    for (const c of classList(r)) {
      if (c.messages.length) out.push(`<div class="classnotes"><h3>${esc(c.name)}: notes</h3>${messagesHtml(c.messages)}</div>`);
      if (c.curves.roc.length || c.curves.pr.length) out.push(`<div class="plots">${c.curves.roc.length ? rocPlot(c) : ''}${c.curves.pr.length ? prPlot(c) : ''}</div>`);
    }
    return out.join('');
  },
};

/** The rule cell of an operating-point row. */
const ruleCell = (op: OperatingPoint) => `<td>${esc(op.rule_description)}${op.note ? `<br><span class="ci">${esc(op.note)}</span>` : ''}</td><td>${fmt(op.threshold, 4)}</td>`;

function opRow(op: OperatingPoint, asHeadline: boolean): string {
  const k = op.confusion;
  return `<tr${asHeadline ? ' class="headline"' : ''}>${ruleCell(op)}<td>${ciN(op.sensitivity, k.tp + k.fn, 3, true)}</td><td>${ciN(op.specificity, k.tn + k.fp, 3, true)}</td><td>${ciN(op.ppv, k.tp + k.fp, 3, true)}</td><td>${ciN(op.npv, k.tn + k.fn, 3, true)}</td><td>${op.ppv_at_prevalence ? ci(op.ppv_at_prevalence, 3, true) : '—'}</td><td>${op.npv_at_prevalence ? ci(op.npv_at_prevalence, 3, true) : '—'}</td></tr>`;
}

function agreementRow(op: OperatingPoint, asHeadline: boolean): string {
  return `<tr${asHeadline ? ' class="headline"' : ''}>${ruleCell(op)}<td>${ci(op.f1)}</td><td>${ci(op.balanced_accuracy)}</td><td>${ci(op.mcc)}</td><td>${ci(op.cohen_kappa)}</td><td>${op.confusion.tp} / ${op.confusion.fp} / ${op.confusion.tn} / ${op.confusion.fn}</td></tr>`;
}

export const operatingPointSection: ReportSection = {
  id: 'operating-points',
  title: 'Operating points',
  render({ results: r }) {
    const out: string[] = [`<p>Each threshold is chosen on the tuning rows and reported on the evaluation rows; a case is called positive when its score is at least the threshold. Proportions carry Wilson 95% intervals; F1, balanced accuracy, MCC and κ carry stratified-bootstrap intervals at the fixed threshold; PPV/NPV at the deployment prevalence use the Wilson bounds of sensitivity and specificity. Proportions with fewer than ${MIN_CASES} cases in their denominator are marked “too few cases”.</p>`];
    // Two tables of seven columns rather than one of twelve: each fits a normal window, and both scroll
    // inside their own box on a narrow one instead of running off the page.
    for (const c of classList(r)) {
      out.push(`<h3>${esc(c.name)}${c.fit_for_use && !c.fit_for_use.fit ? ' <span class="unfit">not fit for use</span>' : ''}</h3><div class="scroll"><table class="ops"><thead><tr><th>rule</th><th>threshold</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>PPV at deployment prevalence</th><th>NPV at deployment prevalence</th></tr></thead><tbody>`);
      for (const op of c.operating_points) out.push(opRow(op, op.rule === c.operating_point.rule));
      out.push('</tbody></table></div>');
      out.push(`<div class="scroll"><table class="ops"><thead><tr><th>rule</th><th>threshold</th><th>F1</th><th>balanced accuracy</th><th>MCC</th><th>Cohen’s κ</th><th>TP / FP / TN / FN</th></tr></thead><tbody>`);
      for (const op of c.operating_points) out.push(agreementRow(op, op.rule === c.operating_point.rule));
      out.push('</tbody></table></div>');
      if (c.operating_point.threshold !== null) out.push(`<div class="plots">${confusionMatrixSvg(`Confusion matrix — ${c.name}, ${c.operating_point.rule}`, c.operating_point.confusion, c.name)}</div>`);
    }
    return out.join('');
  },
};

export const decisionCurveSection: ReportSection = {
  id: 'decision-curve',
  title: 'Decision curve',
  render({ results: r }) {
    const cs = classList(r).filter((c) => c.decision_curve.length);
    if (!cs.length) return null;
    const out = [`<p>Net benefit = true positives/n − false positives/n × p<sub>t</sub>/(1 − p<sub>t</sub>): the model is useful at a threshold probability p<sub>t</sub> where its curve lies above both “treat all” and “treat none”.</p><div class="plots">`];
    for (const c of cs) {
      const dc = c.decision_curve;
      const top = Math.max(0.02, ...dc.map((p) => p.net_benefit_model), c.prevalence ?? 0);
      out.push(
        linePlot({
          title: `Decision curve — ${c.name}`,
          xLabel: 'threshold probability',
          yLabel: 'net benefit',
          xDomain: [0, 1],
          yDomain: [-0.05, top * 1.1],
          series: [
            { label: 'model', points: dc.map((p) => ({ x: p.threshold_probability, y: p.net_benefit_model })) },
            { label: 'treat all', color: PALETTE[1]!, dash: true, points: dc.filter((p) => p.net_benefit_treat_all > -0.05).map((p) => ({ x: p.threshold_probability, y: p.net_benefit_treat_all })) },
            { label: 'treat none', color: PALETTE[5]!, points: dc.map((p) => ({ x: p.threshold_probability, y: 0 })) },
          ],
        }),
      );
    }
    out.push('</div>');
    return out.join('');
  },
};

export const calibrationSection: ReportSection = {
  id: 'calibration',
  title: 'Calibration',
  render({ results: r }) {
    const out: string[] = [];
    out.push(`<table><thead><tr><th>class</th><th>Brier</th><th>log loss</th><th>ECE</th><th>MCE</th><th>calibration slope</th><th>calibration intercept</th></tr></thead><tbody>`);
    for (const c of classList(r)) out.push(`<tr><td>${esc(c.name)}</td><td>${fmt(c.brier, 4)}</td><td>${fmt(c.log_loss, 4)}</td><td>${fmt(c.ece, 4)}</td><td>${fmt(c.mce, 4)}</td><td>${fmt(c.calibration.slope, 3)}</td><td>${fmt(c.calibration.intercept, 3)}</td></tr>`);
    out.push(`</tbody></table><p class="ci">ECE/MCE over ${r.design.calibration_bins} equal-width bins. Slope: logistic regression of the outcome on logit(score) (ideal 1; below 1 means over-confident). Intercept: calibration-in-the-large with logit(score) as offset (ideal 0; negative means risks are overestimated).</p><div class="plots">`);
    for (const c of classList(r)) {
      if (!c.calibration.bins.length) continue;
      out.push(
        linePlot({
          title: `Reliability — ${c.name}`,
          xLabel: 'mean predicted probability',
          yLabel: 'observed fraction positive',
          xDomain: [0, 1],
          yDomain: [0, 1],
          diagonal: true,
          legendAt: 'tl',
          bars: c.calibration.bins.map((b) => ({ x0: b.lower, x1: b.upper, value: b.count })),
          series: [{ label: 'model', points: c.calibration.bins.map((b) => ({ x: b.mean_predicted, y: b.observed_rate })) }, { label: 'bins', markers: true, points: c.calibration.bins.map((b) => ({ x: b.mean_predicted, y: b.observed_rate })) }],
        }),
      );
    }
    out.push('</div>');
    const rec = classList(r).filter((c) => Object.keys(c.recalibration).length > 1);
    if (rec.length) {
      out.push(`<h3>Recalibration (fitted on the tuning rows, measured on the evaluation rows)</h3><table><thead><tr><th>class</th><th>method</th><th>Brier</th><th>ECE</th><th>log loss</th></tr></thead><tbody>`);
      for (const c of rec) for (const [m, v] of Object.entries(c.recalibration)) out.push(`<tr><td>${esc(c.name)}</td><td>${esc(m)}</td><td>${fmt(v.brier, 4)}</td><td>${fmt(v.ece, 4)}</td><td>${fmt(v.log_loss, 4)}</td></tr>`);
      out.push('</tbody></table><p class="ci">The maps are saved in calibration.json; apply them at deployment with <code>applyCalibration</code>.</p>');
    }
    return out.join('');
  },
};

export const subgroupSection: ReportSection = {
  id: 'subgroups',
  title: 'Subgroups and fairness',
  render({ results: r }) {
    const cs = classList(r).filter((c) => Object.keys(c.groups).length);
    if (!cs.length) return null;
    const out: string[] = [`<p>Every group is evaluated at the overall operating point. Groups with fewer than ${r.design.min_group_n} cases, or with one class only, are shown in grey and left out of the disparity measures and flags.</p>`];
    for (const c of cs) {
      out.push(`<h3>${esc(c.name)}</h3>`);
      if (c.flags.length) out.push(`<ul class="flags">${c.flags.map((f) => `<li class="${f.severity}"><span class="sev">${f.severity}</span> ${esc(f.text)}</li>`).join('')}</ul>`);
      else out.push('<p>No group falls short of the overall result by more than 5 points.</p>');
      for (const [col, groups] of Object.entries(c.groups)) {
        const entries = Object.entries(groups);
        out.push(`<h4>${esc(col)}</h4><div class="plots">`);
        out.push(forestPlot(`AUROC by ${col}`, entries.map(([v, g]) => ({ label: v, estimate: g.auroc.estimate, ci: g.auroc.ci95, n: g.n, muted: !g.sufficient })), c.auroc.estimate, [0, 1], 'AUROC'));
        out.push(forestPlot(`Sensitivity by ${col}`, entries.map(([v, g]) => ({ label: v, estimate: g.operating_point.sensitivity.estimate, ci: g.operating_point.sensitivity.ci95, n: g.n, muted: !g.sufficient })), c.operating_point.sensitivity.estimate, [0, 1], 'sensitivity'));
        out.push('</div>');
        out.push(`<div class="scroll"><table><thead><tr><th>${esc(col)}</th><th>n (pos/neg)</th><th>AUROC</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>mean predicted / observed</th><th>ECE</th></tr></thead><tbody>`);
        for (const [v, g] of entries) {
          const op = g.operating_point;
          const k = op.confusion;
          out.push(`<tr${g.sufficient ? '' : ' class="muted"'}><td>${esc(v)}${g.note ? `<br><span class="ci">${esc(g.note)}</span>` : ''}</td><td>${g.n} (${g.n_positive}/${g.n_negative})</td><td>${ciN(g.auroc, Math.min(g.n_positive, g.n_negative))}</td><td>${ciN(op.sensitivity, k.tp + k.fn, 3, true)}</td><td>${ciN(op.specificity, k.tn + k.fp, 3, true)}</td><td>${ciN(op.ppv, k.tp + k.fp, 3, true)}</td><td>${ciN(op.npv, k.tn + k.fn, 3, true)}</td><td>${pct(g.mean_predicted)} / ${pct(g.observed_rate)}</td><td>${fmt(g.ece)}</td></tr>`);
        }
        out.push('</tbody></table></div>');
        const d = c.disparities[col];
        if (d) out.push(`<p class="disp">Across ${d.groups_compared.length} comparable group(s): equal-opportunity difference (sensitivity gap) ${fmt(d.equal_opportunity_difference)}, FPR gap ${fmt(d.fpr_gap)}, equalized-odds difference ${fmt(d.equalized_odds_difference)}, AUROC gap ${fmt(d.auroc_gap)}, worst calibration-in-the-large gap ${fmt(d.calibration_gap)}.</p>`);
      }
    }
    return out.join('');
  },
};

export const sitesSection: ReportSection = {
  id: 'sites',
  title: 'External validation across sites',
  render({ results: r }) {
    const cs = classList(r).filter((c) => c.sites);
    if (!cs.length) return null;
    const out: string[] = [];
    for (const c of cs) {
      const s = c.sites!;
      out.push(`<h3>${esc(c.name)}</h3><p>Leave-one-site-out: the threshold (${esc(s.rule)}) is chosen on all other sites and applied to the held-out site.</p>`);
      out.push(`<table><thead><tr><th>held-out site</th><th>n (pos)</th><th>threshold from other sites</th><th>AUROC</th><th>sensitivity</th><th>specificity</th></tr></thead><tbody>`);
      for (const e of s.leave_one_site_out) out.push(`<tr><td>${esc(e.site)}${e.note ? `<br><span class="ci">${esc(e.note)}</span>` : ''}</td><td>${e.n} (${e.n_positive})</td><td>${fmt(e.threshold, 4)}</td><td>${ciN(e.auroc, Math.min(e.n_positive, e.n - e.n_positive))}</td><td>${ciN(e.sensitivity, e.n_positive, 3, true)}</td><td>${ciN(e.specificity, e.n - e.n_positive, 3, true)}</td></tr>`);
      out.push('</tbody></table>');
      const t = s.transport;
      out.push(`<p>Threshold transport: sensitivity when the threshold chosen at the row’s site is used at the column’s site (diagonal = chosen and used at the same site).</p><div class="scroll"><table class="transport"><thead><tr><th>chosen at ↓ / used at →</th>${t.sites.map((x) => `<th>${esc(x)}</th>`).join('')}<th>threshold</th></tr></thead><tbody>`);
      t.sites.forEach((a, i) => {
        out.push(`<tr><th>${esc(a)}</th>${t.sensitivity[i]!.map((v, j) => `<td${i === j ? ' class="diag"' : ''}>${pct(v)}<br><span class="ci">spec ${pct(t.specificity[i]![j] ?? null)}</span></td>`).join('')}<td>${fmt(t.thresholds[i] ?? null, 4)}</td></tr>`);
      });
      out.push('</tbody></table></div>');
    }
    return out.join('');
  },
};

export const comparisonSection: ReportSection = {
  id: 'comparison',
  title: 'Model comparison',
  render({ results: r }) {
    const c = r.comparison;
    if (!c) return null;
    const d = c.delong;
    const out = [
      `<p>${esc(c.score_a)} (A) against ${esc(c.score_b)} (B) on the same ${c.n} evaluation cases, label “${esc(c.class_name)}”.</p>`,
      `<table class="kv"><tr><th>AUROC A</th><td>${ci(c.auroc_a)}</td></tr><tr><th>AUROC B</th><td>${ci(c.auroc_b)}</td></tr><tr><th>difference A − B (paired DeLong 95% CI)</th><td>${fmt(d.difference)}${d.ci95 ? ` <span class="ci">(${fmt(d.ci95[0])} to ${fmt(d.ci95[1])})</span>` : ''}</td></tr><tr><th>z, p</th><td>${fmt(d.z, 3)}, p ${pval(d.p_value)}</td></tr><tr><th>correlation of the AUROC estimates</th><td>${fmt(d.correlation, 3)}</td></tr><tr><th>thresholds (${esc(c.operating_points.rule)}, chosen on tuning rows)</th><td>A ${fmt(c.operating_points.threshold_a, 4)}, B ${fmt(c.operating_points.threshold_b, 4)}</td></tr></table>`,
    ];
    if (c.mcnemar.length) {
      out.push(`<table><thead><tr><th>cases</th><th>measure</th><th>n</th><th>only A right</th><th>only B right</th><th>difference A − B</th><th>odds ratio</th><th>McNemar exact p</th><th>mid-p</th></tr></thead><tbody>`);
      for (const m of c.mcnemar) out.push(`<tr><td>${m.cases}</td><td>${esc(m.measure)}</td><td>${m.n}</td><td>${m.a_only_correct}</td><td>${m.b_only_correct}</td><td>${pct(m.difference)}</td><td>${fmt(m.odds_ratio, 2)}</td><td>${pval(m.p_exact)}</td><td>${pval(m.p_mid)}</td></tr>`);
      out.push('</tbody></table>');
    }
    out.push(messagesHtml(c.messages));
    return out.join('');
  },
};

export const methodsSection: ReportSection = {
  id: 'methods',
  title: 'Methods',
  render() {
    return `<ul class="methods">
<li>AUROC is the Mann–Whitney statistic (ties count one half). Its 95% interval is DeLong’s, computed with the O(n log n) midrank algorithm of Sun &amp; Xu (2014) and clipped to [0, 1]; the bootstrap interval is the stratified percentile bootstrap (positives and negatives resampled separately), as in pROC.</li>
<li>AUPRC is average precision, Σ (R<sub>k</sub> − R<sub>k−1</sub>) P<sub>k</sub> over distinct thresholds, without interpolation (scikit-learn’s definition).</li>
<li>Partial AUROC is the area for false positive rate up to the stated maximum, standardised by McClish’s correction (0.5 = chance, 1 = perfect), the value scikit-learn’s <code>roc_auc_score(max_fpr=…)</code> returns; the raw area is shown beside it.</li>
<li>Proportions (sensitivity, specificity, PPV, NPV, accuracy) carry Wilson score intervals. MCC and Cohen’s κ follow scikit-learn (MCC is 0 when a margin is empty).</li>
<li>Minimum expected cost minimises c<sub>FN</sub>·π·(1 − sensitivity) + c<sub>FP</sub>·(1 − π)·(1 − specificity) over the tuning rows’ thresholds, with π the deployment prevalence if given, else the tuning prevalence.</li>
<li>Recalibration: Platt scaling is a logistic regression on logit(score); temperature scaling divides logit(score) by T fitted by maximum likelihood; isotonic regression is pool-adjacent-violators with linear interpolation between fitted points.</li>
<li>Paired comparison: DeLong’s test for correlated AUROCs; McNemar’s exact binomial test and its mid-p version on discordant cases, overall and within positives (sensitivity) and negatives (specificity).</li>
<li>Disparities are ranges (max − min) over the groups large enough to compare; equalized-odds difference is the larger of the sensitivity and false-positive-rate ranges (as Fairlearn).</li>
</ul>`;
  },
};

/** The default section list; pass a longer list to `renderReport` to add sections. */
export const defaultSections: ReportSection[] = [
  summarySection,
  designSection,
  discriminationSection,
  operatingPointSection,
  decisionCurveSection,
  calibrationSection,
  subgroupSection,
  sitesSection,
  comparisonSection,
  methodsSection,
];
