/** monitor.html: one self-contained page (inline CSS and SVG, no scripts) for a monitoring run. */
import type { MonitorReport } from './report.js';
import { monitorSectionHtml } from '../report/monitor-section.js';
import { esc } from '../report/svg.js';

const CSS = `body{margin:0;font:15px/1.55 system-ui,sans-serif;color:#1f2937;background:#f8fafc}main{max-width:1180px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px 24px 16px;margin:20px 0}table{border-collapse:collapse;font-size:13.5px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:left;vertical-align:top}thead th{background:#f1f5f9}.ci{color:#6b7280;font-size:12.5px}
.scroll{overflow-x:auto}.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{background:#fff;max-width:100%;height:auto}.plot .ptitle{font-size:13px;font-weight:600}
.plot .tick{font-size:11px;fill:#6b7280}.plot .axis{font-size:12px}.plot .legend{font-size:11.5px}.plot .frame{fill:none;stroke:#cbd5e1}.plot .grid{stroke:#eef2f7}
.warn{background:#fff7ed;border-left:4px solid #ea580c;padding:8px 14px;color:#9a3412}`;

/**
 * @example writeFileAtomic('out/monitor.html', renderMonitorHtml(report, 'models/cxr'))
 */
export function renderMonitorHtml(r: MonitorReport, title = 'radml monitoring'): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head><body><main><h1>${esc(title)}</h1><section>${monitorSectionHtml(r)}</section></main></body></html>\n`;
}
