import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapCi, cohenKappa, fleissKappa, krippendorffAlphaNominal, type Rating } from '../../src/labels/agreement.js';
import { dawidSkene, majorityVote, softVote } from '../../src/labels/consensus.js';
import { parseReaderTable } from '../../src/labels/readers.js';
import { buildConsensus } from '../../src/labels/consensus-report.js';
import { parseCsv, readCsv } from '../../src/util/csv.js';
import { Rng } from '../../src/util/rng.js';
import { main } from '../../src/cli/main.js';
import type { FindingValue } from '../../src/data/manifest.js';

function python(code: string, input: unknown): unknown {
  return JSON.parse(execFileSync('python3', ['-c', code], { input: JSON.stringify(input), encoding: 'utf8' }));
}

test("Cohen's kappa matches scikit-learn cohen_kappa_score", () => {
  const rng = new Rng(11);
  const cases: { a: number[]; b: number[] }[] = [];
  for (let k = 0; k < 6; k++) {
    const n = 20 + rng.int(200);
    const cats = k % 2 === 0 ? [0, 1] : [0, 1, -1];
    const a = Array.from({ length: n }, () => rng.pick(cats));
    const b = a.map((x) => (rng.bernoulli(0.7) ? x : rng.pick(cats)));
    cases.push({ a, b });
  }
  const ref = python('import sys,json\nfrom sklearn.metrics import cohen_kappa_score\nprint(json.dumps([cohen_kappa_score(c["a"],c["b"]) for c in json.load(sys.stdin)]))', cases) as number[];
  cases.forEach((c, i) => assert.ok(Math.abs(cohenKappa(c.a, c.b) - ref[i]!) < 1e-12, `case ${i}: ${cohenKappa(c.a, c.b)} vs ${ref[i]}`));
  // Missing reads are dropped pairwise.
  assert.equal(cohenKappa([1, null, 0, 1], [1, 1, 0, null]), 1);
});

test("Fleiss' kappa matches statsmodels fleiss_kappa", () => {
  const rng = new Rng(12);
  const sets: number[][][] = [];
  for (let k = 0; k < 4; k++) {
    const readers = 3 + k;
    const cats = k < 2 ? [0, 1] : [0, 1, -1];
    sets.push(
      Array.from({ length: 50 + 30 * k }, () => {
        const truth = rng.pick(cats);
        return Array.from({ length: readers }, () => (rng.bernoulli(0.75) ? truth : rng.pick(cats)));
      }),
    );
  }
  const ref = python(
    'import sys,json\nfrom statsmodels.stats.inter_rater import fleiss_kappa, aggregate_raters\nprint(json.dumps([fleiss_kappa(aggregate_raters(s)[0], method="fleiss") for s in json.load(sys.stdin)]))',
    sets,
  ) as number[];
  sets.forEach((s, i) => assert.ok(Math.abs(fleissKappa(s) - ref[i]!) < 1e-12, `set ${i}: ${fleissKappa(s)} vs ${ref[i]}`));
});

test("Krippendorff's alpha reproduces Krippendorff (2011)'s nominal worked example (α = 0.743)", () => {
  // Four observers (rows), twelve units (columns), '.' missing — "Computing Krippendorff's Alpha-Reliability", example C.
  const obs = ['1 2 3 3 2 1 4 1 2 . . .', '1 2 3 3 2 2 4 1 2 5 . 3', '. 3 3 3 2 3 4 2 2 5 1 .', '1 2 3 3 2 4 4 1 2 5 1 .'].map((l) =>
    l.split(' ').map((v) => (v === '.' ? null : Number(v))),
  );
  const units: Rating[][] = Array.from({ length: 12 }, (_, u) => obs.map((o) => o[u]!));
  const alpha = krippendorffAlphaNominal(units);
  assert.ok(Math.abs(alpha - 0.743) < 0.0005, `alpha ${alpha}`);
  // Independent pairwise form: 1 - (pairable n - 1) · Σ_u D_u/(m_u - 1) / Σ_all-pairs disagreements.
  const values = units.filter((u) => u.filter((v) => v !== null).length >= 2).map((u) => u.filter((v): v is number => v !== null));
  const all = values.flat();
  let within = 0;
  for (const u of values) {
    let d = 0;
    for (let i = 0; i < u.length; i++) for (let j = 0; j < u.length; j++) if (i !== j && u[i] !== u[j]) d++;
    within += d / (u.length - 1);
  }
  let between = 0;
  for (let i = 0; i < all.length; i++) for (let j = 0; j < all.length; j++) if (i !== j && all[i] !== all[j]) between++;
  const alpha2 = 1 - ((all.length - 1) * within) / between;
  assert.ok(Math.abs(alpha - alpha2) < 1e-12);
});

test('bootstrap CI is seeded and brackets the estimate', () => {
  const rng = new Rng(3);
  const m = Array.from({ length: 200 }, () => {
    const t = rng.int(2);
    return [0, 1, 2].map(() => (rng.bernoulli(0.85) ? t : 1 - t));
  });
  const a = bootstrapCi(m, fleissKappa, { seed: 5, resamples: 300 });
  const b = bootstrapCi(m, fleissKappa, { seed: 5, resamples: 300 });
  assert.deepEqual(a, b);
  const k = fleissKappa(m);
  assert.ok(a.lower < k && k < a.upper, `${a.lower} < ${k} < ${a.upper}`);
});

test('majority vote: ties are uncertain, no votes blank; soft vote keeps only unanimity', () => {
  const r: FindingValue[][] = [[1, 1, 0], [1, 0, null], [null, null, null], [0, 0, -1]];
  assert.deepEqual(majorityVote(r).label, [1, -1, null, 0]);
  assert.deepEqual(softVote(r).label, [-1, -1, null, 0]);
  assert.deepEqual(majorityVote(r).soft.slice(0, 2), [2 / 3, 0.5]);
});

function simulate(seed: number, n: number, truthSens: number[], truthSpec: number[], prevalence: number, missing: number) {
  const rng = new Rng(seed);
  const truth: number[] = [];
  const ratings: FindingValue[][] = [];
  for (let i = 0; i < n; i++) {
    const t = rng.bernoulli(prevalence) ? 1 : 0;
    truth.push(t);
    ratings.push(truthSens.map((s, r) => (rng.bernoulli(missing) ? null : t === 1 ? (rng.bernoulli(s) ? 1 : 0) : rng.bernoulli(truthSpec[r]!) ? 0 : 1)));
  }
  return { truth, ratings };
}

test('Dawid–Skene recovers known reader sensitivity and specificity (with missing reads)', () => {
  const sens = [0.95, 0.85, 0.7, 0.9, 0.6];
  const spec = [0.9, 0.95, 0.85, 0.7, 0.95];
  const { truth, ratings } = simulate(21, 4000, sens, spec, 0.3, 0.2);
  const r = dawidSkene(ratings);
  assert.ok(r.converged);
  r.readers!.forEach((e, i) => {
    assert.ok(Math.abs(e.sensitivity - sens[i]!) < 0.035, `reader ${i} sensitivity ${e.sensitivity} vs ${sens[i]}`);
    assert.ok(Math.abs(e.specificity - spec[i]!) < 0.035, `reader ${i} specificity ${e.specificity} vs ${spec[i]}`);
  });
  assert.ok(Math.abs(r.prevalence! - 0.3) < 0.03);
  // Posterior labels beat the majority vote on accuracy.
  const acc = (l: FindingValue[]) => l.filter((v, i) => v === truth[i]).length / truth.length;
  assert.ok(acc(r.label) >= acc(majorityVote(ratings).label), `${acc(r.label)} vs ${acc(majorityVote(ratings).label)}`);
});

test('reader tables: long and wide forms give the same consensus; bad cells are named', () => {
  const long = parseCsv('id,reader,path,Effusion,Nodule\na,r1,a.png,1,0\na,r2,a.png,1,\nb,r1,b.png,0,1\nb,r2,b.png,0,1\nc,r2,c.png,1,-1\n');
  const wide = parseCsv('id,path,Effusion__r1,Effusion__r2,Nodule__r1,Nodule__r2\na,a.png,1,1,0,\nb,b.png,0,0,1,1\nc,c.png,,1,,-1\n');
  const L = parseReaderTable(long);
  const W = parseReaderTable(wide);
  assert.deepEqual(L.readers, ['r1', 'r2']);
  assert.deepEqual(L.findings, ['Effusion', 'Nodule']);
  assert.deepEqual(L.ratings.get('Nodule'), W.ratings.get('Nodule'));
  const cl = buildConsensus(L, { method: 'majority', resamples: 50 });
  const cw = buildConsensus(W, { method: 'majority', resamples: 50 });
  assert.deepEqual(cl.rows, cw.rows);
  assert.deepEqual(cl.header, ['id', 'path', 'Effusion', 'Nodule', 'soft_Effusion', 'soft_Nodule']);
  assert.equal(cl.rows[2]!['Nodule'], null);
  assert.throws(() => parseReaderTable(parseCsv('id,reader,Effusion\na,r1,yes\n'), { file: 'x.csv', findings: ['Effusion'] }), /x\.csv: .*row 2, column "Effusion", value "yes"/s);
  assert.throws(() => parseReaderTable(parseCsv('id,reader,Effusion\na,r1,1\na,r1,0\n'), { file: 'x.csv' }), /already read this case/);
});

test('radml consensus CLI writes a manifest-like CSV and a stats JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-cons-'));
  const { ratings } = simulate(4, 300, [0.9, 0.8, 0.85], [0.9, 0.95, 0.8], 0.4, 0.1);
  const lines = ['id,reader,Effusion'];
  ratings.forEach((row, i) => row.forEach((v, r) => lines.push(`case${i},reader${r},${v === null ? '' : v}`)));
  writeFileSync(join(dir, 'readers.csv'), lines.join('\n') + '\n');
  const out: string[] = [];
  const code = await main(['consensus', '--in', join(dir, 'readers.csv'), '--out', join(dir, 'c.csv'), '--bootstrap', '100'], { out: (l) => out.push(l), err: () => {}, interactive: false });
  assert.equal(code, 0);
  const t = readCsv(join(dir, 'c.csv'));
  assert.deepEqual(t.header, ['id', 'Effusion', 'soft_Effusion']);
  assert.equal(t.rows.length, 300);
  const stats = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
  assert.equal(stats.method, 'dawid-skene');
  assert.equal(stats.findings.Effusion.agreement.cohen.length, 3);
  assert.ok(stats.findings.Effusion.readers.reader0.sensitivity > 0.75);
  assert.match(out.join('\n'), /Fleiss κ/);
});
