/**
 * "Bring your own data", end to end as the README walks through it: the public covid-cxr-open
 * images with their own metadata.csv (own column names; images of varied size and format, some
 * .jpg files PNG inside) are split by patient, ingested, trained COVID-19 vs rest, scored, and
 * evaluated by sex. The AUROC overall and per sex is checked against scikit-learn on the same
 * predictions. Small images and few epochs keep it well under a minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { readCsv } from '../../src/util/csv.js';

const DATA = resolve('..', 'shared', 'data', 'covid-cxr-open');
const skip = existsSync(join(DATA, 'metadata.csv')) ? false : `needs ../shared/data/covid-cxr-open (${DATA}), absent here`;

function hasSklearn(): boolean {
  try {
    execFileSync('python3', ['-c', 'import sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function radml(argv: string[]): Promise<{ out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), interactive: false });
  assert.equal(code, 0, `radml ${argv.join(' ')} exited ${code}:\n${err.join('\n')}`);
  return { out: out.join('\n'), err: err.join('\n') };
}

interface GroupResult { n: number; n_positive: number; n_negative: number; auroc: { estimate: number | null } }

test('bring your own data: covid-cxr-open split, ingested, trained COVID-19 vs rest, predicted, evaluated by sex', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-byod-'));
  const split = join(dir, 'split.csv');
  const s = await radml(['split', '--manifest', join(DATA, 'metadata.csv'), '--image-root', 'images',
    '--columns', 'path=filename,label=finding,patient_id=patientid,site=location', '--positive', 'COVID-19', '-o', split]);
  assert.match(s.out, /101 records/);
  const rows = readCsv(split);
  assert.ok(rows.header.includes('label') && rows.header.includes('split') && !rows.header.includes('filename'));
  // A patient is on one side only.
  const sides = new Map<string, Set<string>>();
  for (const r of rows.rows) (sides.get(r['patient_id']!) ?? sides.set(r['patient_id']!, new Set()).get(r['patient_id']!)!).add(r['split']!);
  assert.ok([...sides.values()].every((v) => v.size === 1));

  const ds = join(dir, 'ds');
  const ing = await radml(['ingest', split, '-o', ds, '--image-size', '48']);
  assert.match(ing.out, /Ingested 101 image\(s\) at 48×48 .*skipped 0/);

  const model = join(dir, 'model');
  const tr = await radml(['train', '--data', ds, '--positive', 'COVID-19', '--image-size', '32', '--epochs', '3', '--threads', '1', '-o', model]);
  assert.match(tr.err, /one-vs-rest: "COVID-19" \(90 images\) against the 3 other classes \(ARDS, No Finding, Pneumocystis; 11 images\)/);
  assert.match(tr.out, /classes: not_COVID-19, COVID-19 \(positive: COVID-19\)/);
  const mj = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as { classes: string[]; positiveClass: string };
  assert.deepEqual(mj.classes, ['not_COVID-19', 'COVID-19']);
  // 9 negative patients over three splits: validation holds only a few, and the user is told.
  const valNeg = rows.rows.filter((r) => r['split'] === 'val' && r['label'] !== 'COVID-19').length;
  if (valNeg < 5) assert.match(tr.err, new RegExp(`validation split \\(\\d+ images\\) has only ${valNeg} "not_COVID-19"`));

  const preds = join(dir, 'preds.csv');
  await radml(['predict', '--model', model, '--data', ds, '-o', preds]);
  const p = readCsv(preds);
  assert.equal(p.rows.length, 101);
  assert.ok(p.header.includes('score_COVID-19') && p.header.includes('label') && p.header.includes('sex'));

  const evalDir = join(dir, 'eval');
  await radml(['evaluate', '--predictions', preds, '--positive', 'COVID-19', '--groups', 'sex', '--bootstrap', '200', '-o', evalDir]);
  const res = JSON.parse(readFileSync(join(evalDir, 'results.json'), 'utf8')) as {
    classes: Record<string, { n: number; auroc: { estimate: number | null }; groups: { sex: Record<string, GroupResult> } }>;
  };
  const c = res.classes['COVID-19']!;
  // The evaluated rows: the test split with a score (the out-of-distribution gate may blank some).
  const evaluated = p.rows.filter((r) => r['split'] === 'test' && (r['score_COVID-19'] ?? '') !== '');
  assert.equal(c.n, evaluated.length);
  assert.deepEqual(Object.keys(c.groups.sex).sort(), [...new Set(evaluated.map((r) => r['sex']).filter((x) => x))].sort());
  if (!hasSklearn()) {
    process.stdout.write('# scikit-learn is not importable: the AUROC oracle check is skipped\n');
    return;
  }
  const oracle = JSON.parse(execFileSync('python3', ['-c', `
import json, sys
from sklearn.metrics import roc_auc_score
rows = json.load(sys.stdin)
def auc(rs):
    y = [1 if r['label'] == 'COVID-19' else 0 for r in rs]
    return roc_auc_score(y, [float(r['score_COVID-19']) for r in rs]) if 0 < sum(y) < len(y) else None
out = {'all': auc(rows)}
for sex in sorted({r['sex'] for r in rows if r['sex']}):
    out[sex] = auc([r for r in rows if r['sex'] == sex])
print(json.dumps(out))
`], { input: JSON.stringify(evaluated) }).toString()) as Record<string, number | null>;
  const close = (a: number | null, b: number | null, what: string) => (a === null || b === null ? assert.equal(a, b, what) : assert.ok(Math.abs(a - b) < 1e-12, `${what}: radml ${a} vs sklearn ${b}`));
  close(c.auroc.estimate, oracle['all']!, 'AUROC');
  for (const [sex, g] of Object.entries(c.groups.sex)) close(g.n_positive > 0 && g.n_negative > 0 ? g.auroc.estimate : null, oracle[sex] ?? null, `AUROC sex=${sex}`);
  process.stdout.write(`# covid-cxr-open test split: AUROC ${c.auroc.estimate?.toFixed(3)} (n=${c.n}); ${Object.entries(c.groups.sex).map(([k, g]) => `${k}: n=${g.n} (${g.n_negative} neg) AUROC ${g.auroc.estimate?.toFixed(3) ?? 'n/a'}`).join('; ')}\n`);
});
