/**
 * Hand-drawn inline SVG plots for the report: line plots with bands, forest plots, confusion
 * matrices. No external assets and no scripts; every number passes through `fmt`, so NaN never shows.
 */

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A number for display; "—" for null or non-finite. */
export function fmt(x: number | null | undefined, digits = 3): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';
}

export function pct(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '—';
}

const r2 = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : 0);

export const PALETTE = ['#1f5fa8', '#c8553d', '#2a9d8f', '#8d5fd3', '#e9a23b', '#6b7280'];

export interface Series {
  points: { x: number; y: number }[];
  color?: string;
  dash?: boolean;
  label: string;
  width?: number;
  /** Draw markers instead of a line. */
  markers?: boolean;
}

export interface Band {
  x: number[];
  lower: number[];
  upper: number[];
  color?: string;
  label: string;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xDomain?: [number, number];
  yDomain?: [number, number];
  series: Series[];
  bands?: Band[];
  diagonal?: boolean;
  /** Bars along the bottom (e.g. counts per reliability bin), scaled to a fifth of the height. */
  bars?: { x0: number; x1: number; value: number }[];
  width?: number;
  height?: number;
  /** Legend corner: top-right (default), bottom-right or top-left. */
  legendAt?: 'tr' | 'br' | 'tl';
  /** Short text description for screen readers. */
  description?: string;
}

function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toFixed(3)).toString();
}

/** Line plot with optional shaded bands, a diagonal reference and a legend. */
export function linePlot(o: LinePlotOptions): string {
  const W = o.width ?? 420;
  const H = o.height ?? 340;
  const m = { l: 56, r: 14, t: 30, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const finite = (v: number) => Number.isFinite(v);
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x)).filter(finite);
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y)).filter(finite);
  const xd = o.xDomain ?? [Math.min(0, ...xs), Math.max(1, ...xs)];
  let yd = o.yDomain ?? [Math.min(0, ...ys), Math.max(1e-9, ...ys)];
  if (!(yd[1] > yd[0])) yd = [yd[0], yd[0] + 1];
  const X = (x: number) => m.l + ((Math.min(xd[1], Math.max(xd[0], x)) - xd[0]) / (xd[1] - xd[0])) * pw;
  const Y = (y: number) => m.t + ph - ((Math.min(yd[1], Math.max(yd[0], y)) - yd[0]) / (yd[1] - yd[0])) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.description ?? o.title)}" class="plot">`);
  parts.push(`<title>${esc(o.title)}</title>`);
  parts.push(`<text x="${m.l}" y="18" class="ptitle">${esc(o.title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/>`);
  for (const t of ticks(xd[0], xd[1])) {
    parts.push(`<line x1="${r2(X(t))}" y1="${m.t}" x2="${r2(X(t))}" y2="${m.t + ph}" class="grid"/>`);
    parts.push(`<text x="${r2(X(t))}" y="${m.t + ph + 16}" class="tick" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  for (const t of ticks(yd[0], yd[1])) {
    parts.push(`<line x1="${m.l}" y1="${r2(Y(t))}" x2="${m.l + pw}" y2="${r2(Y(t))}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${r2(Y(t)) + 4}" class="tick" text-anchor="end">${tickLabel(t)}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 8}" class="axis" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" class="axis" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (o.bars && o.bars.length) {
    const maxV = Math.max(...o.bars.map((b) => b.value), 1);
    for (const b of o.bars) {
      const h = (b.value / maxV) * (ph / 5);
      parts.push(`<rect x="${r2(X(b.x0) + 1)}" y="${r2(m.t + ph - h)}" width="${r2(Math.max(0, X(b.x1) - X(b.x0) - 2))}" height="${r2(h)}" class="bar"><title>${b.value} cases</title></rect>`);
    }
  }
  if (o.diagonal) parts.push(`<line x1="${X(xd[0])}" y1="${Y(yd[0])}" x2="${X(xd[1])}" y2="${Y(yd[1])}" class="diag"/>`);
  const legend: { label: string; color: string; band?: boolean; dash?: boolean; marker?: boolean }[] = [];
  (o.bands ?? []).forEach((b, i) => {
    const color = b.color ?? PALETTE[i % PALETTE.length]!;
    const up = b.x.map((x, k) => `${r2(X(x))},${r2(Y(b.upper[k]!))}`);
    const lo = b.x.map((x, k) => `${r2(X(x))},${r2(Y(b.lower[k]!))}`).reverse();
    parts.push(`<polygon points="${[...up, ...lo].join(' ')}" fill="${color}" fill-opacity="0.18" stroke="none"/>`);
    legend.push({ label: b.label, color, band: true });
  });
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => finite(p.x) && finite(p.y));
    if (s.markers) {
      for (const p of pts) parts.push(`<circle cx="${r2(X(p.x))}" cy="${r2(Y(p.y))}" r="3.5" fill="${color}"/>`);
    } else if (pts.length) {
      const d = pts.map((p, k) => `${k ? 'L' : 'M'}${r2(X(p.x))} ${r2(Y(p.y))}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.width ?? 2}"${s.dash ? ' stroke-dasharray="5 4"' : ''}/>`);
    }
    legend.push({ label: s.label, color, ...(s.dash ? { dash: true } : {}), ...(s.markers ? { marker: true } : {}) });
  });
  const at = o.legendAt ?? 'tr';
  legend.forEach((l, i) => {
    const y = at === 'br' ? m.t + ph - 8 - (legend.length - 1 - i) * 15 : m.t + 12 + i * 15;
    const x = at === 'tl' ? m.l + 8 : m.l + pw - 150;
    if (l.marker) parts.push(`<circle cx="${x + 9}" cy="${y - 3}" r="3.5" fill="${l.color}"/>`);
    else if (l.band) parts.push(`<rect x="${x}" y="${y - 7}" width="18" height="9" fill="${l.color}" fill-opacity="0.25"/>`);
    else parts.push(`<line x1="${x}" y1="${y - 3}" x2="${x + 18}" y2="${y - 3}" stroke="${l.color}" stroke-width="2"${l.dash ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${x + 23}" y="${y}" class="legend">${esc(l.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface ForestRow {
  label: string;
  estimate: number | null;
  ci: [number, number] | null;
  n: number;
  muted?: boolean;
}

/** Forest plot: one row per subgroup, point and interval, with a reference line (the overall value). */
export function forestPlot(title: string, rows: ForestRow[], reference: number | null, domain: [number, number] = [0, 1], valueLabel = 'AUROC'): string {
  const W = 560;
  const rowH = 22;
  const m = { l: 190, r: 110, t: 34, b: 34 };
  const H = m.t + m.b + rowH * Math.max(1, rows.length);
  const pw = W - m.l - m.r;
  const X = (x: number) => m.l + ((Math.min(domain[1], Math.max(domain[0], x)) - domain[0]) / (domain[1] - domain[0])) * pw;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" class="plot">`, `<title>${esc(title)}</title>`];
  parts.push(`<text x="8" y="18" class="ptitle">${esc(title)}</text>`);
  for (const t of ticks(domain[0], domain[1])) {
    parts.push(`<line x1="${r2(X(t))}" y1="${m.t - 6}" x2="${r2(X(t))}" y2="${H - m.b}" class="grid"/>`);
    parts.push(`<text x="${r2(X(t))}" y="${H - m.b + 16}" class="tick" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 4}" class="axis" text-anchor="middle">${esc(valueLabel)} (95% CI)</text>`);
  if (reference !== null && Number.isFinite(reference)) {
    parts.push(`<line x1="${r2(X(reference))}" y1="${m.t - 6}" x2="${r2(X(reference))}" y2="${H - m.b}" class="ref"/>`);
  }
  rows.forEach((row, i) => {
    const y = m.t + i * rowH + rowH / 2;
    const cls = row.muted ? 'legend muted' : 'legend';
    parts.push(`<text x="${m.l - 8}" y="${y + 4}" class="${cls}" text-anchor="end">${esc(row.label.length > 28 ? row.label.slice(0, 27) + '…' : row.label)} (n=${row.n})</text>`);
    if (row.ci) parts.push(`<line x1="${r2(X(row.ci[0]))}" y1="${y}" x2="${r2(X(row.ci[1]))}" y2="${y}" stroke="${row.muted ? '#9ca3af' : '#1f2937'}" stroke-width="1.6"/>`);
    if (row.estimate !== null && Number.isFinite(row.estimate)) parts.push(`<rect x="${r2(X(row.estimate) - 4)}" y="${y - 4}" width="8" height="8" fill="${row.muted ? '#9ca3af' : PALETTE[0]}"/>`);
    const txt = row.estimate === null ? 'undefined' : `${fmt(row.estimate, 2)}${row.ci ? ` (${fmt(row.ci[0], 2)}–${fmt(row.ci[1], 2)})` : ''}`;
    parts.push(`<text x="${W - m.r + 6}" y="${y + 4}" class="${cls}">${esc(txt)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** 2×2 confusion matrix drawn as shaded cells with counts and row percentages. */
export function confusionMatrixSvg(title: string, c: { tp: number; fp: number; tn: number; fn: number }, positive = 'positive'): string {
  const W = 340;
  const H = 250;
  const cell = 90;
  const x0 = 120;
  const y0 = 60;
  const rows = [
    { truth: `${positive}`, a: c.tp, b: c.fn, total: c.tp + c.fn },
    { truth: 'negative', a: c.fp, b: c.tn, total: c.fp + c.tn },
  ];
  const max = Math.max(1, c.tp, c.fp, c.tn, c.fn);
  const shade = (v: number, good: boolean) => `${good ? '#2a9d8f' : '#c8553d'}${Math.round(40 + (v / max) * 170).toString(16).padStart(2, '0')}`;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" class="plot">`, `<title>${esc(title)}</title>`];
  parts.push(`<text x="8" y="18" class="ptitle">${esc(title)}</text>`);
  parts.push(`<text x="${x0 + cell}" y="${y0 - 24}" class="axis" text-anchor="middle">model says</text>`);
  parts.push(`<text x="${x0 + cell / 2}" y="${y0 - 6}" class="tick" text-anchor="middle">positive</text>`);
  parts.push(`<text x="${x0 + (3 * cell) / 2}" y="${y0 - 6}" class="tick" text-anchor="middle">negative</text>`);
  parts.push(`<text transform="translate(24 ${y0 + cell}) rotate(-90)" class="axis" text-anchor="middle">truth</text>`);
  rows.forEach((r, i) => {
    const y = y0 + i * cell;
    parts.push(`<text x="${x0 - 8}" y="${y + cell / 2 + 4}" class="tick" text-anchor="end">${esc(r.truth.length > 12 ? r.truth.slice(0, 11) + '…' : r.truth)}</text>`);
    [r.a, r.b].forEach((v, j) => {
      const good = (i === 0 && j === 0) || (i === 1 && j === 1);
      const x = x0 + j * cell;
      const name = i === 0 ? (j === 0 ? 'TP' : 'FN') : j === 0 ? 'FP' : 'TN';
      parts.push(`<rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" fill="${shade(v, good)}" rx="4"/>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 - 4}" class="cm" text-anchor="middle">${v}</text>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 16}" class="tick" text-anchor="middle">${name} · ${r.total ? pct(v / r.total, 0) : '—'}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
