/**
 * DeLong interval, paired DeLong test and stratified bootstrap interval against R's pROC, run in the
 * same test (Rscript). DeLong to 1e-9; bootstrap within Monte-Carlo error (different random streams).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Rng } from '../../src/util/rng.js';
import { aurocDelong } from '../../src/evaluate/discrimination.js';
import { pairedDelong } from '../../src/evaluate/compare.js';
import { bootstrapAuroc } from '../../src/evaluate/bootstrap.js';
import { delongComponents, delongVariance, rankScores } from '../../src/evaluate/ranking.js';
import { rscript } from './helpers.js';

const hasR = spawnSync('Rscript', ['-e', 'library(pROC)'], { encoding: 'utf8' }).status === 0;

const R_SCRIPT = String.raw`
suppressMessages(library(pROC))
d <- read.csv(file("stdin"))
out <- c()
for (k in unique(d$case)) {
  x <- d[d$case == k, ]
  r1 <- roc(x$y, x$a, levels = c(0, 1), direction = "<", quiet = TRUE)
  r2 <- roc(x$y, x$b, levels = c(0, 1), direction = "<", quiet = TRUE)
  ci1 <- ci.auc(r1, method = "delong")
  v1 <- var(r1, method = "delong")
  t <- roc.test(r1, r2, method = "delong", paired = TRUE)
  set.seed(1)
  cb <- ci.auc(r1, method = "bootstrap", boot.n = 2000, boot.stratified = TRUE, progress = "none")
  out <- c(out, sprintf("%s %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g", k, ci1[1], ci1[2], ci1[3], v1, t$statistic, t$p.value, cb[1], cb[3]))
}
cat(out, sep = "\n")
`;

function makeCase(rng: Rng, n: number, decimals?: number) {
  const y: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) {
    const pos = rng.bernoulli(0.35) ? 1 : 0;
    const z = rng.normal() + 1.1 * pos;
    let pa = 1 / (1 + Math.exp(-z));
    let pb = 1 / (1 + Math.exp(-(0.7 * z + 0.8 * rng.normal())));
    if (decimals !== undefined) {
      pa = Number(pa.toFixed(decimals));
      pb = Number(pb.toFixed(decimals));
    }
    y.push(pos);
    a.push(pa);
    b.push(pb);
  }
  return { y, a, b };
}

test('DeLong CI, paired DeLong test and bootstrap CI match pROC', { skip: hasR ? false : 'needs Rscript with the pROC package' }, () => {
  const rng = new Rng(7);
  const cases = { random: makeCase(rng, 300), tied: makeCase(rng, 250, 1), small: makeCase(rng, 24, 2) };
  const lines = ['case,y,a,b'];
  for (const [k, c] of Object.entries(cases)) c.y.forEach((y, i) => lines.push(`${k},${y},${c.a[i]},${c.b[i]}`));
  const out = rscript(R_SCRIPT, lines.join('\n') + '\n');
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/));
  assert.equal(rows.length, 3);
  for (const row of rows) {
    const [k, lo, auc, hi, v, z, p, blo, bhi] = [row[0]!, ...row.slice(1).map(Number)] as [string, ...number[]];
    const c = cases[k as keyof typeof cases];
    const ours = aurocDelong(c.a, c.y);
    const tol = 1e-9;
    assert.ok(Math.abs(ours.estimate! - auc!) < tol, `${k}: AUROC ${ours.estimate} vs pROC ${auc}`);
    assert.ok(Math.abs(ours.ci95![0] - lo!) < tol && Math.abs(ours.ci95![1] - hi!) < tol, `${k}: DeLong CI ${ours.ci95} vs pROC ${lo}, ${hi}`);
    const variance = delongVariance(delongComponents(rankScores(c.a, c.y)));
    assert.ok(Math.abs(variance - v!) < 1e-12, `${k}: DeLong variance ${variance} vs pROC ${v}`);
    const t = pairedDelong(c.a, c.b, c.y);
    assert.ok(Math.abs(t.z! - z!) < 1e-7, `${k}: paired DeLong z ${t.z} vs pROC ${z}`);
    assert.ok(Math.abs(t.p_value! - p!) < 1e-9, `${k}: paired DeLong p ${t.p_value} vs pROC ${p}`);
    // Bootstrap percentile limits differ only by Monte-Carlo error: about se·0.05 for 2000 resamples; allow a generous 0.25·se + 0.005.
    const boot = bootstrapAuroc(rankScores(c.a, c.y), { resamples: 2000, seed: 3 });
    const mc = 0.25 * ours.se! + 0.005;
    assert.ok(Math.abs(boot.aurocCi[0] - blo!) < mc, `${k}: bootstrap lower ${boot.aurocCi[0]} vs pROC ${blo} (tolerance ${mc})`);
    assert.ok(Math.abs(boot.aurocCi[1] - bhi!) < mc, `${k}: bootstrap upper ${boot.aurocCi[1]} vs pROC ${bhi} (tolerance ${mc})`);
  }
});
