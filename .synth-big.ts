import sharp from 'sharp';
const dir = process.argv[2]!; const ids = process.argv.slice(3);
const tiles = await Promise.all(ids.map((id) => sharp(`${dir}/png/${id}.png`).toColourspace('b-w').resize(384, 384).png().toBuffer()));
const comp = tiles.map((t, k) => ({ input: t, left: (k % 2) * 384, top: Math.floor(k / 2) * 384 }));
await sharp({ create: { width: 768, height: 384 * Math.ceil(ids.length / 2), channels: 3, background: '#000' } }).composite(comp).png().toFile('/tmp/synthlook/big.png');
