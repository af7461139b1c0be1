/**
 * Minimal greyscale PNG encoder (8- or 16-bit, one IDAT, no ancillary chunks), for the cohort's
 * 16-bit images: sharp 0.35 reads raw input only as 8-bit, so a 16-bit grey PNG cannot be made from
 * pixels through it. Output is deterministic (no time chunk) and any PNG reader (sharp, pngjs,
 * browsers) decodes it. Each row uses the Sub filter, which suits smooth radiographs well, and
 * deflate runs with the RLE strategy: as small as the default on noisy 16-bit data, at half the time.
 */
import { constants, crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.byteLength);
  out.writeUInt32BE(data.byteLength, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.byteLength)) >>> 0, 8 + data.byteLength);
  return out;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encode a row-major greyscale image as PNG: a Uint16Array gives a 16-bit PNG, a Uint8Array an 8-bit one.
 *
 * @example const png = encodeGreyPng(new Uint16Array(256 * 256), 256, 256);
 */
export function encodeGreyPng(pixels: Uint16Array | Uint8Array, width: number, height: number): Buffer {
  if (pixels.length !== width * height) throw new RangeError(`encodeGreyPng: ${pixels.length} pixels for ${width}×${height}`);
  const bytesPerPixel = pixels instanceof Uint16Array ? 2 : 1;
  const stride = width * bytesPerPixel;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    raw[o] = 1; // Sub filter: each byte minus the byte one pixel to the left (mod 256)
    const row = y * width;
    if (bytesPerPixel === 2) {
      let prevHi = 0, prevLo = 0;
      for (let x = 0; x < width; x++) {
        const v = pixels[row + x]!;
        const hi = v >>> 8, lo = v & 0xff;
        raw[o + 1 + 2 * x] = (hi - prevHi) & 0xff;
        raw[o + 2 + 2 * x] = (lo - prevLo) & 0xff;
        prevHi = hi;
        prevLo = lo;
      }
    } else {
      let prev = 0;
      for (let x = 0; x < width; x++) {
        const v = pixels[row + x]!;
        raw[o + 1 + x] = (v - prev) & 0xff;
        prev = v;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bytesPerPixel * 8; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 6, strategy: constants.Z_RLE })), chunk('IEND', new Uint8Array(0))]);
}
