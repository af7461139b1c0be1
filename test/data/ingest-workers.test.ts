/** Ingest with decoder worker threads gives the same dataset as on the calling thread, bad files included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingest } from '../../src/data/ingest/index.js';
import { fixtures, encodeFixture } from './dicom/fixtures.js';

test('ingest with 2 worker threads equals ingest on the main thread (pixels, header columns, skipped files)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ingest-workers-'));
  try {
    let k = 0;
    for (const f of fixtures()) for (const e of f.encodings) writeFileSync(join(dir, `img${String(k++).padStart(3, '0')}_${f.name}.${e}.dcm`), encodeFixture(f, e));
    writeFileSync(join(dir, 'zz_truncated.dcm'), encodeFixture(fixtures()[0]!, 'explicit-le').subarray(0, 300));
    const inThread = await ingest(dir, { imageSize: 16, workers: 0 });
    const pooled = await ingest(dir, { imageSize: 16, workers: 2 });
    assert.ok(inThread.dataset.meta.count >= 80);
    assert.equal(pooled.dataset.meta.count, inThread.dataset.meta.count);
    assert.deepEqual(pooled.dataset.pixels, inThread.dataset.pixels);
    assert.deepEqual(pooled.dataset.manifest.header, inThread.dataset.manifest.header);
    assert.deepEqual(pooled.dataset.manifest.records.map((r) => r.columns), inThread.dataset.manifest.records.map((r) => r.columns));
    assert.deepEqual(pooled.skipped, inThread.skipped);
    assert.equal(pooled.skipped.length, 1);
    assert.match(pooled.skipped[0]!.reason, /truncated/);
    await assert.rejects(ingest(dir, { imageSize: 16, workers: -1 }), /workers must be a whole number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
