/**
 * Who is in the synthetic cohort and what they have: patients (sex, age, site, a latent frailty that
 * ties their studies together), one to three studies each, the true labels from a logistic model in
 * age, sex, site and co-existing findings, follow-up persistence of findings, view (AP more likely in
 * older and acutely ill patients), anatomy and where each finding sits. Pure: a seed gives the same
 * cohort every time, and nothing here depends on the image size.
 */
import { Rng, hashString } from '../../util/rng.js';
import type { Anatomy, Finding, Labels, LesionParams, Sex, Side, SiteProfile, StudySpec, View } from './types.js';
import { FINDINGS } from './types.js';

/** Intercepts and slopes of the label model (logit scale); recorded in cohort.json. */
export const LABEL_MODEL = {
  Cardiomegaly: { intercept: -2.6, perYear: 0.045, male: 0.15, frailty: 0.6, given: {} as Partial<Record<Finding, number>> },
  Effusion: { intercept: -3.35, perYear: 0.03, male: 0, frailty: 0.6, given: { Cardiomegaly: 1.1 } as Partial<Record<Finding, number>> },
  Consolidation: { intercept: -2.95, perYear: 0.015, male: 0.1, frailty: 0.5, given: { Effusion: 0.7 } as Partial<Record<Finding, number>> },
  Nodule: { intercept: -3.25, perYear: 0.03, male: 0.3, frailty: 0, given: {} as Partial<Record<Finding, number>> },
  Pneumothorax: { intercept: -3.75, perYear: -0.035, male: 0.8, frailty: 0.2, given: {} as Partial<Record<Finding, number>> },
} satisfies Record<Finding, { intercept: number; perYear: number; male: number; frailty: number; given: Partial<Record<Finding, number>> }>;

/** Probability a finding present at one visit is still present at the next. */
export const PERSISTENCE: Record<Finding, number> = { Cardiomegaly: 0.92, Effusion: 0.5, Consolidation: 0.35, Nodule: 0.9, Pneumothorax: 0.2 };

/** Reference age of the label model. */
const AGE_REF = 55;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function sampleLabels(rng: Rng, age: number, sex: Sex, frailty: number, site: SiteProfile, previous: Labels | undefined): Labels {
  const labels = {} as Labels;
  for (const f of FINDINGS) {
    const m = LABEL_MODEL[f];
    if (previous && previous[f] === 1 && rng.bernoulli(PERSISTENCE[f])) {
      labels[f] = 1;
      continue;
    }
    let logit = m.intercept + m.perYear * (age - AGE_REF) + (sex === 'M' ? m.male : 0) + m.frailty * frailty + site.logitShift[f];
    for (const [g, w] of Object.entries(m.given)) if (labels[g as Finding] === 1) logit += w;
    labels[f] = rng.bernoulli(sigmoid(logit)) ? 1 : 0;
  }
  return labels;
}

function sampleAnatomy(rng: Rng, sex: Sex, age: number, cardiomegaly: boolean): Anatomy {
  const male = sex === 'M';
  // CTR: slightly larger in women and with age; cardiomegaly means a true CTR above 0.5.
  const normalCtr = clamp(rng.normal(0.435 + (male ? 0 : 0.012) + 0.0007 * (age - AGE_REF), 0.025), 0.36, 0.49);
  const ctr = cardiomegaly ? rng.uniform(0.53, 0.66) : normalCtr;
  const lungTop = rng.uniform(0.11, 0.15);
  const domeRight = rng.uniform(0.64, 0.71) + (male ? 0.01 : 0) - 0.0004 * (age - AGE_REF);
  return {
    cx: 0.5 + rng.normal(0, 0.01),
    thoraxHalfWidth: clamp(rng.normal(male ? 0.385 : 0.365, 0.015), 0.33, 0.42),
    bodyHalfWidth: clamp(rng.normal(male ? 0.47 : 0.455, 0.015), 0.43, 0.5),
    lungTop,
    domeRight,
    domeLeft: domeRight + rng.uniform(0.015, 0.04),
    domeHeight: rng.uniform(0.045, 0.075),
    mediastinumHalfWidth: rng.uniform(0.06, 0.075) + 0.0003 * (age - AGE_REF),
    ctr,
    heartHeightRatio: rng.uniform(0.68, 0.8),
    ribSpacing: rng.uniform(0.95, 1.05),
    ribThickness: rng.uniform(0.9, 1.1) * (male ? 1.05 : 0.95),
    softTissue: rng.uniform(0.85, 1.15),
    breast: male ? 0 : rng.uniform(0.4, 1),
    textureSeed: rng.nextUint32(),
  };
}

/** Small per-visit differences: inspiration depth and positioning. */
function visitAnatomy(rng: Rng, a: Anatomy, view: View, cardiomegaly: boolean, sex: Sex, age: number): Anatomy {
  const inspiration = rng.normal(0, 0.012) + (view === 'AP' ? -0.03 : 0); // supine/portable: poorer inspiration
  let ctr = a.ctr;
  if (cardiomegaly && ctr <= 0.5) ctr = rng.uniform(0.53, 0.64);
  if (!cardiomegaly && ctr > 0.5) ctr = sampleAnatomy(rng, sex, age, false).ctr;
  return { ...a, cx: a.cx + rng.normal(0, 0.006), domeRight: a.domeRight + inspiration, domeLeft: a.domeLeft + inspiration, ctr };
}

function side(rng: Rng): Side {
  return rng.bernoulli(0.55) ? 'right' : 'left';
}

function sampleLesions(rng: Rng, labels: Labels, keptNodule: LesionParams['nodule'] | undefined): LesionParams {
  const out: LesionParams = {};
  if (labels.Consolidation) {
    const zone = rng.pick([0.3, 0.55, 0.78, 0.78]); // lower zones more often
    const blobs = Array.from({ length: 4 + rng.int(5) }, () => ({ dx: rng.normal(0, 0.45), dy: rng.normal(0, 0.45), r: rng.uniform(0.35, 0.7), w: rng.uniform(0.6, 1) }));
    out.consolidation = { side: side(rng), fy: zone + rng.normal(0, 0.04), fx: rng.uniform(0.35, 0.7), radius: rng.uniform(0.045, 0.085), blobs, density: rng.uniform(0.22, 0.34) };
  }
  if (labels.Nodule) {
    out.nodule = keptNodule ?? { side: side(rng), fy: rng.uniform(0.15, 0.75), fx: rng.uniform(0.45, 0.85), radius: rng.uniform(0.011, 0.024), density: rng.uniform(0.2, 0.3) };
  }
  if (labels.Effusion) {
    out.effusion = { side: rng.bernoulli(0.6) ? 'right' : 'left', height: rng.uniform(0.1, 0.3), meniscus: rng.uniform(0.03, 0.07), density: rng.uniform(0.35, 0.5) };
  }
  if (labels.Pneumothorax) {
    out.pneumothorax = { side: side(rng), gap: rng.uniform(0.03, 0.07), extent: rng.uniform(0.35, 0.65) };
  }
  return out;
}

function formatDate(d: Date): string {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export interface PopulationOptions {
  n: number;
  seed: number;
  sites: SiteProfile[];
}

/**
 * The studies of a cohort, in study order (patients' visits adjacent, ids numbered 1..n).
 *
 * @example sampleCohort({ n: 40, seed: 1, sites: siteProfiles(4, 1) }).length // 40
 */
export function sampleCohort(opts: PopulationOptions): StudySpec[] {
  const { n, seed, sites } = opts;
  const rng = new Rng(`synth-population:${seed}`);
  const width = Math.max(5, String(n).length);
  const totalWeight = sites.reduce((s, x) => s + x.weight, 0);
  // Fixed, seed-derived calendar: first day between 2018-01-01 and 2019-12-31.
  const epoch = Date.UTC(2018, 0, 1) + (hashString(`synth-epoch:${seed}`) % 730) * 86400000;
  const studies: StudySpec[] = [];
  let patientNumber = 0;
  while (studies.length < n) {
    patientNumber++;
    const prng = rng.fork(`patient-${patientNumber}`);
    let u = prng.random() * totalWeight;
    let siteIndex = 0;
    while (siteIndex < sites.length - 1 && u >= sites[siteIndex]!.weight) u -= sites[siteIndex++]!.weight;
    const site = sites[siteIndex]!;
    const sex: Sex = prng.bernoulli(0.52) ? 'M' : 'F';
    const age0 = Math.round(clamp(prng.normal(site.ageMean, site.ageSd), 18, 95));
    const frailty = prng.normal(0, 1) + (site.distinctPrevalence ? 0.3 : 0);
    const visits = Math.min(n - studies.length, prng.bernoulli(0.6) ? 1 : prng.bernoulli(0.6) ? 2 : 3);
    const patientId = `PT${String(patientNumber).padStart(width, '0')}`;
    const firstDay = prng.int(730);
    let day = firstDay;
    let previous: Labels | undefined;
    let baseAnatomy: Anatomy | undefined;
    let nodule: LesionParams['nodule'];
    for (let v = 1; v <= visits; v++) {
      if (v > 1) day += 7 + prng.int(400);
      const age = Math.min(99, age0 + Math.floor((day - firstDay) / 365.25));
      const labels = sampleLabels(prng, age, sex, frailty, site, previous);
      const acute = labels.Effusion || labels.Consolidation || labels.Pneumothorax;
      const apLogit = Math.log(site.apFraction / (1 - site.apFraction)) + (acute ? 0.9 : 0) + 0.02 * (age - AGE_REF);
      const view: View = prng.bernoulli(sigmoid(apLogit)) ? 'AP' : 'PA';
      baseAnatomy ??= sampleAnatomy(prng, sex, age, labels.Cardiomegaly === 1);
      const anatomy = visitAnatomy(prng, baseAnatomy, view, labels.Cardiomegaly === 1, sex, age);
      const lesions = sampleLesions(prng, labels, nodule);
      if (lesions.nodule) nodule = lesions.nodule;
      const date = new Date(epoch + day * 86400000);
      const secs = 7 * 3600 + prng.int(12 * 3600);
      const time = `${String(Math.floor(secs / 3600)).padStart(2, '0')}${String(Math.floor(secs / 60) % 60).padStart(2, '0')}${String(secs % 60).padStart(2, '0')}`;
      const index = studies.length;
      studies.push({
        index,
        studyId: `ST${String(index + 1).padStart(width, '0')}`,
        patientId,
        patientNumber,
        visit: v,
        site: site.name,
        siteIndex,
        sex,
        age,
        view,
        date: formatDate(date),
        time,
        labels,
        anatomy,
        lesions,
        noiseSeed: prng.nextUint32(),
      });
      previous = labels;
    }
  }
  return studies;
}
