import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateCohort } from '../data/synth/index.js';
import { readManifest } from '../data/manifest.js';
import { holdoutSplit, summariseSplit, writeSplitManifest, formatCountTable } from '../data/splits/index.js';
import { formatSummary, ingestToDir } from '../data/ingest/index.js';
import { writeDemoStream } from '../monitor/demo-stream.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { writeFileAtomic } from '../util/atomic.js';
import { encodeGreyPng } from '../data/synth/png.js';
import { formatLabelDemo, labelDemo } from '../labels/index.js';
import { type Command, type CommandIO, bool, num, parseCommandArgs, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

/**
 * Images that are plainly not chest radiographs (noise, gradients, checkerboards), written as PNG
 * so the out-of-distribution gate has something foreign to refuse even without ../shared data.
 */
function writeForeignImages(dir: string, seed: number): void {
  const rng = new Rng(seed ^ 0x5eed);
  mkdirSync(dir, { recursive: true });
  const size = 96;
  for (let k = 0; k < 12; k++) {
    const px = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = k % 3 === 0 ? rng.random() : k % 3 === 1 ? (x + y) / (2 * size) : ((x >> 3) + (y >> 3)) % 2;
        px[y * size + x] = Math.round(255 * v);
      }
    }
    writeFileAtomic(join(dir, `foreign-${k}.png`), encodeGreyPng(px, size, size));
  }
}

function stage(io: CommandIO, n: number, title: string): void {
  io.out(`\n━━ ${n}. ${title}`);
}

export const command: Command = {
  name: 'demo',
  summary: 'Run the whole pipeline on the built-in synthetic multi-site cohort',
  usage: '[--out radml-demo] [--n 1200] [--seed 1]',
  help: `
Runs, in order, on a synthetic cohort that radml generates itself (no data needed):
  1. synth    a multi-site chest-radiograph cohort (DICOM + PNG, masks, reports, simulated readers)
  2. split    patient-level stratified train/val/test split
  3. ingest   decode the DICOM files once into a dataset cache, with a summary
  4. labels   label the synthetic reports (negation/uncertainty aware) against the true labels,
              and recover the simulated readers' sensitivity/specificity by Dawid–Skene
  5. train    a multi-label CNN on ONNX Runtime (train split, early stopping on val)
  6. predict  scores for every study, and an annotation queue: the 20 studies BADGE (active
              learning) would send to an expert first
  7. explain  saliency maps with the randomisation sanity test and pointing-game localisation
  8. stress   FGSM/PGD/Square attacks, graded corruptions, and an out-of-distribution gate fitted
              on the training data (tested on foreign images) and saved with the model
  9. evaluate AUROC/AUPRC with CIs, operating points chosen on val for a 5:1 cost of a missed
              finding, calibration, subgroups (sex, age band, site, view, manufacturer), per-site
              validation; report.html, results.json, model card and checklists
  10. monitor replay a production stream in which a new site appears mid-way (and the case mix
              shifts) through radml monitor, and show the alarms
  11. federate the sites train without pooling images (FedAvg and FedBN, 3 rounds at
              32 px) beside the pooled and local-only models; per-site test AUROC
  12. serve   start the inference service with the demo model on 127.0.0.1 and keep it running
              until Ctrl-C (skip with --no-serve)
Everything goes under --out (default ./radml-demo); an earlier demo there is replaced.`,
  options: {
    out: { type: 'string', short: 'o', arg: '<dir>', description: 'folder for everything the demo writes', default: 'radml-demo' },
    n: { type: 'string', arg: 'N', description: 'number of synthetic studies', default: '1200' },
    sites: { type: 'string', arg: 'N', description: 'number of synthetic sites', default: '4' },
    seed: { type: 'string', arg: 'N', description: 'seed for every random step', default: '1' },
    'image-size': { type: 'string', arg: 'N', description: 'side of the cached/training image', default: '64' },
    epochs: { type: 'string', arg: 'N', description: 'maximum training epochs', default: '20' },
    keep: { type: 'boolean', description: 'keep an existing --out folder instead of replacing it' },
    'no-serve': { type: 'boolean', description: 'finish after the report instead of leaving the service running' },
  },
  async run(args, io) {
    const out = resolve(str(args, 'out') ?? 'radml-demo');
    const n = num(args, 'n', { integer: true, min: 20, max: 100000 }) ?? 1200;
    const sites = num(args, 'sites', { integer: true, min: 1, max: 26 }) ?? 4;
    const seed = num(args, 'seed', { integer: true }) ?? 1;
    const imageSize = num(args, 'image-size', { integer: true, min: 16, max: 512 }) ?? 64;
    const epochs = num(args, 'epochs', { integer: true, min: 1, max: 1000 }) ?? 20;
    if (existsSync(out) && !bool(args, 'keep')) {
      if (!existsSync(join(out, '.radml-demo'))) throw new InputError('CLI_ARGS', `${out} exists and was not made by radml demo; choose another --out`);
      rmSync(out, { recursive: true, force: true });
    }
    mkdirSync(out, { recursive: true });
    writeFileAtomic(join(out, '.radml-demo'), 'written by radml demo; safe to delete\n');
    const started = Date.now();
    const bar = progressBar(io);

    stage(io, 1, `Synthetic cohort: ${n} studies from ${sites} sites (seed ${seed})`);
    const cohortDir = join(out, 'cohort');
    const cohort = await generateCohort({ out: cohortDir, n, sites, seed, onProgress: bar.callback });
    bar.stop();
    io.out(`Wrote ${cohortDir}: DICOM, PNG, masks, manifest.csv, reports.csv, readers.csv, cohort.json`);
    void cohort;

    stage(io, 2, 'Patient-level stratified split (70/15/15)');
    const manifest = readManifest(join(cohortDir, 'manifest.csv'));
    const assignment = holdoutSplit(manifest.records, { seed });
    // Beside the original, so the image paths stay relative to the same folder.
    const splitPath = join(cohortDir, 'manifest-split.csv');
    writeSplitManifest(splitPath, manifest, assignment);
    const ss = summariseSplit(manifest, assignment);
    io.out(formatCountTable('records per split × finding', ss.bins, ss.classes, (b, c) => ss.byClass[b]?.[c] ?? 0, (b) => ss.records[b] ?? 0));
    io.out(`patients per split: ${ss.bins.map((b) => `${b} ${ss.patients[b] ?? 0}`).join(', ')} — no patient is in two splits`);
    // A study can carry several findings, so the finding columns above do not add up to studies.
    io.out(`${manifest.records.length} studies generated: ${ss.bins.map((b) => `${ss.records[b] ?? 0} ${b}`).join(' / ')}; the model trains on the train studies only, and explain, stress and evaluate report on the test studies`);

    stage(io, 3, `Ingest the DICOM files at ${imageSize}×${imageSize}`);
    const dsDir = join(out, 'dataset');
    const ing = await ingestToDir(splitPath, dsDir, { imageSize, onProgress: bar.callback });
    bar.stop();
    io.out(formatSummary(ing.summary));

    stage(io, 4, 'Labels: mine the free-text reports, and build a consensus of the simulated readers');
    for (const line of formatLabelDemo(labelDemo(cohortDir))) io.out(line);

    // Each stage runs its command module directly. Importing main.js instead would deadlock when
    // main.ts is the entry script (`node --import tsx src/cli/main.ts demo`): the import waits for
    // main's own top-level await, which is waiting for this demo.
    const sub = async (argv: string[]) => {
      const [name, ...rest] = argv;
      const { command } = (await import(`./${name}.js`)) as { command: Command };
      const code = await command.run(parseCommandArgs(command, rest), io);
      if (code !== 0) throw new InputError('DEMO_STAGE', `radml ${name} failed (exit ${code}); see the messages above`);
    };

    stage(io, 5, `Train a multi-label CNN on ONNX Runtime on the ${ss.records['train'] ?? 0} train studies (early stopping on the ${ss.records['val'] ?? 0} val studies)`);
    const modelDir = join(out, 'model');
    await sub(['train', '--data', dsDir, '--out', modelDir, '--image-size', String(imageSize), '--epochs', String(epochs), '--seed', String(seed)]);

    stage(io, 6, 'Predict every study (scores per finding)');
    const predsPath = join(out, 'predictions.csv');
    await sub(['predict', '--model', modelDir, '--data', dsDir, '--out', predsPath]);
    // Active learning (~2 s): every demo study has labels, so all are ranked (--include-labelled).
    await sub(['active', 'select', '--model', modelDir, '--pool', dsDir, '--n', '20', '--strategy', 'badge', '--include-labelled', '--out', join(out, 'annotation-queue.csv')]);

    stage(io, 7, 'Explain (test split): Grad-CAM, integrated gradients, SmoothGrad, occlusion; localisation against the ground-truth masks');
    const explainDir = join(out, 'explain');
    await sub(['explain', '--model', modelDir, '--data', dsDir, '--out', explainDir, '--split', 'test', '--max-images', '40', '--seed', String(seed)]);

    stage(io, 8, 'Stress (test split): adversarial attacks, natural corruptions, out-of-distribution gate (fitted on train, saved with the model)');
    const stressDir = join(out, 'stress');
    const foreign = join(out, 'foreign');
    writeForeignImages(foreign, seed);
    await sub(['stress', '--model', modelDir, '--data', dsDir, '--out', stressDir, '--tests', 'attacks,corruptions,ood', '--ood-data', foreign, '--save-ood', '--split', 'test', '--max-images', '100', '--square-queries', '100', '--seed', String(seed)]);

    stage(io, 9, 'Evaluate on the test split: thresholds and recalibration chosen on val; subgroups and sites');
    const evalDir = join(out, 'evaluation');
    await sub(['evaluate', '--predictions', predsPath, '--out', evalDir, '--model', modelDir, '--groups', 'sex,age_band,site,view,manufacturer', '--costs', 'fn=5,fp=1', '--seed', String(seed), '--title', 'radml demo: synthetic multi-site cohort', '--saliency', explainDir, '--robustness', stressDir, '--save-operating-points']);
    io.out(`Open ${join(evalDir, 'report.html')} in a browser for the full validation report.`);

    stage(io, 10, 'Monitor a production stream: a new site (another manufacturer, sicker patients) appears mid-way');
    const ms = writeDemoStream(splitPath, 'site_D', seed);
    if ('skipped' in ms) io.out(`skipped: ${ms.skipped}`);
    else {
      await sub(['monitor', '--model', modelDir, '--data', ms.stream, '--reference', ms.reference, '--out', join(out, 'monitor'), '--window', '50', '--min-window', '30']);
      io.out(`The new site enters the ${ms.rows}-study stream at row ${ms.onset}; see ${join(out, 'monitor', 'monitor.html')}`);
    }

    stage(io, 11, 'Federated learning: the sites train together without pooling images (FedAvg, FedBN) vs pooled and local-only models');
    // Small on purpose (3 rounds, 32 px, ~20 CPU-seconds): the workflow, not the measured settings (see the README).
    const fedArgs = ['federate', 'simulate', '--data', dsDir, '--site-column', 'site', '--rounds', '3', '--local-epochs', '1', '--image-size', '32', '--width', '8', '--batch', '32', '--seed', String(seed)];
    await sub([...fedArgs, '--strategy', 'fedavg', '--out', join(out, 'federated', 'fedavg')]);
    await sub([...fedArgs, '--strategy', 'fedbn', '--no-baselines', '--out', join(out, 'federated', 'fedbn')]);

    io.out(`\nPipeline finished in ${((Date.now() - started) / 1000).toFixed(1)} s. Everything is in ${out}`);
    if (bool(args, 'no-serve')) return 0;

    stage(io, 12, 'Serve the demo model (loopback only) — press Ctrl-C to stop');
    const { startDemoService } = await import('../serve/index.js');
    const svc = await startDemoService({ modelDir, dir: join(out, 'serve') });
    const example = join(cohortDir, 'dicom', 'ST00001.dcm');
    io.out(`radml serve is running at ${svc.url} with model ${svc.model.name} v${svc.model.version} (champion).`);
    io.out(`  dashboard:     ${svc.url}/  (sign in with a token below)`);
    io.out(`  API document:  ${svc.url}/openapi.json   health: ${svc.url}/health   metrics: ${svc.url}/metrics`);
    io.out(`  tokens (shown once): radiologist ${svc.tokens.radiologist}`);
    io.out(`                       admin       ${svc.tokens.admin}`);
    io.out(`  score a study:  curl -s -H 'Authorization: Bearer ${svc.tokens.radiologist}' -H 'Content-Type: application/dicom' --data-binary @${example} '${svc.url}/v1/predict?heatmap=true'`);
    io.out('Stop it with Ctrl-C (or `kill` this process); the store and audit log stay in ' + join(out, 'serve'));
    await new Promise<void>((resolveStop) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolveStop();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    io.out('\nstopping the service…');
    await svc.stop();
    return 0;
  },
};
