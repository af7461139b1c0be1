import { sampleCohort, siteProfiles, renderStudy, FINDINGS } from './src/data/synth/index.js';
const sites = siteProfiles(4, 1);
const st = sampleCohort({ n: 400, seed: 1, sites });
let bad = 0;
for (const s of st) {
  const r = renderStudy(s, sites[s.siteIndex]!, 128);
  for (const f of FINDINGS) if (s.labels[f]) { const m = r.masks[f]; const c = m ? m.reduce((a, b) => a + b, 0) : 0; if (c < 3) { bad++; console.log(s.studyId, f, c, JSON.stringify(s.lesions[f.toLowerCase() as 'nodule'])); } }
}
console.log('bad', bad);
