/**
 * CLAIM 2024 and TRIPOD+AI checklists filled from what radml knows: the evaluation results, the
 * predictions table's columns and the model's model.json. Items nothing here can answer are listed
 * as missing so the authors know what to add. Item wording is paraphrased; the official checklists
 * (Tejani et al., Radiology: AI 2024; Collins et al., BMJ 2024) are the reference.
 */
import type { EvaluationResults } from '../evaluate/schema.js';
import { type Json, find, modelInfo, show } from './provenance.js';

export type ItemStatus = 'filled' | 'partial' | 'missing';

export interface ChecklistItem {
  id: string;
  section: string;
  item: string;
  status: ItemStatus;
  evidence: string;
}

interface Known {
  r: EvaluationResults;
  model: Json | undefined;
}

type Source = (k: Known) => { status: ItemStatus; evidence: string } | null;

const fromModel = (label: string, ...paths: string[]): Source => (k) => {
  const v = find(k.model, ...paths);
  return v === undefined ? null : { status: 'filled', evidence: `${label}: ${show(v)} (model.json)` };
};

const metrics: Source = ({ r }) => {
  const cs = Object.values(r.classes);
  return {
    status: 'filled',
    evidence: cs
      .map((c) => `${c.name}: AUROC ${c.auroc.estimate?.toFixed(3) ?? 'undefined'}, AUPRC ${c.auprc.estimate?.toFixed(3) ?? '—'}, sensitivity/specificity/PPV/NPV at ${c.operating_point.rule_description}, Brier ${c.brier?.toFixed(4) ?? '—'}, ECE ${c.ece?.toFixed(4) ?? '—'}`)
      .join('; '),
  };
};

const uncertainty: Source = ({ r }) => ({
  status: 'filled',
  evidence: `95% intervals: DeLong and stratified bootstrap (${r.design.bootstrap_resamples} resamples, seed ${r.design.seed}) for AUROC; bootstrap for AUPRC; Wilson for proportions${r.comparison ? '; paired DeLong and McNemar tests between models' : ''} (results.json)`,
});

const partitions: Source = ({ r }) => ({
  status: 'partial',
  evidence: `tuning rows: ${r.design.tuning} (n=${r.design.n_tuning}); evaluation rows: ${r.design.evaluation} (n=${r.design.n_evaluation})${r.design.same_data ? '; thresholds chosen on the evaluation rows (--same-data)' : ''}. How rows were assigned to splits is not recorded here.`,
});

const subgroups: Source = ({ r }) => {
  if (!r.design.groups.length) return null;
  const first = Object.values(r.classes)[0];
  const counts = first
    ? Object.entries(first.groups)
        .filter(([col]) => !col.includes(' × '))
        .map(([col, g]) => `${col}: ${Object.entries(g).map(([v, x]) => `${v} ${x.n}`).join(', ')}`)
        .join('; ')
    : '';
  return { status: 'filled', evidence: `metrics per ${r.design.groups.join(', ')} with 95% intervals and disparity measures (min n ${r.design.min_group_n}); evaluation cases by group — ${counts}` };
};

const flow: Source = ({ r }) => {
  const ex = Object.values(r.classes).map((c) => `${c.name}: ${c.n} analysed, ${c.n_excluded} excluded${c.n_excluded ? ` (${Object.entries(c.excluded_reasons).map(([k, v]) => `${v} ${k}`).join(', ')})` : ''}`);
  return { status: 'partial', evidence: `${r.input.n_rows} rows in the predictions; ${r.design.n_tuning} tuning (${r.design.tuning}), ${r.design.n_evaluation} evaluation (${r.design.evaluation}); ${ex.join('; ')}. Inclusion before the predictions table is not recorded.` };
};

const external: Source = ({ r }) => {
  const s = Object.values(r.classes).find((c) => c.sites);
  return s?.sites ? { status: 'filled', evidence: `per-site results, leave-one-site-out and threshold transport over sites ${s.sites.transport.sites.join(', ')}` } : null;
};

const missingData: Source = ({ r }) => {
  const ex = Object.values(r.classes).filter((c) => c.n_excluded > 0);
  return {
    status: 'partial',
    evidence: ex.length
      ? `evaluation excludes rows without a 0/1 label or numeric score: ${ex.map((c) => `${c.name} ${c.n_excluded} (${Object.entries(c.excluded_reasons).map(([k, v]) => `${v} ${k}`).join(', ')})`).join('; ')}`
      : 'no evaluation row lacked a label or score; handling of missing data during training is not recorded',
  };
};

const calibration: Source = ({ r }) => ({ status: 'filled', evidence: `Brier, ECE/MCE, calibration slope and intercept, reliability diagram; recalibration fitted on ${r.design.tuning} (calibration.json)` });

const classImbalance: Source = ({ r, model }) => {
  const v = find(model, 'training.class_weights', 'training.sampling', 'training.loss', 'class_weights', 'loss');
  const prev = Object.values(r.classes).map((c) => `${c.name} ${c.prevalence === null ? '—' : (100 * c.prevalence).toFixed(1) + '%'}`).join(', ');
  return { status: v === undefined ? 'partial' : 'filled', evidence: `evaluation prevalence: ${prev}${v !== undefined ? `; training: ${show(v)} (model.json)` : '; training-time handling not recorded'}` };
};

const operatingPoint: Source = ({ r }) => ({ status: 'filled', evidence: `threshold by ${r.design.primary_rule}, chosen on ${r.design.tuning}${r.design.costs ? `; costs FN ${r.design.costs.fn}, FP ${r.design.costs.fp}` : ''}` });

function any(...sources: Source[]): Source {
  return (k) => {
    for (const s of sources) {
      const v = s(k);
      if (v) return v;
    }
    return null;
  };
}

const CLAIM: [string, string, string, Source?][] = [
  ['1', 'Title / abstract', 'Identify the study as AI methodology, naming the category of technology (e.g. deep learning)', fromModel('architecture', 'architecture', 'model.architecture', 'backbone')],
  ['2', 'Title / abstract', 'Structured summary of design, methods, results and conclusions'],
  ['3', 'Introduction', 'Scientific and clinical background, intended use and clinical role of the AI', fromModel('intended use', 'intended_use', 'intendedUse', 'card.intended_use')],
  ['4', 'Introduction', 'Study objectives and hypotheses'],
  ['5', 'Methods — design', 'Prospective or retrospective study'],
  ['6', 'Methods — design', 'Study goal (model creation, exploratory, feasibility, non-inferiority)'],
  ['7', 'Methods — data', 'Data sources', fromModel('training data', 'training.dataset', 'training.manifest', 'dataset', 'data.source')],
  ['8', 'Methods — data', 'Eligibility criteria: how, where and when participants or studies were identified'],
  ['9', 'Methods — data', 'Data pre-processing steps', fromModel('preprocessing', 'preprocessing', 'preprocess')],
  ['10', 'Methods — data', 'Selection of data subsets, if applicable', partitions],
  ['11', 'Methods — data', 'Definitions of data elements, with reference to common data elements', fromModel('classes', 'classes', 'labels')],
  ['12', 'Methods — data', 'De-identification methods'],
  ['13', 'Methods — data', 'How missing data were handled', missingData],
  ['14', 'Methods — reference standard', 'Definition of the reference standard, in enough detail to replicate'],
  ['15', 'Methods — reference standard', 'Rationale for choosing the reference standard'],
  ['16', 'Methods — reference standard', 'Source of annotations; qualifications and preparation of annotators', fromModel('labels', 'training.labels', 'labels_source')],
  ['17', 'Methods — reference standard', 'Annotation tools'],
  ['18', 'Methods — reference standard', 'Inter- and intra-rater variability and how discrepancies were resolved', fromModel('reader agreement', 'labels.agreement', 'training.label_agreement')],
  ['19', 'Methods — partitions', 'Intended sample size and how it was determined'],
  ['20', 'Methods — partitions', 'How data were assigned to partitions, with proportions', any(fromModel('split', 'training.split', 'split'), partitions)],
  ['21', 'Methods — partitions', 'Level at which partitions are disjoint (image, study, patient, institution)', fromModel('split level', 'training.split_level', 'split.level', 'training.split.by')],
  ['22', 'Methods — model', 'Detailed description of the model: inputs, outputs, layers', fromModel('architecture', 'architecture', 'model.architecture', 'layers', 'input')],
  ['23', 'Methods — model', 'Software libraries, frameworks and packages', fromModel('software', 'software', 'framework', 'radml_version', 'training.software')],
  ['24', 'Methods — model', 'Initialisation of model parameters (random, transfer learning)', fromModel('initialisation', 'training.init', 'training.initialization', 'training.pretrained', 'pretrained', 'backbone')],
  ['25', 'Methods — training', 'Training details: augmentation, hyperparameters, number of models trained', fromModel('training', 'training.hyperparameters', 'training.optimizer', 'training.augmentation', 'training.epochs', 'training')],
  ['26', 'Methods — training', 'Method of selecting the final model', fromModel('selection', 'training.selection', 'training.early_stopping', 'training.checkpoint')],
  ['27', 'Methods — training', 'Ensembling techniques, if applicable', fromModel('ensemble', 'ensemble', 'training.ensemble')],
  ['28', 'Methods — evaluation', 'Metrics of model performance', metrics],
  ['29', 'Methods — evaluation', 'Statistical measures of significance and uncertainty', uncertainty],
  ['30', 'Methods — evaluation', 'Robustness or sensitivity analysis', fromModel('robustness', 'robustness')],
  ['31', 'Methods — evaluation', 'Methods for explainability or interpretability and how they were validated', fromModel('explainability', 'explain', 'saliency')],
  ['32', 'Methods — evaluation', 'Validation or testing on external data', external],
  ['33', 'Results — data', 'Flow of participants or cases, with inclusion and exclusion', flow],
  ['34', 'Results — data', 'Demographic and clinical characteristics of cases in each partition', subgroups],
  ['35', 'Results — performance', 'Performance metrics for the final model on all data partitions', metrics],
  ['36', 'Results — performance', 'Estimates of diagnostic accuracy and their precision (95% CI)', operatingPoint],
  ['37', 'Results — performance', 'Failure analysis of incorrectly classified cases'],
  ['38', 'Discussion', 'Limitations: potential bias, statistical uncertainty, generalisability'],
  ['39', 'Discussion', 'Implications for practice, intended use and clinical role', fromModel('intended use', 'intended_use', 'intendedUse')],
  ['40', 'Other', 'Registration number and registry'],
  ['41', 'Other', 'Where the full study protocol can be accessed'],
  ['42', 'Other', 'Sources of funding and role of funders'],
  ['43', 'Other', 'Availability of data, code and model', fromModel('artefacts', 'artefacts', 'artifacts', 'sha256')],
  ['44', 'Other', 'Conflicts of interest'],
];

const TRIPOD_AI: [string, string, string, Source?][] = [
  ['1', 'Title', 'Identify the study as developing or evaluating a prediction model, the target population and outcome'],
  ['2', 'Abstract', 'Structured abstract (TRIPOD+AI for Abstracts)'],
  ['3', 'Introduction', 'Healthcare context, rationale, intended use and users, existing models', fromModel('intended use', 'intended_use', 'intendedUse')],
  ['4', 'Objectives', 'Objectives, including development and/or validation'],
  ['5', 'Data', 'Sources of data, and dates of collection', fromModel('training data', 'training.dataset', 'training.manifest', 'dataset')],
  ['6', 'Participants', 'Setting, eligibility criteria, treatments received', subgroups],
  ['7', 'Data preparation', 'Pre-processing and quality checking of data', fromModel('preprocessing', 'preprocessing')],
  ['8', 'Outcome', 'Definition of the outcome, how and when assessed, blinding', fromModel('classes', 'classes')],
  ['9', 'Predictors', 'Inputs (images, clinical variables) and how they were measured', fromModel('input', 'input', 'preprocessing')],
  ['10', 'Sample size', 'How the sample size was arrived at'],
  ['11', 'Missing data', 'How missing data were handled', missingData],
  ['12a', 'Analysis', 'How data were used for development and evaluation (splits, tuning)', partitions],
  ['12b', 'Analysis', 'Model type, building steps and hyperparameter tuning', fromModel('training', 'training', 'architecture')],
  ['12c', 'Analysis', 'Handling of heterogeneity across clusters (sites) and external validation', external],
  ['12d', 'Analysis', 'Performance measures and their uncertainty, including calibration', any(uncertainty)],
  ['12e', 'Analysis', 'Model updating / recalibration arising from the evaluation', calibration],
  ['12f', 'Analysis', 'Operating point / decision threshold and its rationale', operatingPoint],
  ['13', 'Class imbalance', 'Methods for handling class imbalance and recalibration', classImbalance],
  ['14', 'Fairness', 'Approaches to assess fairness across groups', subgroups],
  ['15', 'Model output', 'Output of the model (probabilities, classes) and any thresholds', operatingPoint],
  ['16', 'Training vs evaluation', 'Differences between development and evaluation data', partitions],
  ['17', 'Ethics', 'Ethical approval and consent'],
  ['18', 'Open science', 'Funding, conflicts of interest, protocol, registration'],
  ['19', 'Open science', 'Data and code availability', fromModel('artefacts', 'artefacts', 'artifacts', 'sha256')],
  ['20', 'Patient and public involvement', 'Details of patient and public involvement'],
  ['21', 'Results — participants', 'Flow of participants, characteristics by data source, subgroup sizes', any(subgroups, flow)],
  ['22', 'Results — model', 'Full model specification or how to access it', fromModel('artefacts', 'artefacts', 'artifacts', 'sha256', 'architecture')],
  ['23a', 'Results — performance', 'Performance estimates with confidence intervals', metrics],
  ['23b', 'Results — performance', 'Performance in key subgroups (e.g. sociodemographic, sites)', subgroups],
  ['24', 'Results — updating', 'Results of any model updating, including recalibration', calibration],
  ['25', 'Discussion', 'Interpretation, including fairness and generalisability'],
  ['26', 'Discussion', 'Limitations: non-representative data, sample size, overfitting, missing data'],
  ['27', 'Discussion', 'Usability in the intended context: inputs needed, human–AI interaction, next steps'],
];

function fill(list: [string, string, string, Source?][], k: Known): ChecklistItem[] {
  return list.map(([id, section, item, source]) => {
    const v = source ? source(k) : null;
    return { id, section, item, status: v?.status ?? 'missing', evidence: v?.evidence ?? '' };
  });
}

export function claimChecklist(r: EvaluationResults): ChecklistItem[] {
  return fill(CLAIM, { r, model: modelInfo(r) });
}

export function tripodAiChecklist(r: EvaluationResults): ChecklistItem[] {
  return fill(TRIPOD_AI, { r, model: modelInfo(r) });
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(title: string, items: ChecklistItem[]): string {
  const mark = { filled: '✅ filled', partial: '🟡 partial', missing: '❌ missing' } as const;
  const lines = [`## ${title}`, '', '| # | section | item | status | evidence (source) |', '|---|---|---|---|---|'];
  for (const i of items) lines.push(`| ${i.id} | ${mdCell(i.section)} | ${mdCell(i.item)} | ${mark[i.status]} | ${mdCell(i.evidence)} |`);
  const missing = items.filter((i) => i.status === 'missing');
  const partial = items.filter((i) => i.status === 'partial');
  lines.push('', `**Filled ${items.length - missing.length - partial.length}, partial ${partial.length}, missing ${missing.length} of ${items.length}.**`, '');
  if (missing.length) {
    lines.push('Missing — to be written by the authors:', '');
    for (const i of missing) lines.push(`- ${i.id}. ${i.item}`);
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Markdown with both checklists.
 * @example writeFileAtomic('checklist.md', checklistMarkdown(results))
 */
export function checklistMarkdown(r: EvaluationResults): string {
  return [
    '# Reporting checklists',
    '',
    `Filled automatically by radml from results.json${modelInfo(r) ? ', model.json' : ''} and the predictions table (${r.input.predictions}). Item wording is paraphrased — check against the official CLAIM 2024 and TRIPOD+AI checklists. "Filled" means radml found evidence; the authors still own the text.`,
    '',
    table('CLAIM 2024 (Checklist for Artificial Intelligence in Medical Imaging)', claimChecklist(r)),
    table('TRIPOD+AI', tripodAiChecklist(r)),
  ].join('\n');
}
