import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageBand, parseAge, parseManifest } from '../../src/data/manifest.js';
import { ManifestError } from '../../src/util/errors.js';

test('categorical manifest: classes, typed optional columns, extra columns kept', () => {
  const m = parseManifest('path,label,patient_id,split,sex,age,view,scanner\na.png,pneumonia,p1,train,female,45,pa,X1\nb.png,normal,p2,valid,M,062Y,AP,X2\n', '/data/m.csv');
  assert.equal(m.labelKind, 'categorical');
  assert.deepEqual(m.classes, ['normal', 'pneumonia']);
  const [a, b] = m.records;
  assert.equal(a!.absPath, '/data/a.png');
  assert.equal(a!.sex, 'F');
  assert.equal(a!.age, 45);
  assert.equal(a!.view, 'PA');
  assert.equal(b!.split, 'val');
  assert.equal(b!.age, 62);
  assert.equal(a!.columns['scanner'], 'X1');
});

test('multi-label manifest: finding columns detected, metadata columns are not findings', () => {
  const m = parseManifest('path,site,Effusion,Nodule,age,flagged_note\na.png,s1,1,,50,hello\nb.png,s2,-1,0,61,\n', 'm.csv');
  assert.equal(m.labelKind, 'multilabel');
  assert.deepEqual(m.classes, ['Effusion', 'Nodule']);
  assert.deepEqual(m.records[0]!.findings, { Effusion: 1, Nodule: null });
  assert.deepEqual(m.records[1]!.findings, { Effusion: -1, Nodule: 0 });
});

test('errors name row, column and value, and all problems are collected', () => {
  const text = 'path,label,sex,age,split\na.png,x,M,40,train\nb.png,y,Q,40,train\nc.png,x,F,abc,train\n,x,F,30,holdout\n';
  try {
    parseManifest(text, 'bad.csv');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ManifestError);
    const msg = e.message;
    assert.match(msg, /bad\.csv: 4 problem\(s\)/);
    assert.match(msg, /row 3, column "sex", value "Q"/);
    assert.match(msg, /row 4, column "age", value "abc"/);
    assert.match(msg, /row 5, column "path", value ""/);
    assert.match(msg, /row 5, column "split", value "holdout"/);
    assert.equal(e.issues.length, 4);
  }
});

test('explicit findings with a bad cell are reported', () => {
  assert.throws(() => parseManifest('path,Effusion\na.png,2\n', 'f.csv', { findings: ['Effusion'] }), /row 2, column "Effusion", value "2": a finding must be 1, 0, -1/);
});

test('a manifest without a path column or without rows is refused', () => {
  assert.throws(() => parseManifest('file,label\na,b\n', 'np.csv'), /needs a "path" column/);
  assert.throws(() => parseManifest('path,label\n', 'e.csv'), /has a header but no rows/);
});

test('ages: DICOM age strings and bands', () => {
  assert.equal(parseAge('006M'), 0.5);
  assert.equal(parseAge('045Y'), 45);
  assert.ok(Math.abs(parseAge('014D') - 14 / 365.25) < 1e-12);
  assert.equal(ageBand(17.9), '0-17');
  assert.equal(ageBand(40), '40-59');
  assert.equal(ageBand(85), '80+');
  assert.equal(ageBand(undefined), undefined);
});
