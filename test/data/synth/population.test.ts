import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINDINGS, READERS, distinctSiteIndex, generateCohort, generateReport, renderStudy, sampleCohort, simulateReads, siteProfiles } from '../../../src/data/synth/index.js';
import type { StudySpec } from '../../../src/data/synth/index.js';
import { Rng } from '../../../src/util/rng.js';

const sites4 = siteProfiles(4, 1);
const big = sampleCohort({ n: 3000, seed: 11, sites: sites4 });

function prevalence(studies: readonly StudySpec[], f: (typeof FINDINGS)[number]): number {
  return studies.filter((s) => s.labels[f] === 1).length / studies.length;
}

/** Two-proportion z statistic. */
function z(p1: number, n1: number, p2: number, n2: number): number {
  const p = (p1 * n1 + p2 * n2) / (n1 + n2);
  return (p1 - p2) / Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
}

test('prevalence is imbalanced and plausible: 3–20 % per finding, most studies normal', () => {
  for (const f of FINDINGS) {
    const p = prevalence(big, f);
    assert.ok(p > 0.03 && p < 0.2, `${f} prevalence ${p}`);
  }
  const normal = big.filter((s) => FINDINGS.every((f) => s.labels[f] === 0)).length / big.length;
  assert.ok(normal > 0.5, `normal share ${normal}`);
  // Age and sex shift prevalence the way they do clinically.
  const old = big.filter((s) => s.age >= 65), young = big.filter((s) => s.age < 45);
  assert.ok(prevalence(old, 'Cardiomegaly') > 2 * prevalence(young, 'Cardiomegaly'));
  const men = big.filter((s) => s.sex === 'M'), women = big.filter((s) => s.sex === 'F');
  assert.ok(prevalence(men, 'Pneumothorax') > prevalence(women, 'Pneumothorax'));
});

test('the distinct site has clearly different prevalence from the others', () => {
  const odd = sites4[distinctSiteIndex(4)]!.name;
  assert.equal(odd, 'site_D');
  const inOdd = big.filter((s) => s.site === odd);
  const rest = big.filter((s) => s.site !== odd);
  assert.ok(inOdd.length > 200 && rest.length > 1000);
  for (const f of ['Effusion', 'Consolidation', 'Cardiomegaly'] as const) {
    const p1 = prevalence(inOdd, f), p2 = prevalence(rest, f);
    assert.ok(p1 > 1.8 * p2, `${f}: ${odd} ${p1.toFixed(3)} vs others ${p2.toFixed(3)}`);
    assert.ok(z(p1, inOdd.length, p2, rest.length) > 4);
  }
  // More portable AP films at the distinct site as well.
  const ap = (xs: StudySpec[]) => xs.filter((s) => s.view === 'AP').length / xs.length;
  assert.ok(ap(inOdd) > 2 * ap(rest));
  // With two sites the second one is the distinct one.
  const two = siteProfiles(2, 1);
  assert.deepEqual(two.map((s) => s.distinctPrevalence), [false, true]);
  assert.equal(siteProfiles(1, 1)[0]!.distinctPrevalence, false);
});

test('patients have 1–3 studies with the same sex, increasing dates and correlated findings', () => {
  const byPatient = new Map<string, StudySpec[]>();
  for (const s of big) byPatient.set(s.patientId, [...(byPatient.get(s.patientId) ?? []), s]);
  const sizes = [...byPatient.values()].map((v) => v.length);
  assert.ok(sizes.every((k) => k >= 1 && k <= 3));
  assert.ok(sizes.filter((k) => k > 1).length > 0.2 * sizes.length);
  let persisted = 0, followUps = 0;
  for (const visits of byPatient.values()) {
    for (let i = 1; i < visits.length; i++) {
      const [p, c] = [visits[i - 1]!, visits[i]!];
      assert.equal(c.sex, p.sex);
      assert.equal(c.site, p.site);
      assert.ok(c.date > p.date, `${c.date} after ${p.date}`);
      assert.ok(c.age >= p.age);
      if (p.labels.Cardiomegaly === 1) {
        followUps++;
        if (c.labels.Cardiomegaly === 1) persisted++;
      }
    }
  }
  // Cardiomegaly at one visit is mostly still there at the next (base rate is ~12 %).
  assert.ok(followUps > 20 && persisted / followUps > 0.75, `${persisted}/${followUps}`);
  // A smaller cohort with the same seed is the start of a larger one (patients draw from their own streams).
  assert.deepEqual(sampleCohort({ n: 50, seed: 11, sites: sites4 }).slice(0, 48), big.slice(0, 48));
});

test('reader labels reproduce each reader\'s configured sensitivity and specificity', () => {
  const studies = sampleCohort({ n: 600, seed: 5, sites: sites4 });
  const reads = simulateReads(studies, READERS, 5);
  assert.equal(reads.length, studies.length * READERS.length);
  const truth = new Map(studies.map((s) => [s.studyId, s.labels]));
  const youden: Record<string, number> = {};
  for (const r of READERS) {
    const mine = reads.filter((x) => x.reader === r.reader);
    let sumYouden = 0;
    for (const f of FINDINGS) {
      let tp = 0, p = 0, tn = 0, q = 0;
      for (const x of mine) {
        if (truth.get(x.id)![f] === 1) { p++; tp += x.labels[f]; }
        else { q++; tn += 1 - x.labels[f]; }
      }
      const sens = tp / p, spec = tn / q;
      // Within 4 binomial standard errors of the configured truth.
      const seSens = Math.sqrt((r.sensitivity[f] * (1 - r.sensitivity[f])) / p);
      const seSpec = Math.sqrt((r.specificity[f] * (1 - r.specificity[f])) / q);
      assert.ok(Math.abs(sens - r.sensitivity[f]) < 4 * seSens + 1e-9, `${r.reader} ${f} sensitivity ${sens.toFixed(3)} vs ${r.sensitivity[f]} (n=${p})`);
      assert.ok(Math.abs(spec - r.specificity[f]) < 4 * seSpec + 1e-9, `${r.reader} ${f} specificity ${spec.toFixed(3)} vs ${r.specificity[f]}`);
      sumYouden += sens + spec - 1;
    }
    youden[r.reader] = sumYouden;
  }
  const weakest = Object.entries(youden).sort((x, y) => x[1] - y[1])[0]![0];
  assert.equal(weakest, 'R4');
  // A study's reads do not depend on which other studies are in the cohort.
  assert.deepEqual(simulateReads(studies.slice(3, 4), READERS, 5), reads.slice(3 * READERS.length, 4 * READERS.length));
});

test('reports use negation, hedging, synonyms and XXXX tokens, and agree with the labels they state', () => {
  const studies = sampleCohort({ n: 400, seed: 9, sites: sites4 });
  const text: string[] = [];
  const mention: Record<(typeof FINDINGS)[number], RegExp> = {
    Cardiomegaly: /cardiomegaly|enlarged|heart size is upper/i,
    Effusion: /effusion|pleural fluid/i,
    Consolidation: /consolidation|airspace|pneumonia/i,
    Nodule: /nodul/i,
    Pneumothorax: /pneumothorax/i,
  };
  let errors = 0, hedged = 0;
  for (const s of studies) {
    const r = generateReport(s.labels, s.lesions, new Rng(`t:${s.studyId}`));
    const all = `${r.findings} ${r.impression}`;
    text.push(all);
    errors += r.errors.length;
    for (const f of FINDINGS) {
      if (r.stated[f] === -1) hedged++;
      if (r.stated[f] !== 0) assert.match(all, mention[f], `${f} stated but not mentioned: ${all}`);
      const expected = r.errors.includes(f) ? 1 - s.labels[f] : s.labels[f];
      assert.equal(r.stated[f] !== 0 ? 1 : 0, expected);
    }
    if (FINDINGS.every((f) => r.stated[f] === 0)) assert.match(r.impression, /no acute|normal|no active/i);
  }
  const corpus = text.join('\n');
  for (const phrase of [/No pleural effusion/, /without pneumothorax/i, /cannot exclude/i, /possible/i, /may represent/i, /Lungs are clear\./, /Heart size normal\./, /enlarged heart/i, /pleural fluid/i, /airspace consolidation/i, /no focal airspace disease/i, /XXXX/]) {
    assert.match(corpus, phrase);
  }
  const rate = errors / (studies.length * FINDINGS.length);
  assert.ok(rate > 0.005 && rate < 0.05, `report error rate ${rate}`);
  assert.ok(hedged > 10);
});

test('renderStudy is pure and draws the anatomy and findings where they belong', () => {
  const studies = sampleCohort({ n: 120, seed: 1, sites: sites4 });
  const s0 = studies[0]!;
  const r1 = renderStudy(s0, sites4[s0.siteIndex]!, 128);
  const r2 = renderStudy(s0, sites4[s0.siteIndex]!, 128);
  assert.deepEqual(r1.acquired.stored, r2.acquired.stored);
  assert.ok(r1.image.data.every((v) => v >= 0 && v <= 1));
  // MONOCHROME1 sites store inverted values.
  const m1 = studies.find((s) => sites4[s.siteIndex]!.photometric === 'MONOCHROME1')!;
  const rm1 = renderStudy(m1, sites4[m1.siteIndex]!, 96);
  for (let i = 0; i < rm1.acquired.stored.length; i += 41) assert.equal(rm1.acquired.stored[i], rm1.acquired.maxValue - rm1.acquired.mono2[i]!);
  // A localised finding makes its region denser (brighter) than the same study rendered without it.
  for (const f of ['Consolidation', 'Nodule', 'Effusion'] as const) {
    const s = studies.find((x) => x.labels[f] === 1);
    if (!s) continue;
    const key = f.toLowerCase() as 'consolidation' | 'nodule' | 'effusion';
    const without: StudySpec = { ...s, lesions: { ...s.lesions, [key]: undefined } };
    const site = { ...sites4[s.siteIndex]!, noise: 0 };
    const w = renderStudy(s, site, 128), wo = renderStudy(without, site, 128);
    const mask = w.masks[f]!;
    let diff = 0, count = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i]) { diff += w.image.data[i]! - wo.image.data[i]!; count++; }
    assert.ok(count > 0 && diff / count > 0.02, `${f}: mean brightening ${diff / count}`);
  }
  // Cardiomegaly: the heart mask is wider than half the thorax; AP magnifies the heart.
  const cardio = studies.find((x) => x.labels.Cardiomegaly === 1 && x.view === 'PA')!;
  const widthOf = (m: Uint8Array, size: number) => {
    let best = 0;
    for (let y = 0; y < size; y++) {
      let lo = size, hi = -1;
      for (let x = 0; x < size; x++) if (m[y * size + x]) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
      best = Math.max(best, hi - lo + 1);
    }
    return best;
  };
  const rc = renderStudy(cardio, sites4[cardio.siteIndex]!, 256);
  const ctr = widthOf(rc.masks.Cardiomegaly!, 256) / (2 * cardio.anatomy.thoraxHalfWidth * 256);
  assert.ok(ctr > 0.5, `apparent CTR ${ctr}`);
  const ap = renderStudy({ ...cardio, view: 'AP' }, sites4[cardio.siteIndex]!, 256);
  assert.ok(widthOf(ap.masks.Cardiomegaly!, 256) > widthOf(rc.masks.Cardiomegaly!, 256));
});

test('images: false writes only the tables, fast, for a few hundred studies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-synth-noimg-'));
  try {
    const res = await generateCohort({ out: join(dir, 'o'), n: 300, sites: 3, seed: 4, images: false });
    assert.equal(res.n, 300);
    assert.equal(res.sites.length, 3);
    assert.ok(existsSync(join(dir, 'o', 'readers.csv')));
    assert.ok(!existsSync(join(dir, 'o', 'dicom')));
    assert.ok(res.seconds < 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
