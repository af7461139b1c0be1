import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseManifest, type Manifest } from '../../../src/data/manifest.js';
import { formatCsv, readCsv } from '../../../src/util/csv.js';
import { Rng } from '../../../src/util/rng.js';
import {
  holdoutSplit, kFoldSplit, leaveOneSiteOut, manifestWithAssignment, summariseSplit, type SplitAssignment,
} from '../../../src/data/splits/index.js';

interface GenOptions {
  patients: number;
  maxStudies: number;
  classes?: { name: string; p: number }[];
  findings?: { name: string; p: number }[];
  sites?: string[];
  /** Fraction of rows without patient_id (some of those with a study_id). */
  anonymous?: number;
  seed: number;
}

/** A random manifest: patients with 1..maxStudies images, one label (or findings) per patient. */
function generate(o: GenOptions): Manifest {
  const rng = new Rng(o.seed);
  const header = ['path', 'patient_id', 'study_id', 'site', 'note'];
  if (o.classes) header.push('label');
  if (o.findings) header.push(...o.findings.map((f) => f.name));
  const rows: Record<string, string>[] = [];
  const pickClass = (list: { name: string; p: number }[]) => {
    let u = rng.random();
    for (const c of list) if ((u -= c.p) < 0) return c.name;
    return list[list.length - 1]!.name;
  };
  for (let p = 0; p < o.patients; p++) {
    const n = 1 + rng.int(o.maxStudies);
    const anonymous = rng.random() < (o.anonymous ?? 0);
    const site = o.sites ? rng.pick(o.sites) : '';
    const label = o.classes ? pickClass(o.classes) : '';
    const findings = (o.findings ?? []).map((f) => (rng.random() < f.p ? '1' : rng.random() < 0.1 ? '-1' : '0'));
    for (let s = 0; s < n; s++) {
      const row: Record<string, string> = {
        path: `img/${p}_${s}.png`,
        patient_id: anonymous ? '' : `P${p}`,
        study_id: anonymous && s % 2 === 0 ? `S${p}` : '',
        site,
        note: `x, "y" ${p}`,
      };
      if (o.classes) row['label'] = rng.random() < 0.9 ? label : pickClass(o.classes);
      (o.findings ?? []).forEach((f, k) => (row[f.name] = findings[k]!));
      rows.push(row);
    }
  }
  return parseManifest(formatCsv(header, rows), '/tmp/generated.csv');
}

/** Independent grouping: patient_id, else study_id, else the row itself. */
function groupOf(m: Manifest): string[] {
  return m.records.map((r, i) => {
    const c = r.columns;
    if (c['patient_id']) return 'P:' + c['patient_id'];
    if (c['study_id']) return 'S:' + c['study_id'];
    return 'R:' + i;
  });
}

function assertNoLeakage(m: Manifest, a: SplitAssignment, what: string): void {
  const g = groupOf(m);
  const seen = new Map<string, string | undefined>();
  a.values.forEach((v, i) => {
    const k = g[i]!;
    if (seen.has(k)) assert.equal(v, seen.get(k), `${what}: a patient is in two bins`);
    else seen.set(k, v);
  });
}

test('no patient is ever in two splits or folds, across random manifests', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const m = generate({
      patients: 20 + seed * 7, maxStudies: 1 + (seed % 12), seed, anonymous: 0.2,
      classes: [{ name: 'normal', p: 0.6 }, { name: 'pneumonia', p: 0.3 }, { name: 'effusion', p: 0.1 }],
      sites: ['A', 'B', 'C'],
    });
    const h = holdoutSplit(m.records, { seed });
    assertNoLeakage(m, h, `holdout seed ${seed}`);
    assert.ok(h.values.every((v) => v === 'train' || v === 'val' || v === 'test'));
    assertNoLeakage(m, kFoldSplit(m.records, 5, { seed }), `kfold seed ${seed}`);
    assertNoLeakage(m, leaveOneSiteOut(m.records), `loso seed ${seed}`);
  }
});

test('hold-out is stratified within tolerance and hits the fractions overall', () => {
  const m = generate({
    patients: 3000, maxStudies: 4, seed: 42,
    classes: [{ name: 'normal', p: 0.7 }, { name: 'pneumonia', p: 0.25 }, { name: 'mass', p: 0.05 }],
  });
  const a = holdoutSplit(m.records, { fractions: [0.6, 0.2, 0.2], seed: 5 });
  const s = summariseSplit(m, a);
  const total = m.records.length;
  const fr = { train: 0.6, val: 0.2, test: 0.2 } as Record<string, number>;
  for (const b of ['train', 'val', 'test']) {
    assert.ok(Math.abs(s.records[b]! / total - fr[b]!) < 0.01, `${b}: ${s.records[b]} of ${total}`);
    for (const c of ['normal', 'pneumonia', 'mass']) {
      const nc = ['train', 'val', 'test'].reduce((x, bb) => x + (s.byClass[bb]![c] ?? 0), 0);
      // Labels vary a little within a patient, so allow a few records plus 3 % of the class.
      const got = s.byClass[b]![c] ?? 0;
      assert.ok(Math.abs(got - fr[b]! * nc) <= 4 + 0.03 * nc, `${b} × ${c}: ${got} vs ${fr[b]! * nc}`);
    }
  }
});

test('multi-label stratification spreads the rarest finding; many tiny strata still give the fractions', () => {
  const m = generate({
    patients: 1500, maxStudies: 3, seed: 8,
    findings: [{ name: 'Effusion', p: 0.3 }, { name: 'Pneumothorax', p: 0.03 }, { name: 'Nodule', p: 0.1 }],
  });
  const a = holdoutSplit(m.records, { seed: 2 });
  const s = summariseSplit(m, a);
  const ptx = ['train', 'val', 'test'].map((b) => s.byClass[b]!['Pneumothorax'] ?? 0);
  const n = ptx.reduce((x, y) => x + y, 0);
  assert.ok(n > 50);
  assert.ok(Math.abs(ptx[1]! - 0.15 * n) <= 3 + 0.04 * n && Math.abs(ptx[2]! - 0.15 * n) <= 3 + 0.04 * n, `pneumothorax ${ptx}`);
  // One patient per stratum (every label unique): apportionment must fall back on the global fill.
  const unique = generate({ patients: 400, maxStudies: 1, seed: 3, classes: Array.from({ length: 400 }, (_, i) => ({ name: `c${i}`, p: 1 / 400 })) });
  const recs = unique.records.map((r, i) => ({ ...r, label: `only${i}` }));
  const u = holdoutSplit(recs, { seed: 1 });
  const counts = ['train', 'val', 'test'].map((b) => u.values.filter((v) => v === b).length);
  assert.deepEqual(counts, [280, 60, 60]);
});

test('k-fold covers every record exactly once with balanced, stratified folds', () => {
  const m = generate({ patients: 800, maxStudies: 5, seed: 9, classes: [{ name: 'a', p: 0.8 }, { name: 'b', p: 0.2 }] });
  const a = kFoldSplit(m.records, 5, { seed: 4 });
  assert.deepEqual(a.bins, ['0', '1', '2', '3', '4']);
  assert.equal(a.values.length, m.records.length);
  assert.ok(a.values.every((v) => v !== undefined && a.bins.includes(v)));
  const s = summariseSplit(m, a);
  const per = m.records.length / 5;
  for (const b of a.bins) {
    assert.ok(Math.abs(s.records[b]! - per) <= 6, `fold ${b}: ${s.records[b]} vs ${per}`);
    const nb = a.bins.reduce((x, bb) => x + (s.byClass[bb]!['b'] ?? 0), 0);
    assert.ok(Math.abs((s.byClass[b]!['b'] ?? 0) - nb / 5) <= 6 + 0.05 * nb);
  }
  assert.throws(() => kFoldSplit(m.records.slice(0, 3), 5), /at least 5 patients/);
});

test('leave-one-site-out holds out each site once and keeps multi-site patients whole', () => {
  const m = generate({ patients: 200, maxStudies: 3, seed: 10, sites: ['north', 'south', 'east', 'west'], classes: [{ name: 'a', p: 0.5 }, { name: 'b', p: 0.5 }] });
  const a = leaveOneSiteOut(m.records);
  assert.deepEqual(a.bins, ['east', 'north', 'south', 'west']);
  m.records.forEach((r, i) => assert.equal(a.values[i], r.site));
  // A patient seen at two sites (2 images at A, 1 at B) goes whole to A; rows with no site get no fold.
  const csv = 'path,patient_id,site,label\n1.png,X,A,a\n2.png,X,A,a\n3.png,X,B,a\n4.png,Y,B,b\n5.png,Z,,b\n';
  const m2 = parseManifest(csv, '/tmp/x.csv');
  const a2 = leaveOneSiteOut(m2.records);
  assert.deepEqual(a2.values, ['A', 'A', 'A', 'B', undefined]);
  assert.equal(a2.notes.length, 2);
  assert.throws(() => leaveOneSiteOut(parseManifest('path,site\n1.png,A\n2.png,A\n', '/tmp/y.csv').records), /at least two sites/);
});

test('splits are reproducible from the seed and do not depend on row order', () => {
  const m = generate({ patients: 300, maxStudies: 4, seed: 11, classes: [{ name: 'a', p: 0.7 }, { name: 'b', p: 0.3 }] });
  const a = holdoutSplit(m.records, { seed: 7 });
  assert.deepEqual(holdoutSplit(m.records, { seed: 7 }).values, a.values);
  assert.notDeepEqual(holdoutSplit(m.records, { seed: 8 }).values, a.values);
  assert.deepEqual(kFoldSplit(m.records, 3, { seed: 7 }).values, kFoldSplit(m.records, 3, { seed: 7 }).values);
  const perm = new Rng(1).shuffle([...m.records.keys()]);
  const shuffled = perm.map((i) => m.records[i]!);
  const b = holdoutSplit(shuffled, { seed: 7 });
  perm.forEach((orig, j) => assert.equal(b.values[j], a.values[orig]));
});

test('an existing split column is respected, its leakage refused, and --force reassigns', () => {
  const csv = [
    'path,patient_id,label,split',
    '1.png,A,x,test', '2.png,A,x,', '3.png,B,y,train', '4.png,C,x,', '5.png,D,y,', '6.png,E,x,', '7.png,F,y,val',
  ].join('\n');
  const m = parseManifest(csv, '/tmp/e.csv');
  const a = holdoutSplit(m.records, { seed: 1 });
  assert.equal(a.values[0], 'test');
  assert.equal(a.values[1], 'test'); // follows the patient's existing split
  assert.equal(a.values[2], 'train');
  assert.equal(a.values[6], 'val');
  assert.equal(a.kept, 3);
  const k = kFoldSplit(m.records, 2, { seed: 1 });
  assert.equal(k.values[0], undefined);
  assert.equal(k.values[1], undefined);
  assert.ok(k.values.slice(2).every((v) => v === '0' || v === '1'));
  const leaky = parseManifest('path,patient_id,label,split\n1.png,A,x,train\n2.png,A,x,test\n3.png,B,x,\n', '/tmp/l.csv');
  assert.throws(() => holdoutSplit(leaky.records), (e: Error & { code?: string }) => e.code === 'SPLIT_LEAKAGE' && !e.message.includes(',A'));
  const forced = holdoutSplit(leaky.records, { seed: 1, force: true });
  assert.equal(forced.values[0], forced.values[1]);
  const withFold = parseManifest('path,patient_id,label,fold\n1.png,A,x,0\n2.png,B,x,1\n3.png,C,y,0\n', '/tmp/f.csv');
  assert.throws(() => kFoldSplit(withFold.records, 2), /fold column/);
  assert.equal(kFoldSplit(withFold.records, 2, { force: true }).values.filter((v) => v !== undefined).length, 3);
  assert.throws(() => holdoutSplit(m.records, { fractions: [0.5, 0.2, 0.2] }), /sum to 1/);
});

test('the written manifest keeps every column verbatim and adds the assignment column', () => {
  const m = generate({ patients: 10, maxStudies: 2, seed: 12, classes: [{ name: 'a', p: 0.5 }, { name: 'b', p: 0.5 }], sites: ['s1', 's2'] });
  const a = holdoutSplit(m.records, { seed: 1 });
  const { header, rows } = manifestWithAssignment(m, a);
  assert.deepEqual(header, [...m.header, 'split']);
  rows.forEach((r, i) => {
    for (const h of m.header) assert.equal(r[h], m.records[i]!.columns[h]);
    assert.equal(r['split'], a.values[i]);
  });
});

const covidDir = resolve('..', 'shared', 'data', 'covid-cxr-open');
test('real cohort (covid-cxr-open): patient-level hold-out and LOSO without leakage', { skip: existsSync(join(covidDir, 'metadata.csv')) ? false : 'needs ../shared/data/covid-cxr-open' }, () => {
  const meta = readCsv(join(covidDir, 'metadata.csv'));
  const rows = meta.rows.map((r) => ({ path: `images/${r['filename']}`, patient_id: r['patientid']!, label: r['finding']!, site: r['location']! }));
  const m = parseManifest(formatCsv(['path', 'patient_id', 'label', 'site'], rows), join(covidDir, 'manifest.csv'));
  const patients = new Set(rows.map((r) => r.patient_id)).size;
  const a = holdoutSplit(m.records, { seed: 1 });
  assertNoLeakage(m, a, 'covid holdout');
  const s = summariseSplit(m, a);
  assert.equal(s.patients['train']! + s.patients['val']! + s.patients['test']!, patients);
  assert.ok(s.records['train']! > s.records['test']!);
  const l = leaveOneSiteOut(m.records);
  assertNoLeakage(m, l, 'covid loso');
  assert.ok(l.bins.length >= 2);
  assertNoLeakage(m, kFoldSplit(m.records, 5, { seed: 2 }), 'covid kfold');
});
