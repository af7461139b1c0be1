/**
 * report/ owns what people read: the self-contained HTML evaluation report (inline SVG plots drawn
 * here), the model card and the CLAIM 2024 / TRIPOD+AI checklists. The HTML report is a list of
 * section renderers so later modules (robustness, saliency) can add sections.
 *
 * @example
 * import { renderReport, defaultSections } from './report/index.js';
 * const html = renderReport(results, { extraSections: [myRobustnessSection] });
 */
export { renderReport, type RenderOptions } from './html.js';
export { writeEvaluation, EVALUATION_FILES } from './write.js';
export { defaultSections, plainSummary, type ReportSection, type ReportContext } from './sections.js';
export { modelCardMarkdown } from './model-card.js';
export { checklistMarkdown, claimChecklist, tripodAiChecklist, type ChecklistItem } from './checklist.js';
export { linePlot, forestPlot, confusionMatrixSvg, esc, fmt, pct } from './svg.js';
