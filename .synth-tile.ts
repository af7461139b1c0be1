import sharp from 'sharp';
const dir = process.argv[2]!; const ids = process.argv.slice(3);
const S = 256; const tiles: Buffer[] = [];
for (const id of ids) {
  const img = await sharp(`${dir}/png/${id}.png`).toColourspace('grey16').raw({ depth: 'ushort' } as never).toBuffer();
  const u16 = new Uint16Array(img.buffer, img.byteOffset, img.length / 2);
  const m = await sharp(`${dir}/masks/${id}.png`).extractChannel(0).raw().toBuffer();
  const a = Buffer.alloc(S * S), b = Buffer.alloc(S * S);
  for (let i = 0; i < S * S; i++) { a[i] = u16[i]! >> 8; b[i] = m[i] ? Math.min(255, (u16[i]! >> 8) + 90) : u16[i]! >> 8; }
  tiles.push(a, b);
}
const cols = 4, rows = Math.ceil(tiles.length / cols);
const big = Buffer.alloc(cols * S * rows * S);
tiles.forEach((t, k) => { const cx = (k % cols) * S, cy = Math.floor(k / cols) * S; for (let y = 0; y < S; y++) t.copy(big, (cy + y) * cols * S + cx, y * S, y * S + S); });
await sharp(big, { raw: { width: cols * S, height: rows * S, channels: 1 } }).png().toFile('/tmp/synthlook/tile.png');
