/**
 * A sequential Huffman DCT JPEG decoder (ITU-T T.81 processes 1, 2 and 4: baseline and extended,
 * 8- and 12-bit), for DICOM's JPEG Extended transfer syntax (1.2.840.10008.1.2.4.51), which the
 * 8-bit libjpeg-turbo codec cannot decode at 12 bits. Progressive and arithmetic-coded JPEG are
 * not handled. Colour (3 components) is returned as RGB after the JFIF YCbCr transform.
 */

const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
]);

/** cos((2x+1)uπ/16) · C(u) / 2, indexed [x*8 + u], for the separable float IDCT. */
const IDCT_TABLE = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) {
    for (let u = 0; u < 8; u++) {
      const cu = u === 0 ? Math.SQRT1_2 : 1;
      t[x * 8 + u] = (cu / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
    }
  }
  return t;
})();

interface Huffman {
  maxcode: Int32Array; // by code length 1..16, -1 when no code of that length
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
  /** 9-bit lookahead: (code length << 8) | symbol for codes of ≤ 9 bits, 0 when longer. */
  lookup: Int32Array;
}

const LOOKAHEAD = 9;

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  blocksPerLine: number; // allocated (MCU-padded) blocks per row
  blocksPerColumn: number;
  width: number; // component samples per line (ceil(X·h/hmax))
  height: number;
  coefficients: Int32Array;
  dcTable: number;
  acTable: number;
  pred: number;
}

export interface JpegFrame {
  width: number;
  height: number;
  precision: number;
  components: number;
  /** Samples, colour-by-pixel; 0 … 2^precision − 1. */
  data: Uint16Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const mincode = new Int32Array(17);
  const valptr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1]!;
    if (n > 0) {
      valptr[l] = k;
      mincode[l] = code;
      code += n;
      k += n;
      maxcode[l] = code - 1;
    }
    code <<= 1;
  }
  const lookup = new Int32Array(1 << LOOKAHEAD);
  for (let l = 1; l <= LOOKAHEAD; l++) {
    if (maxcode[l]! < 0) continue;
    for (let c = mincode[l]!; c <= maxcode[l]!; c++) {
      const sym = values[valptr[l]! + c - mincode[l]!]!;
      const span = 1 << (LOOKAHEAD - l);
      for (let k = 0; k < span; k++) lookup[(c << (LOOKAHEAD - l)) | k] = (l << 8) | sym;
    }
  }
  return { maxcode, mincode, valptr, values, lookup };
}

class BitReader {
  private pos: number;
  private bits = 0;
  private nbits = 0;
  /** A marker was hit: further reads return zero bits until resync(). */
  private atMarker = false;
  constructor(private readonly d: Uint8Array, start: number) {
    this.pos = start;
  }
  private fill(): void {
    while (this.nbits <= 24) {
      let byte = 0;
      if (!this.atMarker && this.pos < this.d.length) {
        byte = this.d[this.pos]!;
        if (byte === 0xff) {
          const next = this.d[this.pos + 1];
          if (next === 0x00) {
            this.pos += 2;
          } else if (next === 0xff) {
            // Fill bytes before a marker: skip one 0xFF and look again.
            this.pos += 1;
            continue;
          } else {
            this.atMarker = true;
            byte = 0;
          }
        } else {
          this.pos += 1;
        }
      }
      this.bits = (this.bits << 8) | byte;
      this.nbits += 8;
    }
  }
  bit(): number {
    if (this.nbits === 0) this.fill();
    this.nbits -= 1;
    return (this.bits >>> this.nbits) & 1;
  }
  receive(n: number): number {
    if (n === 0) return 0;
    if (this.nbits < n) this.fill();
    this.nbits -= n;
    return (this.bits >>> this.nbits) & ((1 << n) - 1);
  }
  decode(h: Huffman): number {
    if (this.nbits < LOOKAHEAD) this.fill();
    const hit = h.lookup[(this.bits >>> (this.nbits - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)]!;
    if (hit !== 0) {
      this.nbits -= hit >> 8;
      return hit & 0xff;
    }
    let code = this.bit();
    for (let l = 1; l <= 16; l++) {
      if (code <= h.maxcode[l]!) return h.values[h.valptr[l]! + code - h.mincode[l]!]!;
      code = (code << 1) | this.bit();
    }
    throw new Error('bad Huffman code');
  }
  /** Drop buffered bits and step over an RSTn marker (restart interval boundary). */
  restart(): void {
    this.bits = 0;
    this.nbits = 0;
    this.atMarker = false;
    while (this.pos + 1 < this.d.length) {
      if (this.d[this.pos] === 0xff && this.d[this.pos + 1]! >= 0xd0 && this.d[this.pos + 1]! <= 0xd7) {
        this.pos += 2;
        return;
      }
      if (this.d[this.pos] === 0xff && this.d[this.pos + 1] !== 0x00 && this.d[this.pos + 1] !== 0xff) return;
      this.pos += 1;
    }
  }
  /** Position after the entropy-coded segment: the next marker. */
  end(): number {
    let p = this.pos;
    while (p + 1 < this.d.length && !(this.d[p] === 0xff && this.d[p + 1] !== 0 && !(this.d[p + 1]! >= 0xd0 && this.d[p + 1]! <= 0xd7))) p++;
    return p;
  }
}

function extend(v: number, t: number): number {
  return v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
}

/** Inverse DCT of one 8×8 block (dequantised coefficients, natural order) with level shift and clamp. */
function idctBlock(src: Int32Array, srcOff: number, out: Uint16Array, outOff: number, stride: number, tmp: Float64Array, shift: number, max: number): void {
  let acZero = true;
  for (let k = 1; k < 64 && acZero; k++) if (src[srcOff + k] !== 0) acZero = false;
  if (acZero) {
    // DC only: a flat block, DC / 8.
    let val = Math.round(src[srcOff]! / 8) + shift;
    if (val < 0) val = 0;
    else if (val > max) val = max;
    for (let y = 0; y < 8; y++) out.fill(val, outOff + y * stride, outOff + y * stride + 8);
    return;
  }
  // Rows: tmp[y*8 + x] = Σu C(u)cos(...)·F(y,u)
  for (let y = 0; y < 8; y++) {
    const r = srcOff + y * 8;
    if (src[r + 1] === 0 && src[r + 2] === 0 && src[r + 3] === 0 && src[r + 4] === 0 && src[r + 5] === 0 && src[r + 6] === 0 && src[r + 7] === 0) {
      const c = IDCT_TABLE[0]! * src[r]!;
      for (let x = 0; x < 8; x++) tmp[y * 8 + x] = c;
      continue;
    }
    for (let x = 0; x < 8; x++) {
      let s = 0;
      const tx = x * 8;
      for (let u = 0; u < 8; u++) s += IDCT_TABLE[tx + u]! * src[r + u]!;
      tmp[y * 8 + x] = s;
    }
  }
  for (let x = 0; x < 8; x++) {
    for (let y = 0; y < 8; y++) {
      let s = 0;
      const ty = y * 8;
      for (let v = 0; v < 8; v++) s += IDCT_TABLE[ty + v]! * tmp[v * 8 + x]!;
      let val = Math.round(s) + shift;
      if (val < 0) val = 0;
      else if (val > max) val = max;
      out[outOff + y * stride + x] = val;
    }
  }
}

/**
 * Decode a baseline or extended sequential Huffman JPEG (SOF0/SOF1) of 8 or 12 bits.
 * `maxPixels` bounds the frame size declared in SOF before anything is allocated.
 *
 * @example decodeJpegDct(bytes).data // Uint16Array of 12-bit samples
 */
export function decodeJpegDct(d: Uint8Array, maxPixels = 1 << 26): JpegFrame {
  if (d[0] !== 0xff || d[1] !== 0xd8) throw new Error('not a JPEG stream (no SOI)');
  const qt: Int32Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let frame: { width: number; height: number; precision: number; comps: Component[]; hmax: number; vmax: number; mcusX: number; mcusY: number } | undefined;
  let restartInterval = 0;
  let adobeTransform = -1;
  let pos = 2;
  const u16 = (p: number): number => {
    if (p + 1 >= d.length) throw new Error('JPEG stream ends inside a marker segment');
    return (d[p]! << 8) | d[p + 1]!;
  };

  while (pos < d.length) {
    if (d[pos] !== 0xff) {
      pos++;
      continue;
    }
    const marker = d[pos + 1]!;
    pos += 2;
    if (marker === 0xff || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      if (marker === 0xff) pos -= 1;
      continue;
    }
    if (marker === 0xd9) break; // EOI
    const len = u16(pos);
    const segEnd = pos + len;
    if (len < 2 || segEnd > d.length) throw new Error('JPEG marker segment runs past the end of the data');
    const p0 = pos + 2;
    switch (marker) {
      case 0xdb: { // DQT
        let p = p0;
        while (p < segEnd) {
          const pq = d[p]! >> 4, tq = d[p]! & 15;
          p++;
          const t = new Int32Array(64);
          for (let k = 0; k < 64; k++) {
            t[k] = pq === 0 ? d[p]! : u16(p);
            p += pq === 0 ? 1 : 2;
          }
          qt[tq & 3] = t;
        }
        break;
      }
      case 0xc4: { // DHT
        let p = p0;
        while (p < segEnd) {
          const tc = d[p]! >> 4, th = d[p]! & 15;
          const counts = d.subarray(p + 1, p + 17);
          let n = 0;
          for (let i = 0; i < 16; i++) n += counts[i]!;
          if (p + 17 + n > segEnd) throw new Error('JPEG Huffman table runs past its segment');
          const table = buildHuffman(counts, d.slice(p + 17, p + 17 + n));
          (tc === 0 ? dcTables : acTables)[th & 3] = table;
          p += 17 + n;
        }
        break;
      }
      case 0xdd: // DRI
        restartInterval = u16(p0);
        break;
      case 0xee: // APP14 Adobe: colour transform flag
        if (len >= 14 && d[p0] === 0x41 && d[p0 + 1] === 0x64) adobeTransform = d[p0 + 11]!;
        break;
      case 0xc0:
      case 0xc1: {
        const precision = d[p0]!;
        const height = u16(p0 + 1);
        const width = u16(p0 + 3);
        const nc = d[p0 + 5]!;
        if (precision !== 8 && precision !== 12) throw new Error(`JPEG sample precision ${precision} is not 8 or 12`);
        if (width === 0 || height === 0) throw new Error('JPEG frame without a height (DNL) is not supported');
        if (width * height > maxPixels) throw new Error(`JPEG frame ${width}×${height} is larger than allowed`);
        if (nc < 1 || nc > 4 || p0 + 6 + nc * 3 > segEnd) throw new Error('bad JPEG frame header');
        const comps: Component[] = [];
        let hmax = 1, vmax = 1;
        for (let i = 0; i < nc; i++) {
          const q = p0 + 6 + i * 3;
          const h = d[q + 1]! >> 4, v = d[q + 1]! & 15;
          if (h < 1 || h > 4 || v < 1 || v > 4) throw new Error('bad JPEG sampling factors');
          hmax = Math.max(hmax, h);
          vmax = Math.max(vmax, v);
          comps.push({ id: d[q]!, h, v, tq: d[q + 2]! & 3, blocksPerLine: 0, blocksPerColumn: 0, width: 0, height: 0, coefficients: new Int32Array(0), dcTable: 0, acTable: 0, pred: 0 });
        }
        const mcusX = Math.ceil(width / (8 * hmax));
        const mcusY = Math.ceil(height / (8 * vmax));
        for (const c of comps) {
          c.width = Math.ceil((width * c.h) / hmax);
          c.height = Math.ceil((height * c.v) / vmax);
          c.blocksPerLine = mcusX * c.h;
          c.blocksPerColumn = mcusY * c.v;
          c.coefficients = new Int32Array(c.blocksPerLine * c.blocksPerColumn * 64);
        }
        frame = { width, height, precision, comps, hmax, vmax, mcusX, mcusY };
        break;
      }
      case 0xc2: case 0xc3: case 0xc5: case 0xc6: case 0xc7: case 0xc9: case 0xca: case 0xcb: case 0xcd: case 0xce: case 0xcf:
        throw new Error(`JPEG process SOF${marker - 0xc0} is not a sequential Huffman DCT process`);
      case 0xda: { // SOS
        if (!frame) throw new Error('JPEG scan before the frame header');
        const ns = d[p0]!;
        const scomps: Component[] = [];
        for (let i = 0; i < ns; i++) {
          const cid = d[p0 + 1 + i * 2]!, tables = d[p0 + 2 + i * 2]!;
          const c = frame.comps.find((x) => x.id === cid);
          if (!c) throw new Error('JPEG scan names an unknown component');
          c.dcTable = tables >> 4;
          c.acTable = tables & 15;
          c.pred = 0;
          scomps.push(c);
        }
        pos = decodeScan(d, segEnd, frame, scomps, dcTables, acTables, qt, restartInterval);
        continue;
      }
      default:
        break;
    }
    pos = segEnd;
  }
  if (!frame) throw new Error('JPEG stream has no SOF0/SOF1 frame header');
  return toSamples(frame, adobeTransform);
}

function decodeScan(
  d: Uint8Array,
  start: number,
  frame: { comps: Component[]; mcusX: number; mcusY: number },
  scomps: Component[],
  dcTables: Huffman[],
  acTables: Huffman[],
  qt: Int32Array[],
  restartInterval: number,
): number {
  const reader = new BitReader(d, start);
  const block = (c: Component, row: number, col: number): void => {
    const dc = dcTables[c.dcTable], ac = acTables[c.acTable], q = qt[c.tq];
    if (!dc || !ac || !q) throw new Error('JPEG scan uses a missing Huffman or quantisation table');
    const off = (row * c.blocksPerLine + col) * 64;
    const out = c.coefficients;
    const t = reader.decode(dc);
    const diff = t === 0 ? 0 : extend(reader.receive(t), t);
    c.pred += diff;
    out[off] = c.pred * q[0]!;
    let k = 1;
    while (k < 64) {
      const rs = reader.decode(ac);
      const s = rs & 15, r = rs >> 4;
      if (s === 0) {
        if (r === 15) {
          k += 16;
          continue;
        }
        break;
      }
      k += r;
      if (k > 63) break;
      out[off + ZIGZAG[k]!] = extend(reader.receive(s), s) * q[k]!;
      k++;
    }
  };

  let units: number; // MCUs in this scan
  let unitsPerLine: number;
  const single = scomps.length === 1;
  if (single) {
    const c = scomps[0]!;
    unitsPerLine = Math.ceil(c.width / 8);
    units = unitsPerLine * Math.ceil(c.height / 8);
  } else {
    unitsPerLine = frame.mcusX;
    units = frame.mcusX * frame.mcusY;
  }
  for (let n = 0; n < units; n++) {
    if (restartInterval > 0 && n > 0 && n % restartInterval === 0) {
      reader.restart();
      for (const c of scomps) c.pred = 0;
    }
    const mr = Math.floor(n / unitsPerLine), mc = n % unitsPerLine;
    if (single) {
      block(scomps[0]!, mr, mc);
    } else {
      for (const c of scomps) {
        for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) block(c, mr * c.v + v, mc * c.h + h);
      }
    }
  }
  return reader.end();
}

function toSamples(
  frame: { width: number; height: number; precision: number; comps: Component[]; hmax: number; vmax: number },
  adobeTransform: number,
): JpegFrame {
  const { width, height, precision, comps, hmax, vmax } = frame;
  const max = (1 << precision) - 1;
  const shift = 1 << (precision - 1);
  const tmp = new Float64Array(64);
  const planes = comps.map((c) => {
    const stride = c.blocksPerLine * 8;
    const plane = new Uint16Array(stride * c.blocksPerColumn * 8);
    for (let br = 0; br < c.blocksPerColumn; br++) {
      for (let bc = 0; bc < c.blocksPerLine; bc++) {
        idctBlock(c.coefficients, (br * c.blocksPerLine + bc) * 64, plane, br * 8 * stride + bc * 8, stride, tmp, shift, max);
      }
    }
    return { plane, stride, c };
  });
  const nc = comps.length;
  const data = new Uint16Array(width * height * nc);
  for (let i = 0; i < nc; i++) {
    const { plane, stride, c } = planes[i]!;
    const sx = c.h / hmax, sy = c.v / vmax;
    for (let y = 0; y < height; y++) {
      const row = Math.floor(y * sy) * stride;
      let o = y * width * nc + i;
      for (let x = 0; x < width; x++, o += nc) data[o] = plane[row + Math.floor(x * sx)]!;
    }
  }
  // JFIF YCbCr → RGB for three components unless Adobe says untransformed or the IDs spell R, G, B.
  const rgbIds = nc === 3 && comps[0]!.id === 0x52 && comps[1]!.id === 0x47 && comps[2]!.id === 0x42;
  if (nc === 3 && adobeTransform !== 0 && !rgbIds) {
    for (let p = 0; p < data.length; p += 3) {
      const yv = data[p]!, cb = data[p + 1]! - shift, cr = data[p + 2]! - shift;
      const r = Math.round(yv + 1.402 * cr);
      const g = Math.round(yv - 0.344136 * cb - 0.714136 * cr);
      const b = Math.round(yv + 1.772 * cb);
      data[p] = r < 0 ? 0 : r > max ? max : r;
      data[p + 1] = g < 0 ? 0 : g > max ? max : g;
      data[p + 2] = b < 0 ? 0 : b > max ? max : b;
    }
  }
  return { width, height, precision, components: nc, data };
}
