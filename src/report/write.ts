/** Writing the evaluation outputs to a folder (shared by `radml evaluate` and the demo). */
import { join } from 'node:path';
import type { EvaluationOutput } from '../evaluate/evaluate.js';
import { evaluationResultsSchema } from '../evaluate/schema.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { checklistMarkdown } from './checklist.js';
import { type RenderOptions, renderReport } from './html.js';
import { modelCardMarkdown } from './model-card.js';

/** The files written, by name. */
export const EVALUATION_FILES = ['results.json', 'calibration.json', 'report.html', 'model-card.md', 'checklist.md'] as const;

/**
 * Validate and write results.json, calibration.json, report.html, model-card.md and checklist.md.
 * @example writeEvaluation('eval/', evaluatePredictions(readCsv('preds.csv'), { groups: ['sex'] }), { title: 'Model v3' })
 */
export function writeEvaluation(dir: string, output: EvaluationOutput, render: RenderOptions = {}): string[] {
  const results = evaluationResultsSchema.parse(output.results);
  writeJsonAtomic(join(dir, 'results.json'), results);
  writeJsonAtomic(join(dir, 'calibration.json'), output.calibration);
  writeFileAtomic(join(dir, 'report.html'), renderReport(results, render));
  writeFileAtomic(join(dir, 'model-card.md'), modelCardMarkdown(results));
  writeFileAtomic(join(dir, 'checklist.md'), checklistMarkdown(results));
  return EVALUATION_FILES.map((f) => join(dir, f));
}
