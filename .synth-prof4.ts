import { generateCohort } from './src/data/synth/index.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/synthlook/out2', { recursive: true, force: true });
const c0 = process.cpuUsage();
const r = await generateCohort({ out: '/tmp/synthlook/out2', n: 200, sites: 4, seed: 1 });
const c = process.cpuUsage(c0);
console.log('wall', r.seconds, 'cpu user', c.user / 1e6, 'sys', c.system / 1e6);
