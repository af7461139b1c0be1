/** Model card (after Mitchell et al. 2019) in Markdown, from model.json provenance and evaluation results. */
import type { EvaluationResults } from '../evaluate/schema.js';
import { find, modelInfo, show } from './provenance.js';

const f3 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '—');
const ci = (e: { estimate: number | null; ci95: [number, number] | null }) => (e.estimate === null ? '—' : `${f3(e.estimate)}${e.ci95 ? ` (${f3(e.ci95[0])}–${f3(e.ci95[1])})` : ''}`);

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
  out.push(`- Created: ${get('creation date', 'created', 'created_at', 'date')}`);
  out.push(`- Architecture: ${get('architecture', 'architecture', 'model.architecture', 'backbone')}`);
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
  out.push(`- Data: ${get('training data', 'training.dataset', 'training.manifest', 'dataset')}`);
  out.push(`- Procedure: ${get('training procedure', 'training.hyperparameters', 'training.optimizer', 'training')}`);
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
