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

/** The markers of a JPEG stream that say how its three components are coloured. */
export interface JpegColourMarkers {
  /** An APP0 "JFIF" segment (implies YCbCr). */
  jfif: boolean;
  /** The transform flag of an Adobe APP14 segment (0 = none, 1 = YCbCr, 2 = YCCK), when there is one. */
  adobeTransform?: number;
  /** Component identifiers from the SOF, in order. */
  componentIds: number[];
}

interface MarkerSegment {
  marker: number;
  /** Offset of the 0xFF of the marker. */
  at: number;
  /** Offset just past the segment. */
  end: number;
}

/** The marker segments before the first scan (SOS), in order. */
function headerSegments(d: Uint8Array): MarkerSegment[] {
  const out: MarkerSegment[] = [];
  if (d.length < 4 || d[0] !== 0xff || d[1] !== 0xd8) return out;
  let p = 2;
  while (p + 3 < d.length) {
    if (d[p] !== 0xff) break;
    const m = d[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0xda || m === 0xd9) break;
    const end = p + 2 + ((d[p + 2]! << 8) | d[p + 3]!);
    out.push({ marker: m, at: p, end });
    p = end;
  }
  return out;
}

const ascii = (d: Uint8Array, at: number, text: string) => [...text].every((c, i) => d[at + i] === c.charCodeAt(0));

/**
 * JFIF / Adobe markers and component IDs of a JPEG stream.
 *
 * @example jpegColourMarkers(frame).jfif // true for a JFIF-wrapped YCbCr stream
 */
export function jpegColourMarkers(d: Uint8Array): JpegColourMarkers {
  const r: JpegColourMarkers = { jfif: false, componentIds: [] };
  for (const s of headerSegments(d)) {
    if (s.marker === 0xe0 && ascii(d, s.at + 4, 'JFIF\0')) r.jfif = true;
    if (s.marker === 0xee && s.end - s.at >= 16 && ascii(d, s.at + 4, 'Adobe')) r.adobeTransform = d[s.at + 15]!;
    const isSof = s.marker >= 0xc0 && s.marker <= 0xcf && s.marker !== 0xc4 && s.marker !== 0xc8 && s.marker !== 0xcc;
    if (isSof && s.at + 9 < d.length) {
      const n = d[s.at + 9]!;
      for (let c = 0; c < n && s.at + 10 + 3 * c < d.length; c++) r.componentIds.push(d[s.at + 10 + 3 * c]!);
    }
  }
  return r;
}

/**
 * A copy of a JPEG stream that libjpeg decodes without colour conversion: any JFIF identifier is
 * blanked, any Adobe APP14 transform flag set to 0, and an Adobe APP14 segment with transform 0 is put
 * right after SOI (libjpeg's rule: Adobe transform 0 means the components are output as stored).
 */
export function withoutColourTransform(d: Uint8Array): Uint8Array {
  const adobe = [0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00];
  const out = new Uint8Array(d.length + adobe.length);
  out.set(d.subarray(0, 2), 0);
  out.set(adobe, 2);
  out.set(d.subarray(2), 2 + adobe.length);
  for (const s of headerSegments(d)) {
    const at = s.at + adobe.length;
    if (s.marker === 0xe0 && ascii(d, s.at + 4, 'JFIF\0')) out[at + 4] = 0x58; // "XFIF": no longer JFIF
    if (s.marker === 0xee && s.end - s.at >= 16 && ascii(d, s.at + 4, 'Adobe')) out[at + 15] = 0;
  }
  return out;
}
