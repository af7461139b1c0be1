/** The one in-memory image type the data pipeline passes around: single-channel float32. */

export interface GreyImage {
  width: number;
  height: number;
  /** Row-major, length width × height, display intensities in [0, 1] (0 = black). */
  data: Float32Array;
}

export function createGreyImage(width: number, height: number, fill = 0): GreyImage {
  const data = new Float32Array(width * height);
  if (fill !== 0) data.fill(fill);
  return { width, height, data };
}
