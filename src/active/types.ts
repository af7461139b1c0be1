/**
 * The one interface every acquisition function sits behind. A strategy sees the candidates'
 * probabilities (and, when it needs them, probability samples or penultimate embeddings) and
 * either scores each case (higher = more worth labelling) or picks a set in order.
 */
import type { Rng } from '../util/rng.js';

export type LabelKind = 'categorical' | 'multilabel';
/** How per-finding values of a multi-label model become one value per case. */
export type Aggregate = 'mean' | 'max';

/** Where probability samples came from: dropout kept on at inference, several models, or augmented inputs. */
export type SampleSource = 'mc-dropout' | 'ensemble' | 'tta';

export interface ProbabilitySamples {
  /** [count, n, k] probabilities. */
  data: Float32Array;
  count: number;
  source: SampleSource;
}

export interface Embeddings {
  /** [rows, dim] */
  data: Float32Array;
  dim: number;
}

/** What a strategy may read about the n candidate cases. */
export interface AcquisitionInput {
  kind: LabelKind;
  n: number;
  k: number;
  /** [n, k] probabilities (softmax rows, or one sigmoid per finding). */
  probabilities: Float32Array;
  samples?: ProbabilitySamples;
  /** Penultimate features of the candidates [n, dim]. */
  embeddings?: Embeddings;
  /** Penultimate features of the cases already labelled (core-set starts from them). */
  labelledEmbeddings?: Embeddings;
  /** Multi-label: mean or max over findings (default mean). */
  aggregate?: Aggregate;
  rng: Rng;
}

export type Need = 'probabilities' | 'samples' | 'embeddings';

export interface AcquisitionFunction {
  name: string;
  /** One line for --help and the queue's reason column. */
  description: string;
  needs: Need;
  /** Score-based strategies: the value per case (higher = label first). */
  score?(input: AcquisitionInput): Float64Array;
  /** Set-based strategies (random, core-set, BADGE): `count` cases in pick order, with the value each had when picked. */
  select?(input: AcquisitionInput, count: number): { order: number[]; values: number[] };
  /** A plain sentence about why case i was chosen, given its value. */
  reason(value: number, input: AcquisitionInput, i: number): string;
}
