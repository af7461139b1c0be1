import sharp from 'sharp';
import { siteProfiles } from './src/data/synth/sites.js';
import { sampleCohort } from './src/data/synth/population.js';
import { renderStudy } from './src/data/synth/render.js';
const sites = siteProfiles(4, 1);
const studies = sampleCohort({ n: 60, seed: 1, sites });
const pick = process.argv.slice(2).map(Number);
const S = 256;
const tiles: Buffer[] = [];
const t0 = performance.now();
for (const idx of pick) {
  const st = studies[idx]!;
  const r = renderStudy(st, sites[st.siteIndex]!, S);
  const u8 = Buffer.alloc(S * S);
  for (let i = 0; i < S * S; i++) u8[i] = Math.round(r.image.data[i]! * 255);
  tiles.push(u8);
  console.log(idx, st.site, st.view, st.sex, st.age, JSON.stringify(st.labels), st.anatomy.ctr.toFixed(2));
}
console.log('ms/render', (performance.now() - t0) / pick.length);
const cols = Math.min(4, tiles.length), rows = Math.ceil(tiles.length / cols);
const big = Buffer.alloc(cols * S * rows * S);
tiles.forEach((t, k) => { const cx = (k % cols) * S, cy = Math.floor(k / cols) * S; for (let y = 0; y < S; y++) t.copy(big, (cy + y) * cols * S + cx, y * S, y * S + S); });
await sharp(big, { raw: { width: cols * S, height: rows * S, channels: 1 } }).png().toFile('/tmp/synthlook/grid.png');
