import { siteProfiles } from './src/data/synth/sites.js';
import { sampleCohort } from './src/data/synth/population.js';
import { renderPhantom } from './src/data/synth/phantom.js';
import { acquire } from './src/data/synth/acquisition.js';
const sites = siteProfiles(4, 1);
const studies = sampleCohort({ n: 300, seed: 1, sites });
for (const st of studies.slice(0, 50)) renderPhantom({ anatomy: st.anatomy, lesions: st.lesions, view: st.view, cardiomegaly: !!st.labels.Cardiomegaly }, 256);
(globalThis as any).__t = [0, 0, 0];
let ta = 0;
for (const st of studies.slice(50)) { const p = renderPhantom({ anatomy: st.anatomy, lesions: st.lesions, view: st.view, cardiomegaly: !!st.labels.Cardiomegaly }, 256); const c = process.cpuUsage().user; acquire(p.attenuation, 256, sites[st.siteIndex]!, st.noiseSeed); ta += process.cpuUsage().user - c; }
console.log('vessels/main/bones/acquire ms', ...(globalThis as any).__t.map((x: number) => x / 1000 / 250), ta / 1000 / 250);
