/** The self-contained HTML page: inline CSS, inline SVG, no scripts, no external assets. */
import type { EvaluationResults } from '../evaluate/schema.js';
import { errorMessage } from '../util/errors.js';
import { type ReportContext, type ReportSection, defaultSections } from './sections.js';
import { esc } from './svg.js';
import { monitorSection } from './monitor-section.js';

export interface RenderOptions {
  title?: string;
  /** Replace the section list (default: `defaultSections`). */
  sections?: ReportSection[];
  /** Sections appended after the default ones (e.g. robustness, saliency). */
  extraSections?: ReportSection[];
  extras?: Record<string, unknown>;
}

const CSS = `
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--accent:#1f5fa8;--warn:#9a3412;--warnbg:#fff7ed}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#f8fafc}
header{background:#fff;border-bottom:1px solid var(--line);padding:20px 32px}
header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;color:var(--muted)}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid var(--line);font-size:14px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 24px 16px;margin:20px 0}
h2{font-size:20px;margin:12px 0 8px}
h3{font-size:16px;margin:16px 0 6px}
h4{font-size:15px;margin:14px 0 4px;color:var(--muted)}
table{border-collapse:collapse;margin:8px 0;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:5px 10px;text-align:left;vertical-align:top}
td:first-child{min-width:140px}
thead th{background:#f1f5f9;font-weight:600}
table.kv th{font-weight:600;width:300px;background:none}
tr.headline td{background:#eff6ff;font-weight:600}
tr.muted td{color:var(--muted)}
td.diag{background:#f1f5f9}
.ci{color:var(--muted);font-size:12.5px;font-weight:400}
.scroll{overflow-x:auto;max-width:100%}
section{overflow-x:auto}
.unfit{display:inline-block;background:#fef2f2;color:#991b1b;border:1px solid #fca5a5;border-radius:4px;padding:0 6px;font-size:12.5px;font-weight:600}
tr.unfit-row td{background:#fff5f5}
.iv{white-space:nowrap}
table.ops td:first-child{min-width:180px;max-width:260px}
.few{display:inline-block;color:#92400e;background:#fffbeb;border-radius:4px;padding:0 4px;font-size:11.5px;white-space:nowrap}
.plots{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.plot{background:#fff;max-width:100%;height:auto}
.plot .ptitle{font-size:13px;font-weight:600;fill:var(--ink)}
.plot .tick{font-size:11px;fill:var(--muted)}
.plot .axis{font-size:12px;fill:var(--ink)}
.plot .legend{font-size:11.5px;fill:var(--ink)}
.plot .legend.muted{fill:#9ca3af}
.plot .cm{font-size:20px;font-weight:600;fill:#111827}
.plot .frame{fill:none;stroke:#cbd5e1}
.plot .grid{stroke:#eef2f7}
.plot .diag{stroke:#9ca3af;stroke-dasharray:4 4}
.plot .ref{stroke:#c8553d;stroke-dasharray:4 3}
.plot .bar{fill:#cbd5e1}
.warn{background:var(--warnbg);border-left:4px solid #ea580c;padding:8px 14px;color:var(--warn)}
ul.flags{list-style:none;padding:0}
ul.flags li{padding:6px 10px;margin:4px 0;border-left:4px solid #cbd5e1;background:#f8fafc}
ul.flags li.concern{border-color:#c8553d;background:#fef2f2}
ul.flags li.warning{border-color:#e9a23b;background:#fffbeb}
.sev{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin-right:6px}
.summary p{font-size:16px}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:16px}
@media print{nav{display:none}section{break-inside:avoid}}
`;

/**
 * Render the evaluation report as one self-contained HTML page. A section that throws is replaced by a
 * note, so one broken renderer never loses the rest of the report.
 * @example writeFileAtomic('report.html', renderReport(results, { title: 'Pneumonia model v3' }))
 */
export function renderReport(results: EvaluationResults, opts: RenderOptions = {}): string {
  const sections = [...(opts.sections ?? defaultSections), ...(opts.extraSections ?? []), monitorSection];
  const ctx: ReportContext = { results, ...(opts.extras ? { extras: opts.extras } : {}) };
  const title = opts.title ?? `Evaluation report — ${results.input.predictions}`;
  const rendered: { s: ReportSection; html: string }[] = [];
  for (const s of sections) {
    let html: string | null;
    try {
      html = s.render(ctx);
    } catch (e) {
      html = `<p class="warn">This section could not be drawn: ${esc(errorMessage(e))}</p>`;
    }
    if (html !== null) rendered.push({ s, html });
  }
  const nav = rendered.map(({ s }) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('');
  const body = rendered.map(({ s, html }) => `<section id="${esc(s.id)}" class="${esc(s.id)}"><h2>${esc(s.title)}</h2>${html}</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><p>radml evaluation · ${esc(results.created.slice(0, 19).replace('T', ' '))} UTC · ${results.design.n_evaluation} evaluation cases</p></header>
<nav>${nav}</nav>
<main>
${body}
</main>
<footer>Generated by radml. Figures are drawn from results.json; every interval is a 95% interval.</footer>
</body></html>
`;
}
