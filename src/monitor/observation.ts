/**
 * One monitored study as the detectors see it: categorical and numeric header / image features,
 * the model's scores per class, the penultimate embedding, the OOD gate's decision and, when a
 * radiologist's label has arrived, the labels per class. Columnar samples hold many of them.
 */
import { z } from 'zod';

export const observationSchema = z.object({
  categorical: z.record(z.string(), z.string()),
  numeric: z.record(z.string(), z.number().nullable()),
  /** Probability per class, in the model's class order. */
  scores: z.array(z.number()),
  /** Penultimate-layer features (raw; projected on the reference's PCA basis by the monitor). */
  embedding: z.array(z.number()).nullable(),
  /** True when the OOD gate rejected the study; null when the model has no gate. */
  oodRejected: z.boolean().nullable(),
  /** 1 / 0 per class (one-hot for categorical models); null where unknown. Null when unlabelled. */
  labels: z.array(z.union([z.literal(0), z.literal(1), z.null()])).nullable(),
});
export type Observation = z.infer<typeof observationSchema>;

/** The same studies column by column (what the profile stores and the detectors read). */
export const columnarSampleSchema = z.object({
  n: z.number().int().min(0),
  categorical: z.record(z.string(), z.array(z.string())),
  /** null = missing. */
  numeric: z.record(z.string(), z.array(z.number().nullable())),
  /** scores[c][i] */
  scores: z.array(z.array(z.number())),
  /** Whitened PCA coordinates, embedding[i][k]; null when the model has no embeddings. */
  embedding: z.array(z.array(z.number())).nullable(),
  oodRejected: z.array(z.boolean()).nullable(),
  /** labels[c][i] ∈ {1, 0, null}; null when no study has a label. */
  labels: z.array(z.array(z.union([z.literal(0), z.literal(1), z.null()]))).nullable(),
});
export type ColumnarSample = z.infer<typeof columnarSampleSchema>;

/** Round to 5 significant digits so stored profiles stay small. */
export const r5 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(5)) : x);

/**
 * Observations → columns. `project` maps a raw embedding to whitened PCA coordinates.
 * @example const cols = toColumnar(observations, classes.length, (e) => projectWhitened(basis, e));
 */
export function toColumnar(obs: Observation[], classCount: number, project: ((e: number[]) => number[]) | null): ColumnarSample {
  const catKeys = new Set<string>(), numKeys = new Set<string>();
  for (const o of obs) { for (const k of Object.keys(o.categorical)) catKeys.add(k); for (const k of Object.keys(o.numeric)) numKeys.add(k); }
  const categorical: Record<string, string[]> = {};
  for (const k of catKeys) categorical[k] = obs.map((o) => o.categorical[k] ?? '');
  const numeric: Record<string, (number | null)[]> = {};
  for (const k of numKeys) numeric[k] = obs.map((o) => { const v = o.numeric[k]; return v === undefined || v === null || !Number.isFinite(v) ? null : r5(v); });
  const scores = Array.from({ length: classCount }, (_, c) => obs.map((o) => r5(o.scores[c] ?? NaN)));
  const hasEmb = project !== null && obs.length > 0 && obs.every((o) => o.embedding !== null);
  const embedding = hasEmb ? obs.map((o) => project!(o.embedding!).map(r5)) : null;
  const hasOod = obs.length > 0 && obs.every((o) => o.oodRejected !== null);
  const anyLabel = obs.some((o) => o.labels !== null);
  return {
    n: obs.length, categorical, numeric, scores, embedding,
    oodRejected: hasOod ? obs.map((o) => o.oodRejected!) : null,
    labels: anyLabel ? Array.from({ length: classCount }, (_, c) => obs.map((o) => o.labels?.[c] ?? null)) : null,
  };
}
