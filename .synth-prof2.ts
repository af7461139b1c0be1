import { siteProfiles } from './src/data/synth/sites.js';
import { sampleCohort } from './src/data/synth/population.js';
import { renderPhantom } from './src/data/synth/phantom.js';
const sites = siteProfiles(4, 1);
const studies = sampleCohort({ n: 200, seed: 1, sites });
const cpu = () => process.cpuUsage().user / 1000;
for (const size of [128, 256, 512]) {
  const t0 = cpu();
  for (const st of studies.slice(0, 100)) renderPhantom({ anatomy: st.anatomy, lesions: st.lesions, view: st.view, cardiomegaly: !!st.labels.Cardiomegaly }, size);
  console.log(size, (cpu() - t0) / 100);
}
