// CLI round trip for `radml split` (kept beside the splits tests, which this helper owns).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import type { CommandIO } from '../../../src/cli/lib/command.js';
import { readCsv } from '../../../src/util/csv.js';

function capture(): CommandIO & { outText: string[]; errText: string[] } {
  const outText: string[] = [];
  const errText: string[] = [];
  return { out: (l) => outText.push(l), err: (l) => errText.push(l), interactive: false, outText, errText };
}

test('radml split: holdout, kfold and loso round trip through CSV files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-split-'));
  try {
    const lines = ['path,patient_id,label,site,comment'];
    for (let p = 0; p < 40; p++) for (let s = 0; s < 1 + (p % 3); s++) {
      lines.push(`img/${p}_${s}.png,P${p},${p % 4 === 0 ? 'pneumonia' : 'normal'},${p % 2 ? 'north' : 'south'},"says ""hi"", ok"`);
    }
    const manifest = join(dir, 'm.csv');
    writeFileSync(manifest, lines.join('\n') + '\n');
    const out = join(dir, 'out', 'split.csv');

    let io = capture();
    assert.equal(await main(['split', '--manifest', manifest, '--out', out, '--seed', '3'], io), 0, io.errText.join('\n'));
    const t = readCsv(out);
    assert.deepEqual(t.header, ['path', 'patient_id', 'label', 'site', 'comment', 'split']);
    assert.equal(t.rows.length, lines.length - 1);
    assert.ok(t.rows.every((r) => r['comment'] === 'says "hi", ok' && ['train', 'val', 'test'].includes(r['split']!)));
    const byPatient = new Map<string, string>();
    for (const r of t.rows) {
      const prev = byPatient.get(r['patient_id']!);
      if (prev) assert.equal(prev, r['split']);
      byPatient.set(r['patient_id']!, r['split']!);
    }
    const text = io.outText.join('\n');
    assert.match(text, /split × class/);
    assert.match(text, /split × site/);
    assert.match(text, /pneumonia/);
    assert.doesNotMatch(text + io.errText.join('\n'), /P\d+/, 'no patient IDs in the output');

    // Running again on the split manifest keeps its split; --force reshuffles with a new seed.
    io = capture();
    const again = join(dir, 'again.csv');
    assert.equal(await main(['split', '--manifest', out, '--out', again, '--seed', '9'], io), 0);
    assert.deepEqual(readCsv(again).rows.map((r) => r['split']), t.rows.map((r) => r['split']));
    assert.match(io.errText.join('\n'), /kept the split/);
    io = capture();
    assert.equal(await main(['split', '--manifest', out, '--out', again, '--seed', '9', '--force', '--fractions', '0.5,0.25,0.25'], io), 0);
    assert.notDeepEqual(readCsv(again).rows.map((r) => r['split']), t.rows.map((r) => r['split']));

    io = capture();
    const folds = join(dir, 'folds.csv');
    assert.equal(await main(['split', '--manifest', manifest, '--out', folds, '--method', 'kfold', '--folds', '4'], io), 0);
    const f = readCsv(folds);
    assert.equal(f.header.at(-1), 'fold');
    assert.deepEqual([...new Set(f.rows.map((r) => r['fold']))].sort(), ['0', '1', '2', '3']);

    io = capture();
    const loso = join(dir, 'loso.csv');
    assert.equal(await main(['split', '--manifest', manifest, '--out', loso, '--method', 'loso'], io), 0);
    assert.ok(readCsv(loso).rows.every((r) => r['fold'] === r['site']));
    assert.match(io.outText.join('\n'), /held-out site × class/);

    io = capture();
    assert.equal(await main(['split', '--help'], io), 0);
    assert.match(io.outText.join('\n'), /--fractions/);
    io = capture();
    assert.equal(await main(['split', '--manifest', manifest, '--out', out, '--method', 'random'], io), 2);
    assert.match(io.errText.join('\n'), /holdout, kfold or loso/);
    io = capture();
    assert.equal(await main(['split', '--manifest', manifest, '--out', out, '--fractions', '0.7,0.3'], io), 2);
    io = capture();
    assert.equal(await main(['split', '--manifest', join(dir, 'missing.csv'), '--out', out], io), 1);
    assert.match(io.errText.join('\n'), /missing\.csv/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
