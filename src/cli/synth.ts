/** `radml synth`: write the synthetic multi-site chest-radiograph cohort (see src/data/synth). */
import { defaultWorkers, generateCohort } from '../data/synth/index.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, num, requireStr } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'synth',
  summary: 'write a synthetic multi-site chest X-ray cohort (DICOM, PNG, masks, manifest, reports, readers)',
  usage: '--out <dir> [--n 2000] [--sites 4] [--seed 1] [--size 256]',
  help: `
Generates chest-radiograph phantoms with five findings (Cardiomegaly, Effusion, Consolidation, Nodule,
Pneumothorax) and their masks, from sites that differ in vendor, CR/DX, MONOCHROME1/2, bits stored,
contrast, noise and blur; one site has a clearly different case mix. Writes dicom/, png/, masks/,
manifest.csv (DICOM paths), manifest-png.csv (PNG paths), reports.csv, readers.csv and cohort.json.
The same options always give byte-identical files. An existing folder is only overwritten when it is
an earlier synth output.

Example:
  radml synth --out synth --n 2000 --sites 4 --seed 1`,
  options: {
    out: { type: 'string', short: 'o', arg: '<dir>', description: 'output folder (new, empty, or an earlier synth output)' },
    n: { type: 'string', arg: 'N', description: 'number of studies', default: '2000' },
    sites: { type: 'string', arg: 'K', description: 'number of sites (1–26)', default: '4' },
    seed: { type: 'string', arg: 'S', description: 'random seed', default: '1' },
    size: { type: 'string', arg: 'PX', description: 'image side in pixels', default: '256' },
    workers: { type: 'string', arg: 'W', description: 'worker threads for the images ("auto" = one per core, up to 8; output is identical for any count)', default: 'auto' },
    'no-images': { type: 'boolean', description: 'write only the CSV files and cohort.json (no DICOM/PNG/masks)' },
  },
  async run(args, io) {
    const out = requireStr(args, 'out', 'synth');
    const n = num(args, 'n', { integer: true, min: 1, max: 1_000_000 })!;
    const sites = num(args, 'sites', { integer: true, min: 1, max: 26 })!;
    const seed = num(args, 'seed', { integer: true, min: 0, max: 0xffffffff })!;
    const size = num(args, 'size', { integer: true, min: 64, max: 2048 })!;
    const w = args.values['workers'];
    const workers = w === undefined || w === 'auto' ? defaultWorkers() : num(args, 'workers', { integer: true, min: 1, max: 64 })!;
    if (!Number.isFinite(workers)) throw new InputError('CLI_ARGS', '--workers must be a whole number or "auto"');
    const bar = progressBar(io);
    let result;
    try {
      result = await generateCohort({ out, n, sites, seed, size, workers, images: !bool(args, 'no-images'), onProgress: bar.callback });
    } finally {
      bar.stop();
    }
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    io.out(`wrote ${result.n} studies of ${result.patients} patients at ${result.sites.length} site(s) to ${result.dir} in ${result.seconds.toFixed(1)} s`);
    io.out(`normal studies: ${result.counts.normal}; views PA ${result.counts.views['PA']} / AP ${result.counts.views['AP']}`);
    const findings = Object.keys(result.prevalence) as (keyof typeof result.prevalence)[];
    io.out(`prevalence      ${findings.map((f) => f.padStart(13)).join(' ')}`);
    io.out(`  all           ${findings.map((f) => pct(result.prevalence[f]).padStart(13)).join(' ')}`);
    for (const s of result.sites) {
      io.out(`  ${(s.name + (s.distinctPrevalence ? '*' : '')).padEnd(14)}${findings.map((f) => pct(s.prevalence[f]).padStart(13)).join(' ')}`);
    }
    if (result.distinctSite) io.out(`* ${result.distinctSite} has a deliberately different case mix`);
    io.out(`manifests: ${result.files.manifest} (DICOM), ${result.files.manifestPng} (PNG)`);
    return 0;
  },
};
