/** `radml explain`: saliency maps (Grad-CAM, integrated gradients, SmoothGrad, occlusion) with overlays, localisation scores and the randomisation sanity test. */
import { existsSync } from 'node:fs';
import { loadOrIngest } from '../data/ingest/index.js';
import { LoadedModel } from '../explain/loaded-model.js';
import { explainDataset, SALIENCY_METHODS, type SaliencyMethod } from '../explain/run.js';
import { InputError } from '../util/errors.js';
import { type Command, bool, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'explain',
  summary: 'saliency maps with PNG overlays and .npy maps, localisation scores and the randomisation sanity test',
  usage: '--model <model-dir> --data <manifest.csv|dataset-dir> --out <dir> [options]',
  help: `
For each image of the held-out split (test, else val, else every row; --split <name|all> chooses),
at most --max-images with ground-truth masks first, explains the predicted class (or --target) with
the chosen methods and writes (<id> is the row's study id, else row<n> for manifest row n):
  <out>/overlays/<id>_<method>.png   heat map over the original image (pad/crop undone)
  <out>/maps/<id>_<method>.npy       raw float32 map at the model's input size (numpy.load)
  <out>/saliency.csv                 id, study id, split, manifest path, class, probability, per-method
                                     localisation (flat maps are marked and not scored)
  <out>/explain.json                 localisation summary (pointing game, IoU of the top 10%, energy
                                     in mask, with chance levels) and the sanity test (Spearman
                                     rank correlation of maps from the trained vs progressively
                                     randomised model; low = the map depends on what was learned)
Methods: gradcam (last conv block, or --layer), ig (integrated gradients, --steps, black baseline),
smoothgrad (--samples), occlusion (--patch/--stride; works on any ONNX model). Gradient methods need
a radml-trained model folder (with its checkpoint) or an imported ONNX the engine can differentiate.

Example:
  radml explain --model models/synth --data synth-ds --out explain --methods gradcam,ig`,
  options: {
    model: { type: 'string', arg: '<dir>', description: 'model folder (or .onnx with sidecar)' },
    data: { type: 'string', arg: '<path>', description: 'manifest CSV or dataset folder' },
    out: { type: 'string', arg: '<dir>', description: 'output folder' },
    methods: { type: 'string', arg: 'a,b', description: `subset of ${SALIENCY_METHODS.join(',')} (default: all that apply)` },
    layer: { type: 'string', arg: '<name>', description: 'Grad-CAM layer, e.g. block2.relu (default: last conv block)' },
    target: { type: 'string', arg: '<class>|present', description: 'explain this class, or "present": the top-scoring labelled-positive class (default: predicted)' },
    steps: { type: 'string', arg: 'N', description: 'integrated-gradients steps', default: '50' },
    samples: { type: 'string', arg: 'N', description: 'SmoothGrad samples', default: '25' },
    patch: { type: 'string', arg: 'PX', description: 'occlusion patch side (model pixels; default side/8)' },
    stride: { type: 'string', arg: 'PX', description: 'occlusion stride (default patch/2)' },
    'max-images': { type: 'string', arg: 'N', description: 'images to explain', default: '50' },
    split: { type: 'string', arg: '<split|all>', description: 'split whose images are explained (default: test, else val, else every row)' },
    'sanity-images': { type: 'string', arg: 'N', description: 'images for the randomisation test (0 = skip)', default: '4' },
    'no-overlays': { type: 'boolean', description: 'skip PNG overlays' },
    'no-maps': { type: 'boolean', description: 'skip .npy maps' },
    'no-ood-gate': { type: 'boolean', description: 'also explain images the model\'s out-of-distribution gate rejects' },
    threads: { type: 'string', arg: 'N', description: 'ONNX Runtime threads', default: '1' },
    seed: { type: 'string', arg: 'N', description: 'seed for image sampling and SmoothGrad', default: '1' },
  },
  async run(args, io) {
    const modelPath = requireStr(args, 'model', 'explain');
    const data = requireStr(args, 'data', 'explain');
    const out = requireStr(args, 'out', 'explain');
    const methods = list(args, 'methods') as SaliencyMethod[] | undefined;
    for (const m of methods ?? []) if (!SALIENCY_METHODS.includes(m)) throw new InputError('CLI_ARGS', `--methods: unknown method "${m}" (one of ${SALIENCY_METHODS.join(', ')})`);
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
    const model = await LoadedModel.open(modelPath, { threads: num(args, 'threads', { integer: true, min: 1, max: 64 }), oodGate: !bool(args, 'no-ood-gate') });
    const bar = progressBar(io);
    try {
      const { dataset, skipped } = await loadOrIngest(data, { imageSize: model.size, resize: model.preprocessing.resize, onProgress: bar.callback });
      for (const s of skipped) io.err(`skipped ${s.path}: ${s.reason}`);
      const s = await explainDataset(model, dataset, out, {
        methods, layer: str(args, 'layer'), target: str(args, 'target'),
        steps: num(args, 'steps', { integer: true, min: 1, max: 1000 }), samples: num(args, 'samples', { integer: true, min: 1, max: 1000 }),
        patch: num(args, 'patch', { integer: true, min: 1 }), stride: num(args, 'stride', { integer: true, min: 1 }),
        maxImages: num(args, 'max-images', { integer: true, min: 1 }), sanityImages: num(args, 'sanity-images', { integer: true, min: 0 }),
        overlays: !bool(args, 'no-overlays'), rawMaps: !bool(args, 'no-maps'), seed: num(args, 'seed', { integer: true, min: 0 }),
        ...(str(args, 'split') !== undefined ? { split: str(args, 'split')! } : {}),
        onProgress: bar.callback,
      });
      bar.stop();
      for (const sk of s.skipped) io.err(sk.method === 'image selection' ? `note: ${sk.reason}` : `skipped ${sk.method}: ${sk.reason}`);
      io.out(`explained ${s.images} images of split ${s.split ?? 'all rows'} with ${s.methods.join(', ')}${s.layer ? ` (Grad-CAM layer ${s.layer})` : ''}; results in ${out}`);
      for (const [m, l] of Object.entries(s.localisation)) {
        io.out(`  ${m.padEnd(10)} pointing game ${(l.pointingHitRate * 100).toFixed(1)}% (chance ${(l.chanceHitRate * 100).toFixed(1)}%), IoU top-10% ${l.meanIoU.toFixed(3)}, energy in mask ${l.meanEnergyInMask.toFixed(3)} (uniform ${l.chanceEnergy.toFixed(3)}) on ${l.images} masked images${l.degenerate ? ` (${l.degenerate} flat map(s) not scored)` : ''}`);
      }
      for (const [m, r] of Object.entries(s.sanity)) {
        io.out(`  sanity ${m}: Spearman trained vs fully randomised ${r.fullyRandomisedSpearman.toFixed(3)} → ${r.passed ? 'passes' : 'FAILS'} (< ${r.threshold})`);
      }
      return 0;
    } finally {
      bar.stop();
      await model.release();
    }
  },
};
