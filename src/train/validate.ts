/**
 * Validation scoring during training: the early-stopping AUROC (positive class for binary,
 * macro one-vs-rest for several classes, mean over findings for multi-label) and the unweighted
 * validation loss, computed from predicted probabilities.
 */
import { auroc } from './auroc.js';
import type { Targets } from './targets.js';

export interface ValidationScore {
  auroc: number | null;
  aurocPerClass: Record<string, number | null>;
  loss: number | null;
  count: number;
}

/**
 * Score probabilities `probs` ([rows.length, K]) of the records `rows` against their targets.
 *
 * @example validationScore(probs, [3, 7, 9], targets).auroc
 */
export function validationScore(probs: Float32Array, rows: ArrayLike<number>, t: Targets): ValidationScore {
  const k = t.classes.length;
  const n = rows.length;
  const perClass: Record<string, number | null> = {};
  const aucs: number[] = [];
  let lossSum = 0;
  let lossCount = 0;
  for (let c = 0; c < k; c++) {
    const s: number[] = [];
    const l: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      if (t.mask[r * k + c] === 0) continue;
      const p = probs[i * k + c]!;
      const y = t.target[r * k + c]!;
      s.push(p);
      l.push(y >= 0.5 ? 1 : 0);
      const pc = Math.min(1 - 1e-7, Math.max(1e-7, p));
      if (t.labelKind === 'multilabel') {
        lossSum -= y * Math.log(pc) + (1 - y) * Math.log(1 - pc);
        lossCount++;
      } else if (y > 0) {
        lossSum -= y * Math.log(pc);
      }
    }
    const a = auroc(s, l);
    perClass[t.classes[c]!] = Number.isFinite(a) ? a : null;
    if (Number.isFinite(a)) aucs.push(a);
  }
  if (t.labelKind === 'categorical') lossCount = n;
  let main: number | null;
  if (t.positiveIndex !== null) main = perClass[t.classes[t.positiveIndex]!] ?? null;
  else main = aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null;
  return { auroc: main, aurocPerClass: perClass, loss: lossCount ? lossSum / lossCount : null, count: n };
}
