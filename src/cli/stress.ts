/** `radml stress`: adversarial and corruption stress tests, the OOD gate (fit + acceptance) and the poisoning screen for a model. */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrIngest } from '../data/ingest/index.js';
import { LoadedModel } from '../explain/loaded-model.js';
import { ATTACKS, stressTest, type AttackName } from '../robustness/stress.js';
import { CORRUPTIONS, type Corruption } from '../robustness/corruptions.js';
import { checkImages, fitOodDetector, oodSplit, saveOodDetector } from '../robustness/ood-detector.js';
import { poisoningScreen, sourceAcceptance } from '../robustness/screen.js';
import { datasetImages } from '../explain/loaded-model.js';
import { renderStressHtml } from '../robustness/report.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

const TESTS = ['attacks', 'corruptions', 'ood', 'poisoning'] as const;

export const command: Command = {
  name: 'stress',
  summary: 'adversarial attacks, natural corruptions, out-of-distribution gate and poisoning screen for a model',
  usage: '--model <model-dir> --data <manifest.csv|dataset-dir> --out <dir> [options]',
  help: `
attacks      FGSM, PGD L∞ and PGD L2 (white-box, input gradients) and the query-only Square Attack
             (any ONNX model), at each --epsilons radius (grey levels of 255; L2 radii are the L∞ ones
             × √pixels / 4). Per radius: AUROC, sensitivity and specificity at the operating point
             chosen once on the clean images (Youden), accuracy for categorical models.
corruptions  Gaussian noise, blur, contrast, gamma, JPEG, down-sampling, rotation at severities 1–5.
             Attacks and corruptions run on the held-out images: the test split, else val, else every
             row (--split <name|all> chooses); the output says which.
ood          Fits the OOD gate on --data (train split, thresholds on the val split or a held-out 20%)
             for --acceptance (default 0.95): DICOM header profile, Mahalanobis distance of the
             penultimate features (Ledoit–Wolf), energy score of the logits (categorical models). --save-ood writes <model>/ood.json,
             which prediction-time checks (checkInput) read. --ood-data lists foreign sources
             (DICOM/PNG files, folders, manifests) whose rejection rate is reported.
poisoning    Robust z-scores of per-sample loss and last-layer gradient norm over --data.
Writes <out>/stress.json (all numbers), <out>/stress.html (curves) and prints a summary.

Examples:
  radml stress --model model/ --data dataset/ --out stress/                 (your model folder and the dataset or
                                                                           manifest it was trained from)
  radml stress --model model/ --data dataset/ --out stress/ --tests ood --ood-data ct-scans/ --save-ood
  radml stress --model radml-demo/model --data radml-demo/dataset --out stress --tests attacks,corruptions,ood \\
    --ood-data radml-demo/foreign --save-ood       (after \`radml demo\`, which writes these folders)`,
  options: {
    model: { type: 'string', arg: '<dir>', description: 'model folder (or .onnx with sidecar)' },
    data: { type: 'string', arg: '<path>', description: 'labelled manifest CSV or dataset folder' },
    out: { type: 'string', arg: '<dir>', description: 'output folder' },
    tests: { type: 'string', arg: 'a,b', description: `subset of ${TESTS.join(',')}`, default: 'attacks,corruptions' },
    attacks: { type: 'string', arg: 'a,b', description: `subset of ${ATTACKS.join(',')} (default: all that apply)` },
    corruptions: { type: 'string', arg: 'a,b', description: `subset of ${CORRUPTIONS.join(',')} (default: all)` },
    epsilons: { type: 'string', arg: 'e1,e2', description: 'L∞ radii in grey levels of 255', default: '0,0.5,1,2,4,8' },
    'pgd-steps': { type: 'string', arg: 'N', description: 'PGD iterations', default: '10' },
    'square-queries': { type: 'string', arg: 'N', description: 'Square Attack queries per image', default: '300' },
    'max-images': { type: 'string', arg: 'N', description: 'labelled images for attacks/corruptions (seeded sample)', default: '200' },
    split: { type: 'string', arg: '<split|all>', description: 'split whose images are attacked and corrupted (default: test, else val, else every row)' },
    acceptance: { type: 'string', arg: 'R', description: 'OOD: in-distribution acceptance rate', default: '0.95' },
    'ood-data': { type: 'string', arg: 'p1,p2', description: 'OOD: foreign sources to check (files, folders, manifests)' },
    'ood-max': { type: 'string', arg: 'N', description: 'OOD: files per foreign source (seeded sample)', default: '300' },
    'save-ood': { type: 'boolean', description: 'OOD: write the fitted gate as <model>/ood.json' },
    threads: { type: 'string', arg: 'N', description: 'ONNX Runtime threads', default: '1' },
    seed: { type: 'string', arg: 'N', description: 'seed', default: '1' },
  },
  async run(args, io) {
    const modelPath = requireStr(args, 'model', 'stress');
    const data = requireStr(args, 'data', 'stress');
    const out = requireStr(args, 'out', 'stress');
    const tests = list(args, 'tests') ?? [];
    for (const t of tests) if (!(TESTS as readonly string[]).includes(t)) throw new InputError('CLI_ARGS', `--tests: unknown test "${t}" (one of ${TESTS.join(', ')})`);
    const attacks = list(args, 'attacks') as AttackName[] | undefined;
    for (const a of attacks ?? []) if (!ATTACKS.includes(a)) throw new InputError('CLI_ARGS', `--attacks: unknown attack "${a}" (one of ${ATTACKS.join(', ')})`);
    const corruptions = list(args, 'corruptions') as Corruption[] | undefined;
    for (const c of corruptions ?? []) if (!CORRUPTIONS.includes(c)) throw new InputError('CLI_ARGS', `--corruptions: unknown corruption "${c}" (one of ${CORRUPTIONS.join(', ')})`);
    const epsilons = (list(args, 'epsilons') ?? []).map((e) => {
      const v = Number(e);
      if (!(v >= 0 && v <= 255)) throw new InputError('CLI_ARGS', `--epsilons: "${e}" is not a number of grey levels in 0..255`);
      return v / 255;
    });
    const acceptance = num(args, 'acceptance', { min: 0.5, max: 1 })!;
    const seed = num(args, 'seed', { integer: true, min: 0 })!;
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
    if (!existsSync(out)) mkdirSync(out, { recursive: true });
    const model = await LoadedModel.open(modelPath, { threads: num(args, 'threads', { integer: true, min: 1, max: 64 }) });
    const bar = progressBar(io);
    const result: Record<string, unknown> = { model: modelPath, data };
    try {
      const { dataset, skipped } = await loadOrIngest(data, { imageSize: model.size, resize: model.preprocessing.resize, onProgress: bar.callback });
      bar.stop();
      for (const s of skipped) io.err(`skipped ${s.path}: ${s.reason}`);
      if (!model.gradient) io.err(`note: ${model.gradientUnavailable}; only black-box methods apply`);
      if (tests.includes('attacks') || tests.includes('corruptions')) {
        const r = await stressTest(model, dataset, {
          attacks: tests.includes('attacks') ? attacks : [], corruptions: tests.includes('corruptions') ? corruptions : [],
          epsilons, pgdSteps: num(args, 'pgd-steps', { integer: true, min: 1 }), squareQueries: num(args, 'square-queries', { integer: true, min: 1 }),
          maxImages: num(args, 'max-images', { integer: true, min: 2 }), seed, onProgress: bar.callback,
          ...(str(args, 'split') !== undefined ? { split: str(args, 'split')! } : {}),
        });
        bar.stop();
        result.stress = r;
        for (const n of r.notes) io.err(`note: ${n}`);
        io.out(`stress test on ${r.images} images of split ${r.split ?? 'all rows'}; scored ${r.scoredClasses.join(', ')} at the ${r.operatingPoint.rule} operating point`);
        for (const c of r.curves) {
          const pts = c.points.map((p) => `${c.kind === 'attack' ? (c.name === 'pgd-l2' ? p.strength.toFixed(2) : (p.strength * 255).toFixed(1)) : p.strength}: AUROC ${p.auroc?.toFixed(3) ?? '—'} sens ${p.sensitivity?.toFixed(2) ?? '—'}`);
          io.out(`  ${c.name.padEnd(15)} ${pts.join(' | ')}`);
        }
      }
      if (tests.includes('ood')) {
        const det = await fitOodDetector(model, dataset, { acceptanceRate: acceptance, seed, onProgress: bar.callback });
        bar.stop();
        const split = oodSplit(dataset, seed, model.meta);
        const heldOut = await checkImages(model, det, datasetImages(dataset, model.size, split.calibration), split.calibration.length);
        const ood: Record<string, unknown> = {
          acceptanceRate: acceptance, fitImages: det.fit.images, heldOutImages: split.calibration.length,
          heldOutAccepted: heldOut.filter((c) => c.accepted).length / heldOut.length, thresholds: { mahalanobis: det.mahalanobis?.threshold ?? null, energy: det.energy?.threshold ?? null },
          headerProfile: det.headerProfile, sources: [] as unknown[],
        };
        io.out(`OOD gate: fitted on ${det.fit.images} images (${det.fit.split}); ${(100 * (ood.heldOutAccepted as number)).toFixed(1)}% of ${split.calibration.length} held-out in-distribution images accepted (target ${(acceptance * 100).toFixed(0)}%)`);
        if (bool(args, 'save-ood')) io.out(`  saved ${saveOodDetector(model.dir, det)}`);
        for (const src of list(args, 'ood-data') ?? []) {
          if (!existsSync(src)) { io.err(`--ood-data ${src}: no such file or folder; skipped`); continue; }
          const r = await sourceAcceptance(model, det, src, { max: num(args, 'ood-max', { integer: true, min: 1 }), seed, onProgress: bar.callback });
          bar.stop();
          (ood.sources as unknown[]).push(r);
          const scored = r.accepted + r.rejected;
          io.out(`  ${src}: ${r.rejected}/${scored} rejected (${scored ? ((100 * r.rejected) / scored).toFixed(1) : '—'}%)${r.skipped.length ? `, ${r.skipped.length} unreadable` : ''}; reasons ${Object.entries(r.reasons).map(([k, v]) => `${k} ×${v}`).join(', ') || '—'}`);
          for (const s of r.skipped.slice(0, 5)) io.err(`    skipped ${s.file}: ${s.reason}`);
        }
        result.ood = ood;
      }
      if (tests.includes('poisoning')) {
        const r = await poisoningScreen(model, dataset, { onProgress: bar.callback });
        bar.stop();
        result.poisoning = { count: r.count, threshold: r.threshold, lossMedian: r.lossMedian, gradientNormMedian: r.gradientNormMedian, flagged: r.flagged.map((f, i) => ({ ...f, path: r.flaggedPaths[i] })) };
        io.out(`poisoning screen: ${r.flagged.length} of ${r.count} training samples flagged (robust z > ${r.threshold})`);
        r.flagged.slice(0, 10).forEach((f, i) => io.out(`  ${r.flaggedPaths[i]}: ${f.reasons.join('; ')}`));
      }
      writeJsonAtomic(join(out, 'stress.json'), result);
      writeFileAtomic(join(out, 'stress.html'), renderStressHtml(result));
      io.out(`wrote ${join(out, 'stress.json')} and ${join(out, 'stress.html')}`);
      return 0;
    } finally {
      bar.stop();
      await model.release();
    }
  },
};
