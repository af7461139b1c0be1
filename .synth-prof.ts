import { siteProfiles } from './src/data/synth/sites.js';
import { sampleCohort } from './src/data/synth/population.js';
import { renderPhantom } from './src/data/synth/phantom.js';
import { acquire } from './src/data/synth/acquisition.js';
const sites = siteProfiles(4, 1);
const studies = sampleCohort({ n: 200, seed: 1, sites });
let tp = 0, ta = 0;
for (const st of studies) {
  const t0 = (process.cpuUsage().user/1000);
  const p = renderPhantom({ anatomy: st.anatomy, lesions: st.lesions, view: st.view, cardiomegaly: !!st.labels.Cardiomegaly }, 256);
  const t1 = (process.cpuUsage().user/1000);
  acquire(p.attenuation, 256, sites[st.siteIndex]!, st.noiseSeed);
  ta += (process.cpuUsage().user/1000) - t1; tp += t1 - t0;
}
console.log('phantom ms', tp / 200, 'acquire ms', ta / 200);
