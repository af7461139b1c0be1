import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confidentLearning } from '../../src/labels/confident-learning.js';
import { auditPredictions } from '../../src/labels/label-audit.js';
import { parseCsv, readCsv } from '../../src/util/csv.js';
import { Rng } from '../../src/util/rng.js';
import { main } from '../../src/cli/main.js';

/** Softmax of noisy logits favouring the true class: an imperfect but informative model. */
function simulate(seed: number, n: number, K: number, flipRate: number) {
  const rng = new Rng(seed);
  const truth: number[] = [];
  const given: number[] = [];
  const probs: number[][] = [];
  const flipped = new Set<number>();
  for (let i = 0; i < n; i++) {
    const t = rng.int(K);
    truth.push(t);
    const logits = Array.from({ length: K }, (_, k) => (k === t ? 2.2 : 0) + rng.normal(0, 1));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    probs.push(e.map((x) => x / z));
    if (rng.bernoulli(flipRate)) {
      let g = rng.int(K - 1);
      if (g >= t) g++;
      given.push(g);
      flipped.add(i);
    } else given.push(t);
  }
  return { truth, given, probs, flipped };
}

test('confident learning finds injected label flips (precision of the top-k)', () => {
  for (const K of [2, 3]) {
    const { given, probs, flipped } = simulate(K, 2000, K, 0.1);
    for (const rankBy of ['self-confidence', 'normalized-margin'] as const) {
      const r = confidentLearning(given, probs, { rankBy });
      const k = Math.min(flipped.size, r.issues.length);
      const top = r.issues.slice(0, k);
      const precision = top.filter((x) => flipped.has(x.index)).length / k;
      const topHalf = r.issues.slice(0, Math.floor(flipped.size / 2));
      const precisionHalf = topHalf.filter((x) => flipped.has(x.index)).length / topHalf.length;
      console.log(`# K=${K} ${rankBy}: ${flipped.size} flips, ${r.issues.length} flagged, estimated ${r.estimatedErrors}; precision top-${k} ${precision.toFixed(3)}, top-${topHalf.length} ${precisionHalf.toFixed(3)}`);
      assert.ok(precision >= 0.6, `K=${K} ${rankBy} precision@k ${precision}`);
      assert.ok(precisionHalf >= 0.8, `K=${K} ${rankBy} precision@k/2 ${precisionHalf}`);
      assert.ok(Math.abs(r.estimatedErrors - flipped.size) < 0.5 * flipped.size, `estimated ${r.estimatedErrors} vs ${flipped.size}`);
      // Suggested labels of true flips are mostly the original label.
      assert.ok(r.issues.every((x) => x.suggested !== x.given));
      assert.deepEqual(r.issues.map((x) => x.rank), r.issues.map((_, i) => i + 1));
    }
  }
});

test('thresholds are the mean self-confidence per class', () => {
  const r = confidentLearning([0, 0, 1, 1], [[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]]);
  assert.deepEqual(r.thresholds.map((t) => Math.round(t * 1e9) / 1e9), [0.8, 0.7]);
  assert.equal(r.issues.length, 0);
  assert.throws(() => confidentLearning([2], [[0.5, 0.5]]), /not a class index/);
});

test('audit of a predictions CSV: categorical, binary with --positive, multi-label', () => {
  const { given, probs, flipped } = simulate(9, 600, 3, 0.1);
  const names = ['normal', 'pneumonia', 'covid'];
  const lines = ['path,label,score_normal,score_pneumonia,score_covid'];
  given.forEach((g, i) => lines.push(`img${i}.png,${names[g]},${probs[i]!.join(',')}`));
  lines.push('bad.png,normal,x,0.5,0.5');
  const r = auditPredictions(parseCsv(lines.join('\n')), { file: 'oof.csv' });
  assert.equal(r.mode, 'categorical');
  assert.equal(r.skipped.length, 1);
  const top = r.rows.slice(0, 20);
  assert.ok(top.filter((x) => flipped.has(Number(x.id.slice(3, -4)))).length >= 15);
  assert.equal(r.rows[0]!.rank, 1);

  const bin = simulate(10, 400, 2, 0.1);
  const bl = ['path,label,score_pneumonia'];
  bin.given.forEach((g, i) => bl.push(`i${i}.png,${g === 1 ? 'pneumonia' : 'normal'},${bin.probs[i]![1]}`));
  const rb = auditPredictions(parseCsv(bl.join('\n')), { positive: 'pneumonia' });
  assert.deepEqual(rb.header.slice(-2), ['score_normal', 'score_pneumonia']);
  assert.ok(rb.rows.slice(0, 10).filter((x) => bin.flipped.has(Number(x.id.slice(1, -4)))).length >= 8);

  const ml = ['id,Effusion,Nodule,score_Effusion,score_Nodule'];
  bin.given.forEach((g, i) => ml.push(`s${i},${g},${i % 7 === 0 ? -1 : 1 - g},${bin.probs[i]![1]},${bin.probs[i]![0]}`));
  const rm = auditPredictions(parseCsv(ml.join('\n')));
  assert.equal(rm.mode, 'multi-label');
  assert.deepEqual(rm.summary.map((s) => s.column), ['Effusion', 'Nodule']);
  assert.ok(rm.summary[1]!.examples < rm.summary[0]!.examples, 'uncertain labels are not audited');
});

test('radml label-audit CLI writes the ranked review list', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-audit-'));
  const { given, probs } = simulate(5, 300, 2, 0.1);
  writeFileSync(join(dir, 'oof.csv'), ['id,label,score_a,score_b', ...given.map((g, i) => `c${i},${g === 0 ? 'a' : 'b'},${probs[i]![0]},${probs[i]![1]}`)].join('\n'));
  const out: string[] = [];
  const code = await main(['label-audit', '--predictions', join(dir, 'oof.csv'), '--out', join(dir, 'review.csv'), '--rank-by', 'normalized-margin'], { out: (l) => out.push(l), err: () => {}, interactive: false });
  assert.equal(code, 0);
  const t = readCsv(join(dir, 'review.csv'));
  assert.deepEqual(t.header, ['rank', 'id', 'column', 'given_label', 'suggested_label', 'self_confidence', 'normalized_margin', 'score_a', 'score_b']);
  assert.ok(t.rows.length > 10);
  assert.match(out.join('\n'), /flagged for review/);
});
