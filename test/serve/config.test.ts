import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeConfig, readServeConfig } from '../../src/serve/config.js';

test('serve config: unknown keys are refused at every level, a missing file is "not found", a postgres:// store is kept as a URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-config-'));
  try {
    assert.throws(() => parseServeConfig({ stor: 'x.db' }, dir), (e: Error) => /CONFIG_INVALID|invalid serve configuration/.test(e.message) && /stor/.test(e.message));
    assert.throws(() => parseServeConfig({ worker: { concurency: 2 } }, dir), /worker.*concurency|concurency/);
    assert.throws(() => parseServeConfig({ orthanc: { url: 'http://127.0.0.1:8042', whatch: 'qido' } }, dir), /whatch/);
    assert.throws(() => readServeConfig(join(dir, 'nope.json')), (e: Error & { code?: string }) => e.code === 'CONFIG_NOT_FOUND' && /nope\.json: config file not found/.test(e.message));
    writeFileSync(join(dir, 'bad.json'), '{ "store": ');
    assert.throws(() => readServeConfig(join(dir, 'bad.json')), /not valid JSON/);
    const pg = parseServeConfig({ store: 'postgres://radml:pw@db.example:5432/radml' }, dir);
    assert.equal(pg.store, 'postgres://radml:pw@db.example:5432/radml');
    const sq = parseServeConfig({ store: 'var/radml.db' }, dir);
    assert.equal(sq.store, join(dir, 'var/radml.db'));
    const d = parseServeConfig({ orthanc: { url: 'http://127.0.0.1:8042' } }, dir);
    assert.equal(d.notAnalysedReport, true);
    assert.equal(d.orthanc!.probeMaxMs, 30_000);
    assert.equal(d.worker.studyWaitMaxMs, 24 * 3_600_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
