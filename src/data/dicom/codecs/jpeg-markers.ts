/** Reading the frame header (SOFn / JPEG-LS SOF55 / JPEG 2000 SIZ) of a codestream before decoding it. */

export interface CodestreamHeader {
  /** 0xc0…0xcf for JPEG SOFn, 0xf7 for JPEG-LS, 0x51 for JPEG 2000 SIZ. */
  marker: number;
  precision: number;
  width: number;
  height: number;
  components: number;
}

/** The SOF of a JPEG / JPEG-LS stream, or undefined when none is found before the first scan. */
export function jpegFrameHeader(d: Uint8Array): CodestreamHeader | undefined {
  if (d.length < 4 || d[0] !== 0xff || d[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 3 < d.length) {
    if (d[p] !== 0xff) return undefined;
    const m = d[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    const len = (d[p + 2]! << 8) | d[p + 3]!;
    const isSof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
    if (isSof) {
      if (p + 9 >= d.length) return undefined;
      return {
        marker: m,
        precision: d[p + 4]!,
        height: (d[p + 5]! << 8) | d[p + 6]!,
        width: (d[p + 7]! << 8) | d[p + 8]!,
        components: d[p + 9]!,
      };
    }
    if (m === 0xda || m === 0xd9) return undefined;
    p += 2 + len;
  }
  return undefined;
}

/** The SIZ of a JPEG 2000 codestream (raw J2K, or the first codestream box of a JP2 file). */
export function j2kFrameHeader(d: Uint8Array): CodestreamHeader | undefined {
  let p = 0;
  if (!(d[0] === 0xff && d[1] === 0x4f)) {
    // JP2: look for the contiguous codestream box "jp2c".
    const i = findBox(d, 'jp2c');
    if (i < 0) return undefined;
    p = i;
  }
  if (d[p] !== 0xff || d[p + 1] !== 0x4f || d[p + 2] !== 0xff || d[p + 3] !== 0x51 || p + 42 > d.length) return undefined;
  const v = new DataView(d.buffer, d.byteOffset + p + 4, 38);
  const xsiz = v.getUint32(4), ysiz = v.getUint32(8), xo = v.getUint32(12), yo = v.getUint32(16);
  const csiz = v.getUint16(36);
  const ssiz = d[p + 42] ?? 0;
  return { marker: 0x51, width: xsiz - xo, height: ysiz - yo, components: csiz, precision: (ssiz & 0x7f) + 1 };
}

/**
 * Wavelet decomposition levels of a raw J2K codestream (from COD in the main header) and the image
 * size at each level (ceil(x1 / 2^L) − ceil(x0 / 2^L), T.800 B.5), or undefined when not found.
 */
export function j2kResolutions(d: Uint8Array): { width: number; height: number }[] | undefined {
  if (!(d[0] === 0xff && d[1] === 0x4f && d[2] === 0xff && d[3] === 0x51) || d.length < 46) return undefined;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const x1 = v.getUint32(8), y1 = v.getUint32(12), x0 = v.getUint32(16), y0 = v.getUint32(20);
  let p = 4 + v.getUint16(4); // after SIZ
  while (p + 4 <= d.length && d[p] === 0xff) {
    const m = d[p + 1]!;
    if (m === 0x90 || m === 0x93) return undefined; // SOT/SOD before COD
    const len = v.getUint16(p + 2);
    if (m === 0x52) {
      if (p + 10 > d.length) return undefined;
      const levels = d[p + 9]!;
      const out: { width: number; height: number }[] = [];
      for (let l = 0; l <= levels; l++) {
        const s = 2 ** l;
        out.push({ width: Math.ceil(x1 / s) - Math.ceil(x0 / s), height: Math.ceil(y1 / s) - Math.ceil(y0 / s) });
      }
      return out;
    }
    p += 2 + len;
  }
  return undefined;
}

function findBox(d: Uint8Array, type: string): number {
  const t = [...type].map((c) => c.charCodeAt(0));
  for (let i = 4; i + 4 < d.length && i < 4096; i++) {
    if (d[i] === t[0] && d[i + 1] === t[1] && d[i + 2] === t[2] && d[i + 3] === t[3]) return i + 4;
  }
  return -1;
}
