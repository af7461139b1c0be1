/**
 * `radml split` on a CSV with its own column names (the mapping ingest uses), written elsewhere with
 * its image paths still pointing at the images, and on a dataset folder in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { readDataset } from '../../src/data/dataset.js';
import { readCsv } from '../../src/util/csv.js';
import { tempDir, writeCategoricalCohort } from '../train/helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

test('split --columns reads a CSV with its own names; paths are rewritten for the copy\'s folder', async () => {
  const dir = tempDir('radml-split-');
  const cohort = writeCategoricalCohort(join(dir, 'data'), { n: 40, size: 16 });
  // Rewrite it with the user's own names, image paths relative to data/, the table in meta/.
  const rows = readFileSync(cohort, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  mkdirSync(join(dir, 'meta'));
  const own = join(dir, 'meta', 'metadata.csv');
  writeFileSync(own, ['filename,finding,patientid,sex', ...rows.map(([p, l, pid], i) => `${p},${l === 'abnormal' ? 'COVID-19' : i % 4 ? 'No Finding' : 'ARDS'},${pid},${i % 2 ? 'M' : 'F'}`)].join('\n') + '\n');

  const bad = capture();
  assert.equal(await main(['split', '--manifest', own, '-o', join(dir, 'x.csv')], bad.io), 1);
  assert.match(bad.err.join('\n'), /needs a "path" column/);

  const out = join(dir, 'work', 'split.csv');
  const c = capture();
  assert.equal(await main(['split', '--manifest', own, '--image-root', '../data', '--columns', 'path=filename,label=finding,patient_id=patientid', '--positive', 'COVID-19', '-o', out, '--seed', '3'], c.io), 0, c.err.join('\n'));
  const t = readCsv(out);
  assert.deepEqual(t.header, ['path', 'label', 'patient_id', 'sex', 'split']);
  for (const r of t.rows) assert.ok(existsSync(resolve(dirname(out), r['path']!)), r['path']);
  // Stratified on COVID-19 vs rest, by patient: both sides in every bin, no patient split.
  for (const bin of ['train', 'val', 'test']) {
    const labels = new Set(t.rows.filter((r) => r['split'] === bin).map((r) => (r['label'] === 'COVID-19' ? 'pos' : 'neg')));
    assert.deepEqual([...labels].sort(), ['neg', 'pos'], bin);
  }
  const side = new Map<string, string>();
  for (const r of t.rows) assert.equal(side.get(r['patient_id']!) ?? (side.set(r['patient_id']!, r['split']!), r['split']), r['split']);
  assert.match(c.out.join('\n'), /split × class\s+COVID-19\s+not_COVID-19/);

  // A dataset folder is split in place through its index.csv, and training then uses that split.
  const ds = join(dir, 'ds');
  assert.equal(await main(['ingest', cohort, '-o', ds, '--image-size', '16'], capture().io), 0);
  const c2 = capture();
  assert.equal(await main(['split', '--manifest', ds, '-o', join(ds, 'index.csv')], c2.io), 0, c2.err.join('\n'));
  const back = readDataset(ds);
  assert.equal(back.manifest.records.length, 40);
  assert.ok(back.manifest.records.every((r) => r.split !== undefined && existsSync(r.absPath)));
  const c3 = capture();
  assert.equal(await main(['split', '--manifest', ds, '--columns', 'path=x', '-o', join(dir, 'y.csv')], c3.io), 2);
  assert.match(c3.err.join('\n'), /--columns and --image-root apply to a CSV/);
});
