/** Progress reporting for long work: library functions take an optional callback, the CLI draws a bar. */

export interface ProgressEvent {
  /** What is being done, e.g. "decode", "epoch 3". */
  stage: string;
  done: number;
  total: number;
  /** Short extra text, e.g. "loss 0.412". Never a patient identifier. */
  detail?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export const noProgress: ProgressCallback = () => {};
