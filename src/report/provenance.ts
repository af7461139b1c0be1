/** Reading what is known about a model (its model.json, already parsed into results.provenance). */
import type { EvaluationResults } from '../evaluate/schema.js';

export type Json = Record<string, unknown>;

export function modelInfo(results: EvaluationResults): Json | undefined {
  const m = results.provenance['model'];
  return m && typeof m === 'object' && !Array.isArray(m) ? (m as Json) : undefined;
}

/** First present value among dotted paths, e.g. find(model, 'training.epochs', 'epochs'). */
export function find(obj: Json | undefined, ...paths: string[]): unknown {
  if (!obj) return undefined;
  for (const p of paths) {
    let cur: unknown = obj;
    for (const k of p.split('.')) {
      if (cur && typeof cur === 'object' && !Array.isArray(cur) && k in (cur as Json)) cur = (cur as Json)[k];
      else {
        cur = undefined;
        break;
      }
    }
    if (cur !== undefined && cur !== null && cur !== '') return cur;
  }
  return undefined;
}

/** Short text rendering of a provenance value (objects as compact key: value lists). */
export function show(v: unknown, max = 400): string {
  let s: string;
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (Array.isArray(v)) s = v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  else
    s = Object.entries(v as Json)
      .map(([k, x]) => `${k}: ${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`)
      .join('; ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
