/** JPEG lossless (process 14, any predictor) through jpeg-lossless-decoder-js. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
}
// The package's declared types file is missing from its release folder; this is the part radml uses.
const { Decoder } = require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder };

/**
 * Decode a lossless JPEG codestream; samples come back colour-by-pixel, 1 byte each up to 8 bits, else 2.
 *
 * @example decodeJpegLossless(bytes, 16) // Uint16Array
 */
export function decodeJpegLossless(bytes: Uint8Array, precision: number): Uint8Array | Uint16Array {
  const out = new Decoder().decode(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, precision > 8 ? 2 : 1);
  return out;
}
