/** `radml predict`: score a manifest or dataset with a model folder (or an imported ONNX + sidecar). */
import { existsSync } from 'node:fs';
import { loadOrIngest } from '../data/ingest/index.js';
import { loadAnyModel } from '../train/imported.js';
import { predictionsTable } from '../train/predictions.js';
import { scoreDataset } from '../train/scoring.js';
import { writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { availableParallelism } from 'node:os';
import { type Command, num, requireStr } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'predict',
  summary: 'score images with a model folder; writes the manifest columns plus score_<class>',
  usage: '--model <model-dir|model.onnx> --data <manifest.csv|dataset-dir> --out <preds.csv>',
  help: `
Verifies the SHA-256 of every artefact listed in model.json before loading (a changed model.onnx
is refused), decodes the images, applies the model's stored preprocessing and writes a CSV with
every manifest column plus score_<class> (a probability) per class or finding, in manifest order.
Images that cannot be decoded are listed on stderr and left out of the CSV.

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
  },
  async run(args, io) {
    const modelPath = requireStr(args, 'model', 'predict');
    const data = requireStr(args, 'data', 'predict');
    const out = requireStr(args, 'out', 'predict');
    const threads = num(args, 'threads', { integer: true, min: 1, max: 256 }) ?? availableParallelism();
    const batch = num(args, 'batch', { integer: true, min: 1, max: 65536 }) ?? 256;
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
    const { meta, onnx } = await loadAnyModel(modelPath);
    const bar = progressBar(io);
    const { dataset, skipped } = await loadOrIngest(data, { imageSize: meta.input.size, resize: meta.preprocessing.resize, onProgress: bar.callback });
    const probs = await scoreDataset(meta, onnx, dataset, { threads, batch, onProgress: bar.callback });
    bar.stop();
    const t = predictionsTable(dataset, meta.classes, probs);
    writeCsv(out, t.header, t.rows);
    for (const s of skipped) io.err(`skipped ${s.path}: ${s.reason}`);
    io.out(`wrote ${t.rows.length} predictions to ${out}${skipped.length ? `; ${skipped.length} image(s) could not be read and are not in it (listed above)` : ''}`);
    return 0;
  },
};
