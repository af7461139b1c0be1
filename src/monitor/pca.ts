/**
 * PCA basis of penultimate-layer embeddings: the reference's mean and leading eigenvectors of its
 * covariance (cyclic Jacobi on the d×d covariance, exact for the small d of radml's networks).
 * Embedding drift is tested on whitened projections, so every kept direction counts alike.
 */
import { z } from 'zod';

export const pcaBasisSchema = z.object({
  dim: z.number().int().min(1),
  mean: z.array(z.number()),
  /** k rows of length dim, unit length, by decreasing variance. */
  components: z.array(z.array(z.number())),
  /** Variance along each kept component (for whitening). */
  variance: z.array(z.number()),
  /** Share of total variance the kept components explain. */
  explained: z.number(),
});
export type PcaBasis = z.infer<typeof pcaBasisSchema>;

/** Eigen-decomposition of a symmetric matrix (row-major n×n); values descending, vectors as rows. */
export function symmetricEigen(a: Float64Array, n: number): { values: number[]; vectors: number[][] } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!, akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!, aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[y * n + y]! - m[x * n + x]!);
  return { values: order.map((i) => m[i * n + i]!), vectors: order.map((i) => Array.from({ length: n }, (_, k) => v[k * n + i]!)) };
}

/**
 * Fit a PCA basis keeping at most `maxComponents` directions (fewer when they already explain 99 %).
 * @example const basis = fitPca(rows, 16); const z = projectWhitened(basis, rows[0]);
 */
export function fitPca(rows: ArrayLike<number>[], maxComponents = 16): PcaBasis {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]! / n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (const r of rows) {
    for (let j = 0; j < d; j++) c[j] = r[j]! - mean[j]!;
    for (let a = 0; a < d; a++) { const ca = c[a]!; if (ca === 0) continue; for (let b = a; b < d; b++) cov[a * d + b] += ca * c[b]!; }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) { cov[a * d + b] /= Math.max(1, n - 1); cov[b * d + a] = cov[a * d + b]!; }
  const { values, vectors } = symmetricEigen(cov, d);
  const total = values.reduce((s, x) => s + Math.max(0, x), 0);
  let k = 0, acc = 0;
  while (k < Math.min(maxComponents, d) && values[k]! > 1e-12 * (total || 1)) {
    acc += values[k]!;
    k++;
    if (acc >= 0.99 * total) break;
  }
  k = Math.max(1, k);
  return { dim: d, mean, components: vectors.slice(0, k), variance: values.slice(0, k).map((x) => Math.max(x, 1e-12)), explained: total > 0 ? values.slice(0, k).reduce((s, x) => s + x, 0) / total : 1 };
}

/** Whitened coordinates of one embedding: (x − mean)·component / √variance. */
export function projectWhitened(b: PcaBasis, x: ArrayLike<number>): number[] {
  return b.components.map((comp, i) => {
    let s = 0;
    for (let j = 0; j < b.dim; j++) s += (x[j]! - b.mean[j]!) * comp[j]!;
    return s / Math.sqrt(b.variance[i]!);
  });
}
