/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, one PackBits segment per
 * byte plane, most significant byte first, sample by sample.
 */

export interface RleFrameShape {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

/**
 * Decode one RLE frame into native little-endian, colour-by-pixel bytes (as an uncompressed frame would be).
 * Throws an Error naming the problem on malformed input; never writes past the frame.
 *
 * @example decodeRle(fragmentBytes, { rows: 64, columns: 64, samplesPerPixel: 1, bitsAllocated: 16 })
 */
export function decodeRle(src: Uint8Array, shape: RleFrameShape): Uint8Array {
  if (src.length < 64) throw new Error('RLE frame shorter than its 64-byte header');
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = shape.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1) throw new Error(`RLE needs whole-byte samples, not ${shape.bitsAllocated} bits`);
  const expected = bytesPerSample * shape.samplesPerPixel;
  if (segments !== expected) throw new Error(`RLE header lists ${segments} segments, expected ${expected}`);
  if (segments > 15) throw new Error('RLE header lists more than 15 segments');
  const pixels = shape.rows * shape.columns;
  const stride = expected; // bytes per pixel in the output
  const out = new Uint8Array(pixels * stride);
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  for (let s = 0; s < segments; s++) {
    const start = offsets[s]!;
    const end = s + 1 < segments ? offsets[s + 1]! : src.length;
    if (start < 64 || start > src.length || end < start || end > src.length) throw new Error(`RLE segment ${s + 1} has a bad offset`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // MSB first in the stream, LSB first in memory
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let i = start;
    while (i < end && written < pixels) {
      const n = src[i++]!;
      if (n < 128) {
        const count = Math.min(n + 1, pixels - written, end - i);
        for (let k = 0; k < count; k++) {
          out[o] = src[i + k]!;
          o += stride;
        }
        i += n + 1;
        written += count;
      } else if (n > 128) {
        if (i >= end) break;
        const v = src[i++]!;
        const count = Math.min(257 - n, pixels - written);
        for (let k = 0; k < count; k++) {
          out[o] = v;
          o += stride;
        }
        written += count;
      }
      // n === 128 is a no-op.
    }
    if (written < pixels) throw new Error(`RLE segment ${s + 1} decodes to ${written} of ${pixels} bytes`);
  }
  return out;
}
