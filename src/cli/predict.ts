/** `radml predict`: score a manifest or dataset with a model folder (or an imported ONNX + sidecar). */
import { existsSync } from 'node:fs';
import { loadOrIngest } from '../data/ingest/index.js';
import { Predictor } from '../predict/index.js';
import { predictionsTable } from '../train/predictions.js';
import { writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { availableParallelism } from 'node:os';
import { type Command, bool, num, requireStr } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'predict',
  summary: 'score images with a model folder; writes the manifest columns plus score_<class> (calibrated), raw_score_<class>, rejected/reason',
  usage: '--model <model-dir|model.onnx> --data <manifest.csv|dataset-dir> --out <preds.csv>',
  help: `
Verifies the SHA-256 of every artefact listed in model.json before loading (a changed model.onnx
is refused), decodes the images, applies the model's stored preprocessing and writes a CSV with
every manifest column plus score_<class> (a probability) per class or finding, in manifest order.
Images that cannot be decoded are listed on stderr and left out of the CSV.

Calibration: a model trained by radml carries a per-class calibration fitted on its validation
split; score_<class> is then the calibrated probability and raw_score_<class> the model's own.
Out-of-distribution gate: when the model folder has ood.json (written by \`radml train\`), every
image is checked first (DICOM header against the training data, feature distance, energy); a
rejected image gets blank scores, rejected = 1 and the reason. --no-ood-gate scores everything.

Imported models: --model may be a folder holding model.onnx and a sidecar model.json, or a file
<name>.onnx with <name>.json beside it. Sidecar format:
  {
    "classes": ["normal", "pneumonia"],        required, in output order
    "labelKind": "categorical",                or "multilabel" (sigmoid per finding)
    "positiveClass": "pneumonia",              optional
    "input": { "size": 224, "channels": 3 },   square input; grey is replicated to 3 channels
    "preprocessing": { "resize": "pad", "normalise": "zscore", "mean": 0.485, "std": 0.229 },
                                               normalise: none|minmax|zscore|percentile; equalise: bool
    "output": { "kind": "logits" }             logits (radml applies softmax/sigmoid) or probabilities
  }

Example:
  radml predict --model models/pneumonia --data test/labels.csv --out preds.csv`,
  options: {
    model: { type: 'string', arg: '<path>', description: 'model folder, or an .onnx file with a JSON sidecar' },
    data: { type: 'string', arg: '<path>', description: 'manifest CSV or dataset folder' },
    out: { type: 'string', arg: '<file>', description: 'predictions CSV to write' },
    threads: { type: 'string', arg: 'N', description: 'inference threads (default: all cores)' },
    batch: { type: 'string', arg: 'N', description: 'images per inference batch', default: '256' },
    'no-ood-gate': { type: 'boolean', description: 'score every image, even ones the out-of-distribution gate would reject' },
    raw: { type: 'boolean', description: 'write the uncalibrated scores as score_<class> (no raw_score_ columns)' },
  },
  async run(args, io) {
    const modelPath = requireStr(args, 'model', 'predict');
    const data = requireStr(args, 'data', 'predict');
    const out = requireStr(args, 'out', 'predict');
    const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
    const batch = num(args, 'batch', { integer: true, min: 1, max: 65536 }) ?? 256;
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
    const model = await Predictor.open(modelPath, { threads, oodGate: !bool(args, 'no-ood-gate'), calibrated: !bool(args, 'raw') });
    try {
      const bar = progressBar(io);
      const { dataset, skipped } = await loadOrIngest(data, { imageSize: model.size, resize: model.meta.preprocessing.resize, onProgress: bar.callback });
      const r = await model.predictDataset(dataset, { batch, onProgress: bar.callback });
      bar.stop();
      const t = predictionsTable(dataset, model.classes, r.scores, { ...(model.calibrated && { raw: r.raw }), checks: r.checks });
      writeCsv(out, t.header, t.rows);
      for (const s of skipped) io.err(`skipped ${s.path}: ${s.reason}`);
      const rejected = r.checks?.filter((c) => !c.accepted).length ?? 0;
      if (!model.gate && !bool(args, 'no-ood-gate')) io.err(`note: ${modelPath} has no out-of-distribution gate (ood.json); every image was scored`);
      io.out(`wrote ${t.rows.length} predictions to ${out}${model.calibrated ? ' (calibrated scores; raw_score_<class> holds the uncalibrated ones)' : ''}` +
        `${r.checks ? `; ${rejected} rejected by the out-of-distribution gate (blank scores, reason in the "reason" column)` : ''}` +
        `${skipped.length ? `; ${skipped.length} image(s) could not be read and are not in it (listed above)` : ''}`);
    } finally {
      await model.release();
    }
    return 0;
  },
};
