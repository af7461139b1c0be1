/**
 * The monitoring section of the HTML report (and the body of monitor.html): the alarm timeline,
 * each detector's test statistic over the stream against its alarm threshold, estimated (label-free)
 * against realized performance with intervals, and the prevalence estimates.
 */
import type { MonitorReport } from '../monitor/report.js';
import type { ReportSection } from './sections.js';
import { PALETTE, esc, fmt, linePlot, type Series } from './svg.js';

const pv = (p: number | null) => (p === null ? '—' : p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const ci = (e: number | null, c: [number, number] | null | undefined) => (e === null ? '—' : `${fmt(e)}${c ? ` <span class="ci">(${fmt(c[0])}–${fmt(c[1])})</span>` : ''}`);

/** −log10 p of every alarming test over the stream, one plot per detector kind, with the per-evaluation threshold. */
function timelinePlots(r: MonitorReport): string {
  const kinds = ['covariate', 'prediction', 'prior', 'ood', 'performance'] as const;
  const plots: string[] = [];
  for (const kind of kinds) {
    const byKey = new Map<string, { x: number; y: number }[]>();
    const thr: { x: number; y: number }[] = [];
    for (const ev of r.series) {
      const fam = ev.tests.filter((t) => t.p_value !== null).length;
      thr.push({ x: ev.index, y: -Math.log10(ev.alpha / Math.max(1, fam)) });
      for (const t of ev.tests) {
        if (t.kind !== kind || t.p_value === null) continue;
        const k = `${t.detector}: ${t.feature}`;
        if (!byKey.has(k)) byKey.set(k, []);
        byKey.get(k)!.push({ x: ev.index, y: Math.min(30, -Math.log10(Math.max(t.p_value, 1e-30))) });
      }
    }
    if (!byKey.size) continue;
    // The five features that came closest to (or over) the threshold.
    const top = [...byKey.entries()].sort((a, b) => Math.max(...b[1].map((p) => p.y)) - Math.max(...a[1].map((p) => p.y))).slice(0, 5);
    const series: Series[] = top.map(([label, points], i) => ({ label, points, color: PALETTE[i % PALETTE.length]! }));
    series.push({ label: 'alarm threshold (Holm, first step)', points: thr, color: '#9ca3af', dash: true });
    const ymax = Math.max(5, ...series.flatMap((s) => s.points.map((p) => p.y))) * 1.05;
    plots.push(linePlot({ title: `${kind} detectors`, xLabel: 'stream row', yLabel: '−log10 p', series, yDomain: [0, ymax], xDomain: [0, Math.max(1, r.n - 1)], width: 520, height: 300, legendAt: 'tl', description: `−log10 p-values of the ${kind} detectors over the stream` }));
  }
  return plots.length ? `<div class="plots">${plots.join('')}</div>` : '<p>No evaluation yet (fewer studies than the minimum window).</p>';
}

/** Estimated sensitivity per class over the stream (label-free), one plot. */
function estimatePlot(r: MonitorReport): string {
  const byClass = new Map<string, { x: number; y: number }[]>();
  for (const ev of r.series) for (const t of ev.tests) {
    if (t.detector !== 'estimated-performance' || !t.feature.startsWith('sensitivity:')) continue;
    const c = t.feature.slice('sensitivity:'.length);
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push({ x: ev.index, y: t.statistic });
  }
  if (!byClass.size) return '';
  const series: Series[] = [...byClass.entries()].slice(0, 6).map(([label, points], i) => ({ label, points, color: PALETTE[i % PALETTE.length]! }));
  return `<div class="plots">${linePlot({ title: 'estimated sensitivity per window (no labels)', xLabel: 'stream row', yLabel: 'sensitivity', series, yDomain: [0, 1], xDomain: [0, Math.max(1, r.n - 1)], width: 520, height: 300, legendAt: 'br' })}</div>`;
}

/**
 * HTML fragment for a monitoring run.
 * @example const html = monitorSectionHtml(JSON.parse(readFileSync('monitor.json', 'utf8')));
 */
export function monitorSectionHtml(r: MonitorReport): string {
  const s = r.settings;
  const head = r.drift_detected
    ? `<p class="warn">Drift detected: first alarm at stream row ${r.first_alarm_index} (${r.alarms.filter((a) => a.kind !== 'prior').length} alarm(s) other than prevalence).</p>`
    : '<p>No drift alarm over the stream.</p>';
  const prior = r.prior_shift.detected ? `<p class="warn">A change in case mix (prior shift) was detected from row ${r.prior_shift.first_index}; covariate and prediction tests are corrected for it.</p>` : '';
  const alarms = r.alarms.length
    ? `<div class="scroll"><table><thead><tr><th>row</th><th>detector</th><th>feature</th><th>kind</th><th>rule</th><th>statistic</th><th>p</th><th>ended</th><th>what happened</th></tr></thead><tbody>${r.alarms
        .map((a) => `<tr><td>${a.index}</td><td>${esc(a.detector)}</td><td>${esc(a.feature)}</td><td>${a.kind}</td><td>${a.rule}</td><td>${fmt(a.statistic)}</td><td>${pv(a.p_value)}</td><td>${a.ended ?? 'ongoing'}</td><td>${esc(a.message)}</td></tr>`)
        .join('')}</tbody></table></div>`
    : '';
  const classes = Object.keys(r.estimated_performance);
  const perf = `<div class="scroll"><table><thead><tr><th>class</th><th>threshold</th><th>sensitivity est.</th><th>realized</th><th>specificity est.</th><th>realized</th><th>AUROC est.</th><th>realized</th><th>prevalence ref.</th><th>est.</th><th>realized</th></tr></thead><tbody>${classes
    .map((c) => {
      const e = r.estimated_performance[c]!, q = r.realized_performance?.[c], pr = r.prior_shift.prevalence[c];
      return `<tr><td>${esc(c)}</td><td>${fmt(e.threshold)}</td><td>${fmt(e.sensitivity)}</td><td>${q ? ci(q.sensitivity, q.sensitivity_ci95) : '—'}</td><td>${fmt(e.specificity)}</td><td>${q ? ci(q.specificity, q.specificity_ci95) : '—'}</td><td>${fmt(e.auroc)}</td><td>${q ? ci(q.auroc, q.auroc_ci95) : '—'}</td><td>${fmt(pr?.reference ?? null)}</td><td>${fmt(pr?.estimated ?? null)}</td><td>${fmt(pr?.realized ?? null)}</td></tr>`;
    })
    .join('')}</tbody></table></div>`;
  const settings = `<p class="ci">${r.n} studies; window ${s.window} (tests from ${s.min_window}, every ${s.step}); ${s.correction === 'holm' ? 'Holm' : 'Benjamini–Hochberg'} at α = ${s.alpha_per_evaluation.toExponential(2)} per evaluation plus CUSUM (h = ${s.cusum_h.toFixed(2)}) — a budget of ${s.budget_per_10000} false alarm(s) per 10,000 in-distribution studies. Reference: ${esc(r.reference.source)} (${r.reference.studies} studies).</p>`;
  return `${head}${prior}${alarms}<h3>Detectors over the stream</h3>${timelinePlots(r)}<h3>Performance: estimated without labels vs realized from labels (95 % intervals)</h3>${perf}${estimatePlot(r)}${settings}`;
}

/** Report section: renders `extras.monitor` (a MonitorReport) when present. */
export const monitorSection: ReportSection = {
  id: 'monitoring',
  title: 'Monitoring',
  render(ctx) {
    const m = ctx.extras?.['monitor'] as MonitorReport | undefined;
    return m ? monitorSectionHtml(m) : null;
  },
};
