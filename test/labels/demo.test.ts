import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLabelDemo, labelDemo, findReaderTruth } from '../../src/labels/index.js';
import { Rng } from '../../src/util/rng.js';

const FINDINGS = ['Cardiomegaly', 'Effusion', 'Consolidation', 'Nodule', 'Pneumothorax'] as const;
const POSITIVE: Record<string, string[]> = {
  Cardiomegaly: ['The heart is enlarged.', 'Moderate cardiomegaly.'],
  Effusion: ['Small left pleural effusion.', 'Moderate right pleural effusion.'],
  Consolidation: ['Right lower lobe consolidation.', 'Focal consolidation in the left lower lobe.'],
  Nodule: ['A 1 cm nodule in the right upper lobe.', 'Small pulmonary nodule at the left base.'],
  Pneumothorax: ['Small right apical pneumothorax.', 'Left pneumothorax.'],
};
const NEGATIVE: Record<string, string[]> = {
  Cardiomegaly: ['Heart size is normal.', 'The heart is not enlarged.'],
  Effusion: ['No pleural effusion.', 'There is no effusion.'],
  Consolidation: ['No focal consolidation.', 'Lungs are clear without consolidation.'],
  Nodule: ['', 'No suspicious nodules.'],
  Pneumothorax: ['No pneumothorax.', 'There is no evidence of pneumothorax.'],
};
const READERS = [
  { id: 'reader1', sensitivity: 0.95, specificity: 0.9 },
  { id: 'reader2', sensitivity: 0.8, specificity: 0.95 },
  { id: 'reader3', sensitivity: 0.7, specificity: 0.85 },
  { id: 'reader4', sensitivity: 0.9, specificity: 0.8 },
];

function makeCohort(cohortJson: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'radml-demo-'));
  const rng = new Rng(42);
  const manifest = ['path,study_id,patient_id,' + FINDINGS.join(',')];
  const reports = ['id,findings,impression'];
  const readers = ['id,reader,' + FINDINGS.join(',')];
  for (let i = 0; i < 1500; i++) {
    const id = `S${1000 + i}`;
    const y = FINDINGS.map(() => (rng.bernoulli(0.3) ? 1 : 0));
    manifest.push(`img/${id}.png,${id},P${i},${y.join(',')}`);
    const sentences = FINDINGS.map((f, k) => rng.pick(y[k] ? POSITIVE[f]! : NEGATIVE[f]!)).filter((s) => s !== '');
    const pos = FINDINGS.filter((_, k) => y[k]);
    reports.push(`${id},"${sentences.join(' ')}","${pos.length ? pos.join(', ').toLowerCase() + '.' : 'No acute cardiopulmonary abnormality.'}"`);
    for (const r of READERS) {
      const reads = y.map((t) => (t ? (rng.bernoulli(r.sensitivity) ? 1 : 0) : rng.bernoulli(r.specificity) ? 0 : 1));
      readers.push(`${id},${r.id},${reads.join(',')}`);
    }
  }
  writeFileSync(join(dir, 'manifest.csv'), manifest.join('\n') + '\n');
  writeFileSync(join(dir, 'reports.csv'), reports.join('\n') + '\n');
  writeFileSync(join(dir, 'readers.csv'), readers.join('\n') + '\n');
  if (cohortJson !== undefined) writeFileSync(join(dir, 'cohort.json'), JSON.stringify(cohortJson));
  return dir;
}

test('labelDemo labels reports against the truth and recovers reader sensitivities', () => {
  const dir = makeCohort({ seed: 42, simulation: { readers: READERS } });
  const r = labelDemo(dir);
  assert.deepEqual(r.findings, [...FINDINGS]);
  assert.equal(r.reports.matched, 1500);
  assert.ok(r.reports.scores.micro.f1 > 0.97, `report micro-F1 ${r.reports.scores.micro.f1}`);
  assert.equal(r.readers.length, READERS.length * FINDINGS.length);
  for (const x of r.readers) {
    assert.ok(Math.abs(x.estimatedSensitivity - x.statedSensitivity) < 0.07, `${x.reader} ${x.finding} sens ${x.estimatedSensitivity} vs ${x.statedSensitivity}`);
    assert.ok(Math.abs(x.estimatedSpecificity - x.statedSpecificity) < 0.05, `${x.reader} ${x.finding} spec ${x.estimatedSpecificity} vs ${x.statedSpecificity}`);
    assert.ok(Math.abs(x.estimatedSensitivity - x.observedSensitivity) < 0.05);
  }
  for (const a of r.consensusAccuracy) assert.ok(a.dawidSkene >= a.majority - 0.01 && a.dawidSkene > 0.9, JSON.stringify(a));
  assert.ok(formatLabelDemo(r).some((l) => l.includes('reader1')));
  assert.ok(r.assumptions.some((a) => a.includes('cohort.json')));
});

test('reader truth is found in other cohort.json layouts, or measured when absent', () => {
  const names = ['r1', 'r2'];
  assert.equal(findReaderTruth({ readers: { r1: { sensitivity: 0.9, specificity: 0.8 }, r2: { sensitivity: 0.7, specificity: 0.95 } } }, names)?.get('r2')?.sensitivity, 0.7);
  assert.deepEqual(findReaderTruth({ truth: { readerTruth: [{ name: 'r1', sensitivity: { Effusion: 0.8 }, specificity: { Effusion: 0.9 } }] } }, names)?.get('r1')?.sensitivity, { Effusion: 0.8 });
  assert.equal(findReaderTruth({ nothing: 1 }, names), null);
  const dir = makeCohort(undefined);
  const r = labelDemo(dir);
  assert.ok(r.readers.every((x) => Number.isNaN(x.statedSensitivity) && x.observedSensitivity > 0.6));
  assert.throws(() => labelDemo(join(dir, 'nope')), /missing/);
});
