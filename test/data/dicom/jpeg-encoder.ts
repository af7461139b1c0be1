/**
 * Test helper: a minimal sequential DCT JPEG encoder (one grey component, 8- or 12-bit, restart
 * intervals), so the decoder can be checked on streams the sample files lack (restart markers,
 * sizes that are not multiples of 8) against libjpeg-turbo and pylibjpeg.
 */

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
];

class BitWriter {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(code: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  /** Pad to a byte with 1-bits (T.81 F.1.2.3). */
  align(): void {
    while (this.n !== 0) this.write(1, 1);
  }
}

function category(v: number): number {
  let a = Math.abs(v), s = 0;
  while (a) { s++; a >>= 1; }
  return s;
}

/** Encode w×h grey samples of `precision` bits as a SOF0 (8-bit) or SOF1 (12-bit) JPEG. */
export function encodeGreyJpeg(samples: Uint16Array, w: number, h: number, precision: 8 | 12, quant: number, restartInterval: number): Uint8Array {
  // Fixed-length Huffman codes: DC categories 0…15 at 5 bits; all AC run/size symbols at 8 bits.
  const dcSymbols = Array.from({ length: 16 }, (_, i) => i);
  const acSymbols = [0x00, 0xf0];
  for (let r = 0; r < 16; r++) for (let s = 1; s <= 15; s++) acSymbols.push((r << 4) | s);
  const dcCode = new Map(dcSymbols.map((s, i) => [s, i]));
  const acCode = new Map(acSymbols.map((s, i) => [s, i]));

  const out: number[] = [0xff, 0xd8];
  const seg = (marker: number, body: number[]) => out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  seg(0xdb, [0x00, ...new Array(64).fill(quant)]);
  seg(precision === 8 ? 0xc0 : 0xc1, [precision, h >> 8, h & 0xff, w >> 8, w & 0xff, 1, 1, 0x11, 0]);
  const dcCounts = new Array(16).fill(0); dcCounts[4] = dcSymbols.length;
  const acCounts = new Array(16).fill(0); acCounts[7] = acSymbols.length;
  seg(0xc4, [0x00, ...dcCounts, ...dcSymbols, 0x10, ...acCounts, ...acSymbols]);
  if (restartInterval) seg(0xdd, [restartInterval >> 8, restartInterval & 0xff]);
  seg(0xda, [1, 1, 0x00, 0, 63, 0]);

  const bw = new BitWriter();
  const bx = Math.ceil(w / 8), by = Math.ceil(h / 8);
  const shift = 1 << (precision - 1);
  let pred = 0, rst = 0;
  const block = new Float64Array(64);
  for (let n = 0; n < bx * by; n++) {
    if (restartInterval && n > 0 && n % restartInterval === 0) {
      bw.align();
      bw.bytes.push(0xff, 0xd0 + rst);
      rst = (rst + 1) & 7;
      pred = 0;
    }
    const r0 = Math.floor(n / bx) * 8, c0 = (n % bx) * 8;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      // Edge blocks replicate the last row/column.
      const sy = Math.min(h - 1, r0 + y), sx = Math.min(w - 1, c0 + x);
      block[y * 8 + x] = samples[sy * w + sx]! - shift;
    }
    const coef = new Int32Array(64);
    for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
        s += block[y * 8 + x]! * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * Math.cos(((2 * y + 1) * v * Math.PI) / 16);
      }
      const cu = u === 0 ? Math.SQRT1_2 : 1, cv = v === 0 ? Math.SQRT1_2 : 1;
      coef[v * 8 + u] = Math.round((0.25 * cu * cv * s) / quant);
    }
    const diff = coef[0]! - pred;
    pred = coef[0]!;
    const t = category(diff);
    bw.write(dcCode.get(t)!, 5);
    if (t) bw.write(diff < 0 ? diff + (1 << t) - 1 : diff, t);
    let run = 0;
    for (let k = 1; k < 64; k++) {
      const c = coef[ZIGZAG[k]!]!;
      if (c === 0) { run++; continue; }
      while (run > 15) { bw.write(acCode.get(0xf0)!, 8); run -= 16; }
      const s = category(c);
      bw.write(acCode.get((run << 4) | s)!, 8);
      bw.write(c < 0 ? c + (1 << s) - 1 : c, s);
      run = 0;
    }
    if (run > 0) bw.write(acCode.get(0x00)!, 8);
  }
  bw.align();
  out.push(...bw.bytes, 0xff, 0xd9);
  return new Uint8Array(out);
}
