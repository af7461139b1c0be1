/**
 * Loss functions emitted as ONNX: the scalar loss and its gradient with respect to the logits,
 * written in closed form (numerically stable: LogSoftmax, Softplus).
 *
 * Definitions (z logits [N,K], t target [N,K], w per-sample weight [N], m mask [N,K]):
 * - softmax_ce: t' = t(1−ε) + ε/K (label smoothing ε), a_k = c_k t'_k (class weights c, default 1),
 *   ℓ_n = −Σ_k a_k (1−p_k)^γ log p_k (γ = focalGamma, 0 = plain cross-entropy),
 *   loss = Σ_n w_n ℓ_n / Σ_n w_n Σ_k c_k t_nk — PyTorch's weighted mean for hard labels. The mask is
 *   not used (drop a sample with weight 0).
 * - bce_logits: t' = t(1−ε) + ε/2, with pos-weight P_k and σ = sigmoid(z):
 *   ℓ = P t' (1−σ)^γ softplus(−z) + (1−t') σ^γ softplus(z),
 *   loss = Σ w_n m_nk ℓ_nk / Σ w_n m_nk.
 * Denominators are clamped at 1e-12, so an all-masked batch has loss 0 and zero gradients.
 */
import { InputError } from '../util/errors.js';
import type { OnnxGraphBuilder } from './onnx-builder.js';

export type LossSpec =
  | { kind: 'softmax_ce'; classWeights?: number[]; labelSmoothing?: number; focalGamma?: number }
  | { kind: 'bce_logits'; posWeights?: number[]; labelSmoothing?: number; focalGamma?: number };

export interface LossValues {
  loss: string;
  dlogits: string;
}

export function validateLoss(loss: LossSpec, k: number): void {
  const eps = loss.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new InputError('LOSS_INVALID', `labelSmoothing must be in [0,1), got ${eps}`);
  const g = loss.focalGamma ?? 0;
  if (!(g >= 0)) throw new InputError('LOSS_INVALID', `focalGamma must be ≥ 0, got ${g}`);
  const w = loss.kind === 'softmax_ce' ? loss.classWeights : loss.kind === 'bce_logits' ? loss.posWeights : undefined;
  if (loss.kind !== 'softmax_ce' && loss.kind !== 'bce_logits') {
    throw new InputError('LOSS_INVALID', `unknown loss kind "${(loss as { kind: string }).kind}"`);
  }
  if (w && (w.length !== k || w.some((v) => !(v >= 0)))) {
    throw new InputError('LOSS_INVALID', `${loss.kind} weights need ${k} non-negative values, got [${w.join(',')}]`);
  }
  if (loss.kind === 'softmax_ce' && k < 2) throw new InputError('LOSS_INVALID', 'softmax_ce needs at least 2 outputs');
}

/** Emits loss and d loss / d logits. `target`,`mask`,`weight` are graph values ([N,K],[N,K],[N]). */
export function emitLoss(b: OnnxGraphBuilder, loss: LossSpec, k: number, z: string, target: string, mask: string, weight: string): LossValues {
  validateLoss(loss, k);
  const eps = loss.labelSmoothing ?? 0;
  const gamma = loss.focalGamma ?? 0;
  const w2 = b.op('Reshape', [weight, b.constI64([-1, 1])]);
  const one = b.scalar(1);
  if (loss.kind === 'softmax_ce') {
    const ts = eps > 0 ? b.op('Add', [b.op('Mul', [target, b.scalar(1 - eps)]), b.scalar(eps / k)]) : target;
    const cw = loss.classWeights ? b.constF(loss.classWeights, [1, k]) : null;
    const aCoef = cw ? b.op('Mul', [ts, cw]) : ts;
    const logp = b.op('LogSoftmax', [z], { axis: 1 });
    const p = b.op('Exp', [logp]);
    let perClass: string; // −a_k (1−p_k)^γ log p_k before the minus sign
    let bCoef: string;
    if (gamma > 0) {
      const om = b.op('Max', [b.op('Sub', [one, p]), b.scalar(1e-12)]);
      const omg = b.op('Pow', [om, b.scalar(gamma)]);
      perClass = b.op('Mul', [b.op('Mul', [aCoef, omg]), logp]);
      // g_k = (1−p)^(γ−1) · ((1−p) − γ p log p); dℓ/dz = p·Σ_k a_k g_k − a∘g
      const gk = b.op('Mul', [
        b.op('Pow', [om, b.scalar(gamma - 1)]),
        b.op('Sub', [om, b.op('Mul', [b.scalar(gamma), b.op('Mul', [p, logp])])]),
      ]);
      bCoef = b.op('Mul', [aCoef, gk]);
    } else {
      perClass = b.op('Mul', [aCoef, logp]);
      bCoef = aCoef;
    }
    const perSample = b.op('Neg', [b.op('ReduceSum', [perClass, b.constI64([1])], { keepdims: 1 })]); // [N,1]
    const sampleDen = cw ? b.op('ReduceSum', [b.op('Mul', [target, cw]), b.constI64([1])], { keepdims: 1 })
      : b.op('ReduceSum', [target, b.constI64([1])], { keepdims: 1 });
    const den = b.op('Max', [b.op('ReduceSum', [b.op('Mul', [w2, sampleDen])], { keepdims: 0 }), b.scalar(1e-12)]);
    const lossV = b.op('Div', [b.op('ReduceSum', [b.op('Mul', [w2, perSample])], { keepdims: 0 }), den]);
    const sumB = b.op('ReduceSum', [bCoef, b.constI64([1])], { keepdims: 1 });
    const dl = b.op('Sub', [b.op('Mul', [p, sumB]), bCoef]);
    const dlogits = b.op('Mul', [dl, b.op('Div', [w2, den])]);
    return { loss: lossV, dlogits };
  }
  const ts = eps > 0 ? b.op('Add', [b.op('Mul', [target, b.scalar(1 - eps)]), b.scalar(eps / 2)]) : target;
  const pt = loss.posWeights ? b.op('Mul', [ts, b.constF(loss.posWeights, [1, k])]) : ts; // P·t'
  const nt = b.op('Sub', [one, ts]); // 1 − t'
  const s = b.op('Sigmoid', [z]);
  const oms = b.op('Sub', [one, s]);
  const spNeg = b.op('Softplus', [b.op('Neg', [z])]); // −log σ
  const spPos = b.op('Softplus', [z]); // −log(1−σ)
  let ell: string, dl: string;
  if (gamma > 0) {
    const omsG = b.op('Pow', [oms, b.scalar(gamma)]);
    const sG = b.op('Pow', [s, b.scalar(gamma)]);
    ell = b.op('Add', [b.op('Mul', [b.op('Mul', [pt, omsG]), spNeg]), b.op('Mul', [b.op('Mul', [nt, sG]), spPos])]);
    const g = b.scalar(gamma);
    const posPart = b.op('Mul', [b.op('Mul', [pt, omsG]), b.op('Add', [b.op('Mul', [g, b.op('Mul', [s, spNeg])]), oms])]);
    const negPart = b.op('Mul', [b.op('Mul', [nt, sG]), b.op('Add', [b.op('Mul', [g, b.op('Mul', [oms, spPos])]), s])]);
    dl = b.op('Sub', [negPart, posPart]);
  } else {
    ell = b.op('Add', [b.op('Mul', [pt, spNeg]), b.op('Mul', [nt, spPos])]);
    dl = b.op('Sub', [b.op('Mul', [nt, s]), b.op('Mul', [pt, oms])]);
  }
  const wm = b.op('Mul', [w2, mask]);
  const den = b.op('Max', [b.op('ReduceSum', [wm], { keepdims: 0 }), b.scalar(1e-12)]);
  const lossV = b.op('Div', [b.op('ReduceSum', [b.op('Mul', [wm, ell])], { keepdims: 0 }), den]);
  const dlogits = b.op('Mul', [dl, b.op('Div', [wm, den])]);
  return { loss: lossV, dlogits };
}
