import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../src/data/manifest.js';
import { chooseValidation } from '../../src/train/split.js';
import { categoricalTargets } from '../../src/train/targets.js';

function manifest(rows: string[], header = 'path,label,patient_id'): ReturnType<typeof parseManifest> {
  return parseManifest([header, ...rows].join('\n') + '\n', '/tmp/m.csv');
}

test('validation hold-out is patient-level, stratified and seeded; a manifest val split wins', () => {
  const rows: string[] = [];
  for (let p = 0; p < 60; p++) for (let j = 0; j < 1 + (p % 3); j++) rows.push(`p${p}_${j}.png,${p % 4 === 0 ? 'normal' : 'pneumonia'},P${p}`);
  const m = manifest(rows);
  const t = categoricalTargets(m.records, m.classes, 'pneumonia');
  const a = chooseValidation(m.records, t, { seed: 1, valFraction: 0.2 });
  assert.equal(a.info.method, 'patient-holdout');
  const trainP = new Set(a.trainRows.map((r) => m.records[r]!.patientId));
  const valP = new Set(a.valRows.map((r) => m.records[r]!.patientId));
  assert.ok([...valP].every((p) => !trainP.has(p)), 'no patient on both sides');
  assert.equal(a.trainRows.length + a.valRows.length, m.records.length);
  assert.ok(a.valRows.some((r) => m.records[r]!.label === 'normal') && a.valRows.some((r) => m.records[r]!.label === 'pneumonia'), 'both classes in validation');
  assert.ok(Math.abs(valP.size / 60 - 0.2) < 0.07, `val patients ${valP.size}`);
  assert.deepEqual(chooseValidation(m.records, t, { seed: 1, valFraction: 0.2 }).valRows, a.valRows);
  assert.notDeepEqual(chooseValidation(m.records, t, { seed: 2, valFraction: 0.2 }).valRows, a.valRows);

  const withSplit = manifest(['a.png,normal,P1,train', 'b.png,pneumonia,P2,val', 'c.png,normal,P3,test', 'd.png,pneumonia,P4,'], 'path,label,patient_id,split');
  const s = chooseValidation(withSplit.records, categoricalTargets(withSplit.records, withSplit.classes), { seed: 1, valFraction: 0.2 });
  assert.equal(s.info.method, 'manifest');
  assert.deepEqual(s.valRows, [1]);
  assert.deepEqual(s.trainRows, [0, 3], 'test rows are never used; blank split trains');
});
