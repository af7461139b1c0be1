/**
 * Free-text radiology reports written from the true labels, in the style of real chest reports
 * (findings + impression): varied phrasing and synonyms, negations ("No pleural effusion.",
 * "without pneumothorax"), hedged positives ("cannot exclude consolidation", "may represent"),
 * normal templates, anonymisation tokens (XXXX), and a small rate of report errors (a finding
 * missed or called when absent) whose truth is returned with the text.
 */
import { Rng } from '../../util/rng.js';
import type { Finding, Labels, LesionParams, Side } from './types.js';
import { FINDINGS } from './types.js';

/** What the report says about each finding: 1 stated, -1 hedged, 0 negated or not mentioned. */
export type ReportedValue = 1 | 0 | -1;

export interface Report {
  findings: string;
  impression: string;
  /** The finding status the text expresses (after report errors and hedging). */
  stated: Record<Finding, ReportedValue>;
  /** Findings where the report contradicts the truth (a miss or a false call). */
  errors: Finding[];
}

export interface ReportOptions {
  /** Probability, per study and finding, that the report gets it wrong. Default 0.02. */
  errorRate?: number;
  /** Share of true positives reported with hedging. Default 0.15. */
  hedgeRate?: number;
}

const ZONES = ['upper lobe', 'midlung zone', 'lower lobe', 'base'];

function zoneOf(fy: number, rng: Rng): string {
  if (fy < 0.4) return 'upper lobe';
  if (fy < 0.65) return rng.bernoulli(0.5) ? 'midlung zone' : 'middle zone';
  return rng.bernoulli(0.5) ? 'lower lobe' : 'base';
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

interface Where {
  side: Side;
  zone: string;
  size: string;
}

type Phrase = (w: Where, rng: Rng) => string;

const POSITIVE: Record<Finding, Phrase[]> = {
  Cardiomegaly: [
    () => 'The heart is enlarged.',
    () => 'Cardiomegaly.',
    () => 'Cardiac enlargement.',
    () => 'The heart is moderately enlarged.',
    (w) => `${cap(w.size === 'small' ? 'mild' : 'moderate')} cardiomegaly.`,
    () => 'Heart size is enlarged. Mediastinal contours are stable.',
  ],
  Effusion: [
    (w) => `${cap(w.size)} ${w.side} pleural effusion.`,
    (w) => `There is a ${w.size} ${w.side} pleural effusion.`,
    (w) => `Blunting of the ${w.side} costophrenic angle consistent with pleural fluid.`,
    (w) => `${cap(w.side)} pleural fluid with meniscus at the ${w.side} base.`,
    (w) => `Layering ${w.side} effusion.`,
  ],
  Consolidation: [
    (w) => `Focal consolidation in the ${w.side} ${w.zone}.`,
    (w) => `Airspace consolidation in the ${w.side} ${w.zone}.`,
    (w) => `Patchy consolidation in the ${w.side} ${w.zone} consistent with pneumonia.`,
    (w) => `There is consolidation of the ${w.side} ${w.zone}.`,
    (w) => `XXXX consolidation in the ${w.side} ${w.zone}.`,
  ],
  Nodule: [
    (w, r) => `A ${6 + r.int(14)} mm nodule in the ${w.side} ${w.zone}.`,
    (w) => `There is a small nodular opacity in the ${w.side} ${w.zone}.`,
    (w) => `${cap(w.side)} ${w.zone} pulmonary nodule.`,
    (w) => `Rounded nodular density in the ${w.side} ${w.zone}, recommend CT for further evaluation.`,
  ],
  Pneumothorax: [
    (w) => `${cap(w.size)} ${w.side} apical pneumothorax.`,
    (w) => `There is a ${w.side} pneumothorax.`,
    (w) => `Visible pleural line at the ${w.side} apex consistent with pneumothorax.`,
    (w) => `${cap(w.side)} apical pneumothorax without mediastinal shift.`,
  ],
};

const HEDGED: Record<Finding, Phrase[]> = {
  Cardiomegaly: [
    () => 'Borderline cardiomegaly.',
    () => 'The heart size is upper limits of normal to mildly enlarged.',
    () => 'Possible mild cardiomegaly, accentuated by technique.',
  ],
  Effusion: [
    (w) => `Blunting of the ${w.side} costophrenic angle may represent a small effusion.`,
    (w) => `Possible small ${w.side} pleural effusion.`,
    (w) => `Cannot exclude a trace ${w.side} pleural effusion.`,
  ],
  Consolidation: [
    (w) => `Patchy opacity in the ${w.side} ${w.zone} may represent atelectasis or consolidation.`,
    (w) => `Cannot exclude early consolidation in the ${w.side} ${w.zone}.`,
    (w) => `Possible airspace disease in the ${w.side} ${w.zone}.`,
  ],
  Nodule: [
    (w) => `Possible small nodule in the ${w.side} ${w.zone}.`,
    (w) => `A nodular density XXXX the ${w.side} ${w.zone} may represent a nipple shadow or nodule.`,
    (w) => `Questionable nodular opacity in the ${w.side} ${w.zone}.`,
  ],
  Pneumothorax: [
    (w) => `Possible tiny ${w.side} apical pneumothorax.`,
    (w) => `Cannot exclude a small ${w.side} apical pneumothorax.`,
  ],
};

const NEGATIVE: Record<Finding, string[]> = {
  Cardiomegaly: ['Heart size normal.', 'The heart is normal in size.', 'Cardiomediastinal silhouette is within normal limits.', 'No cardiomegaly.', 'Normal heart size.', 'The cardiac silhouette and mediastinum size are within normal limits.'],
  Effusion: ['No pleural effusion.', 'No effusion.', 'Costophrenic angles are sharp.', 'There are no XXXX of a pleural effusion.'],
  Consolidation: ['No focal consolidation.', 'No focal airspace disease.', 'There is no focal airspace opacity.', 'No consolidation.'],
  Nodule: ['No suspicious pulmonary nodules.', 'No nodules or masses.', 'No focal nodular opacity.'],
  Pneumothorax: ['No pneumothorax.', 'There is no evidence of pneumothorax.', 'No visible pneumothorax.'],
};

const NORMAL_LUNGS = ['Lungs are clear.', 'The lungs are clear.', 'Both lungs are clear and expanded.', 'Clear lungs.', 'The lungs are well expanded and clear.'];
const NORMAL_IMPRESSION = ['No acute cardiopulmonary abnormality.', 'Normal chest x-XXXX.', 'No active disease.', 'No acute cardiopulmonary process.', 'No acute disease.'];
const EXTRAS = ['No acute bony abnormality.', 'Degenerative changes of the thoracic spine.', 'Visualized osseous structures are intact.', 'Mediastinal contours are unremarkable.', 'Pulmonary vascularity is within normal limits.', 'Calcified granuloma XXXX.'];
const OPENERS = ['Comparison: XXXX.', 'Comparison XXXX XXXX.', 'PA and lateral views of the chest.', 'Frontal view of the chest XXXX.', ''];

const IMPRESSION_POSITIVE: Record<Finding, Phrase[]> = {
  Cardiomegaly: [() => 'Cardiomegaly.', () => 'Enlarged heart.', () => 'Stable cardiomegaly.'],
  Effusion: [(w) => `${cap(w.side)} pleural effusion.`, (w) => `${cap(w.size)} ${w.side} effusion.`, (w) => `${cap(w.side)} pleural fluid.`],
  Consolidation: [(w) => `${cap(w.side)} ${w.zone} consolidation, likely pneumonia.`, (w) => `${cap(w.side)} ${w.zone} airspace consolidation.`, (w) => `Consolidation in the ${w.side} ${w.zone}.`],
  Nodule: [(w) => `${cap(w.side)} pulmonary nodule, CT recommended.`, () => 'Pulmonary nodule.', (w) => `Nodule in the ${w.side} ${w.zone}.`],
  Pneumothorax: [(w) => `${cap(w.side)} pneumothorax.`, (w) => `${cap(w.size)} ${w.side} pneumothorax. Findings XXXX to the referring physician.`],
};
const IMPRESSION_HEDGED: Record<Finding, Phrase[]> = {
  Cardiomegaly: [() => 'Borderline heart size.'],
  Effusion: [(w) => `Possible small ${w.side} effusion.`],
  Consolidation: [(w) => `${cap(w.side)} ${w.zone} opacity may represent pneumonia.`, (w) => `Cannot exclude ${w.side} ${w.zone} consolidation.`],
  Nodule: [(w) => `Possible ${w.side} nodule; consider CT.`],
  Pneumothorax: [(w) => `Possible small ${w.side} pneumothorax.`],
};

function whereOf(f: Finding, lesions: LesionParams, rng: Rng): Where {
  const size = rng.pick(['small', 'small', 'moderate']);
  switch (f) {
    case 'Effusion':
      return { side: lesions.effusion?.side ?? pickSide(rng), zone: 'base', size: lesions.effusion ? (lesions.effusion.height > 0.2 ? 'moderate' : 'small') : size };
    case 'Consolidation':
      return { side: lesions.consolidation?.side ?? pickSide(rng), zone: lesions.consolidation ? zoneOf(lesions.consolidation.fy, rng) : rng.pick(ZONES), size };
    case 'Nodule':
      return { side: lesions.nodule?.side ?? pickSide(rng), zone: lesions.nodule ? zoneOf(lesions.nodule.fy, rng) : rng.pick(ZONES), size };
    case 'Pneumothorax':
      return { side: lesions.pneumothorax?.side ?? pickSide(rng), zone: 'apex', size: lesions.pneumothorax ? (lesions.pneumothorax.gap > 0.05 ? 'moderate' : 'small') : size };
    default:
      return { side: 'left', zone: '', size: rng.bernoulli(0.6) ? 'small' : 'moderate' };
  }
}

function pickSide(rng: Rng): Side {
  return rng.bernoulli(0.5) ? 'right' : 'left';
}

/**
 * A report for one study, from its true labels and lesion places.
 *
 * @example generateReport(labels, lesions, new Rng('report:ST00001')).findings // 'Lungs are clear. Heart size normal. …'
 */
export function generateReport(labels: Labels, lesions: LesionParams, rng: Rng, opts: ReportOptions = {}): Report {
  const errorRate = opts.errorRate ?? 0.02;
  const hedgeRate = opts.hedgeRate ?? 0.15;
  const stated = {} as Record<Finding, ReportedValue>;
  const errors: Finding[] = [];
  for (const f of FINDINGS) {
    let present = labels[f] === 1;
    if (rng.random() < errorRate) {
      present = !present;
      errors.push(f);
    }
    stated[f] = present ? (rng.random() < hedgeRate ? -1 : 1) : 0;
  }
  const where = Object.fromEntries(FINDINGS.map((f) => [f, whereOf(f, lesions, rng)])) as Record<Finding, Where>;
  const sentences: string[] = [];
  const opener = rng.pick(OPENERS);
  if (opener) sentences.push(opener);
  const abnormal = FINDINGS.some((f) => stated[f] !== 0);

  // Heart first, as radiologists usually dictate.
  if (stated.Cardiomegaly === 1) sentences.push(rng.pick(POSITIVE.Cardiomegaly)(where.Cardiomegaly, rng));
  else if (stated.Cardiomegaly === -1) sentences.push(rng.pick(HEDGED.Cardiomegaly)(where.Cardiomegaly, rng));
  else sentences.push(rng.pick(NEGATIVE.Cardiomegaly));

  const lungFindings: Finding[] = ['Consolidation', 'Nodule'];
  const lungPositive = lungFindings.some((f) => stated[f] !== 0);
  if (!lungPositive && rng.bernoulli(0.6)) {
    sentences.push(rng.pick(NORMAL_LUNGS));
  } else {
    for (const f of lungFindings) {
      if (stated[f] === 1) sentences.push(rng.pick(POSITIVE[f])(where[f], rng));
      else if (stated[f] === -1) sentences.push(rng.pick(HEDGED[f])(where[f], rng));
      else if (rng.bernoulli(0.7)) sentences.push(rng.pick(NEGATIVE[f]));
    }
  }
  // Pleura: combined negation is the commonest phrasing.
  if (stated.Effusion === 0 && stated.Pneumothorax === 0) {
    sentences.push(rng.pick(['No pleural effusion or pneumothorax.', 'No pleural effusions or pneumothorax.', 'There is no pleural effusion or pneumothorax.', 'Costophrenic angles are sharp, without pneumothorax.', 'No effusion. No pneumothorax.']));
  } else {
    for (const f of ['Effusion', 'Pneumothorax'] as const) {
      if (stated[f] === 1) sentences.push(rng.pick(POSITIVE[f])(where[f], rng));
      else if (stated[f] === -1) sentences.push(rng.pick(HEDGED[f])(where[f], rng));
      else sentences.push(f === 'Pneumothorax' && rng.bernoulli(0.4) ? 'No pneumothorax is seen.' : rng.pick(NEGATIVE[f]));
    }
  }
  if (rng.bernoulli(0.45)) sentences.push(rng.pick(EXTRAS));

  let impression: string;
  if (!abnormal) impression = rng.pick(NORMAL_IMPRESSION);
  else {
    const parts: string[] = [];
    for (const f of FINDINGS) {
      if (stated[f] === 1) parts.push(rng.pick(IMPRESSION_POSITIVE[f])(where[f], rng));
      else if (stated[f] === -1) parts.push(rng.pick(IMPRESSION_HEDGED[f])(where[f], rng));
    }
    impression = parts.length > 1 && rng.bernoulli(0.5) ? parts.map((p, i) => `${i + 1}. ${p}`).join(' ') : parts.join(' ');
  }
  return { findings: sentences.join(' '), impression, stated, errors };
}
