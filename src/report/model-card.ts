/** Model card (after Mitchell et al. 2019) in Markdown, from model.json provenance and evaluation results. */
import type { EvaluationResults } from '../evaluate/schema.js';
import { find, modelInfo, show } from './provenance.js';

const f3 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '—');
const ci = (e: { estimate: number | null; ci95: [number, number] | null }) => (e.estimate === null ? '—' : `${f3(e.estimate)}${e.ci95 ? ` (${f3(e.ci95[0])}–${f3(e.ci95[1])})` : ''}`);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** A scalar or short list as text; objects as `key = value` pairs one level deep (never raw JSON). */
function plain(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map(plain).join(', ');
  if (isObj(v)) return Object.entries(v).map(([k, x]) => `${k} ${isObj(x) || Array.isArray(x) ? `(${plain(x)})` : `= ${plain(x)}`}`).join(', ');
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  return String(v);
}

/** The engine ArchSpec in a line: its kind and sizes, not a JSON dump. */
function architectureText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) return show(v);
  const { kind, name, type, ...rest } = v;
  const head = [kind, name, type].filter((x) => typeof x === 'string').join(' ');
  const body = Object.entries(rest)
    .filter(([, x]) => !isObj(x) && !(Array.isArray(x) && x.some(isObj)))
    .map(([k, x]) => `${k} ${plain(x)}`)
    .join(', ');
  return [head, body].filter(Boolean).join(': ') || show(v);
}

/** radml's training.data record in words. */
function trainingDataText(v: unknown): string | undefined {
  if (!isObj(v)) return undefined;
  const skipped = Array.isArray(v['skipped']) ? v['skipped'].length : 0;
  const sha = typeof v['sha256'] === 'string' ? `, SHA-256 ${v['sha256'].slice(0, 12)}…` : '';
  return `${plain(v['source'])} (${plain(v['kind'])}), ${plain(v['images'])} images used${skipped ? `, ${skipped} skipped` : ''}${sha}`;
}

/**
 * radml's training provenance as readable lines: run length and stopping, seed, loss weights, every
 * option as `name = value`, versions. Null when the record is not radml's shape.
 */
function trainingProcedureLines(v: unknown): string[] | null {
  if (!isObj(v) || !isObj(v['options'])) return null;
  const lines: string[] = [];
  const epochs = v['epochsRun'];
  if (epochs !== undefined) {
    lines.push(`${plain(epochs)} epoch(s) run, parameters kept from epoch ${plain(v['bestEpoch'])}${v['stoppedEarly'] === true ? ', stopped early' : ''}${v['resumed'] === true ? ', resumed from a checkpoint' : ''}${typeof v['wallTimeSeconds'] === 'number' ? `, ${Math.round(v['wallTimeSeconds'])} s wall time` : ''}`);
  }
  if (v['seed'] !== undefined) lines.push(`seed ${plain(v['seed'])}`);
  if (Array.isArray(v['lossWeights']) && v['lossWeights'].length) lines.push(`loss weights ${plain(v['lossWeights'])}`);
  const opts = Object.entries(v['options']).filter(([, x]) => x !== undefined && x !== null && x !== '');
  if (opts.length) lines.push(`options: ${opts.map(([k, x]) => `${k} = ${plain(x)}`).join('; ')}`);
  if (isObj(v['packages'])) lines.push(`software: ${Object.entries(v['packages']).map(([k, x]) => `${k} ${plain(x)}`).join(', ')}`);
  if (typeof v['startedAt'] === 'string' && typeof v['finishedAt'] === 'string') lines.push(`trained ${v['startedAt']} to ${v['finishedAt']}`);
  return lines;
}

/**
 * @example writeFileAtomic('model-card.md', modelCardMarkdown(results))
 */
export function modelCardMarkdown(r: EvaluationResults): string {
  const m = modelInfo(r);
  const missing: string[] = [];
  const get = (label: string, ...paths: string[]) => {
    const v = find(m, ...paths);
    if (v === undefined) {
      missing.push(label);
      return '_not recorded_';
    }
    return show(v, 600);
  };
  const name = find(m, 'name', 'model_name', 'id');
  const out: string[] = [];
  out.push(`# Model card${name !== undefined ? `: ${show(name)}` : ''}`, '');
  out.push('## Model details', '');
  out.push(`- Version: ${get('version', 'version', 'model_version')}`);
  // radml's model.json records createdAt (and the training run's finishedAt); other sidecars use other names.
  out.push(`- Created: ${get('creation date', 'createdAt', 'created', 'created_at', 'training.finishedAt', 'date')}`);
  const origin = find(m, 'origin');
  if (origin !== undefined) out.push(`- Origin: ${show(origin)}${find(m, 'training.baseModel') !== undefined ? ` (fine-tuned from ${show(find(m, 'training.baseModel'))})` : ''}`);
  out.push(`- Architecture: ${architectureText(find(m, 'architecture', 'model.architecture', 'backbone')) ?? get('architecture', 'architecture')}`);
  const classes = find(m, 'classes', 'labels');
  out.push(`- Classes / outputs: ${classes !== undefined ? show(classes) : `${r.input.score_columns.join(', ')} (from the predictions; not in model.json)`}`);
  out.push(`- Input and preprocessing: ${get('preprocessing', 'preprocessing', 'input')}`);
  out.push(`- Artefacts (SHA-256): ${get('artefact hashes', 'sha256', 'artefacts', 'artifacts')}`);
  out.push(`- Licence: ${get('licence', 'license', 'licence')}`);
  out.push('');
  out.push('## Intended use', '');
  out.push(`${get('intended use', 'intended_use', 'intendedUse', 'card.intended_use')}`, '');
  out.push('Out-of-scope uses: ' + get('out-of-scope uses', 'out_of_scope', 'card.out_of_scope'), '');
  out.push('## Training data and procedure', '');
  const data = trainingDataText(find(m, 'training.data'));
  out.push(`- Data: ${data ?? get('training data', 'training.dataset', 'training.manifest', 'dataset')}`);
  const split = find(m, 'training.split');
  if (split && typeof split === 'object') {
    const sp = split as Record<string, unknown>;
    out.push(`- Split: ${show(sp['method'])}; ${show(sp['train'])} training and ${show(sp['val'])} validation images${Number(sp['trainPatients']) > 0 ? ` (${show(sp['trainPatients'])} / ${show(sp['valPatients'])} patients)` : ''}`);
  }
  const procedure = trainingProcedureLines(find(m, 'training'));
  if (procedure) out.push('- Procedure:', ...procedure.map((l) => `  - ${l}`));
  else out.push(`- Procedure: ${get('training procedure', 'training.hyperparameters', 'training.optimizer', 'training')}`);
  out.push('');
  out.push('## Evaluation data', '');
  out.push(`- Predictions: ${r.input.predictions}, ${r.input.n_rows} rows; evaluated on ${r.design.evaluation} (n=${r.design.n_evaluation}); thresholds and recalibration from ${r.design.tuning} (n=${r.design.n_tuning}).`);
  if (r.design.same_data) out.push('- **Thresholds were chosen on the evaluation rows (--same-data): operating-point metrics are optimistic.**');
  out.push('');
  out.push('## Metrics (95% intervals)', '');
  out.push('| class | n (pos) | AUROC (DeLong) | AUPRC | sensitivity | specificity | PPV | NPV | threshold (rule) | Brier | ECE |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of Object.values(r.classes)) {
    const op = c.operating_point;
    out.push(`| ${c.name} | ${c.n} (${c.n_positive}) | ${ci(c.auroc)} | ${ci(c.auprc)} | ${ci(op.sensitivity)} | ${ci(op.specificity)} | ${ci(op.ppv)} | ${ci(op.npv)} | ${f3(op.threshold)} (${op.rule}) | ${f3(c.brier)} | ${f3(c.ece)} |`);
  }
  const unfit = Object.values(r.classes).filter((c) => c.fit_for_use && !c.fit_for_use.fit);
  if (unfit.length) {
    out.push('');
    for (const c of unfit) out.push(`- **${c.name}: not fit for use** — ${c.fit_for_use!.reason}. Its threshold is not shipped by \`radml evaluate --save-operating-points\` unless \`--force-unfit\` is given.`);
  }
  out.push('');
  const groupLines: string[] = [];
  for (const c of Object.values(r.classes)) {
    for (const [col, d] of Object.entries(c.disparities)) {
      groupLines.push(`- ${c.name}, by ${col}: sensitivity gap ${f3(d.equal_opportunity_difference)}, equalized-odds difference ${f3(d.equalized_odds_difference)}, AUROC gap ${f3(d.auroc_gap)} over ${d.groups_compared.length} group(s).`);
    }
    for (const fl of c.flags.filter((x) => x.severity !== 'info')) groupLines.push(`  - ${fl.severity}: ${fl.text}`);
  }
  out.push('## Factors: subgroups and sites', '');
  out.push(groupLines.length ? groupLines.join('\n') : '_No subgroup analysis was requested (use --groups)._', '');
  out.push('## Ethical considerations, caveats and recommendations', '');
  const cav: string[] = [];
  for (const msg of r.messages) cav.push(`- ${msg.text}`);
  for (const c of Object.values(r.classes)) for (const msg of c.messages) cav.push(`- ${c.name}: ${msg}`);
  out.push(cav.length ? cav.join('\n') : '- None recorded by the evaluation.', '');
  out.push(`Caveats recorded with the model: ${get('caveats', 'caveats', 'card.caveats', 'limitations')}`, '');
  if (missing.length) {
    out.push('## Missing from the provenance', '', m ? 'These parts of the card could not be filled from model.json and must be completed by the model owners:' : 'No model folder was given (--model), so these parts must be completed by the model owners:', '');
    for (const x of missing) out.push(`- ${x}`);
    out.push('');
  }
  return out.join('\n');
}
