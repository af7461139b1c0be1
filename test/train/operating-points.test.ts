import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFolder, readModelJson, saveOperatingPoints } from '../../src/train/index.js';
import { readOperatingPoint } from '../../src/serve/runner.js';
import { makeModelFolder } from '../serve/fixtures.js';

test('operating points recorded in model.json keep the artefact hashes valid and reach the service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-op-'));
  try {
    const modelDir = makeModelFolder(join(dir, 'model'));
    const classes = readModelJson(modelDir).classes;
    const thresholds = Object.fromEntries(classes.map((c, i) => [c, 0.25 + 0.1 * i]));
    saveOperatingPoints(modelDir, thresholds, 'min_cost (split = val)');
    const { meta } = loadModelFolder(modelDir); // verifies every artefact's SHA-256
    assert.deepEqual(meta.operatingPoints, thresholds);
    assert.equal(meta.operatingPointRule, 'min_cost (split = val)');
    assert.deepEqual(readOperatingPoint(modelDir, meta), { thresholds, rule: 'min_cost (split = val)' });
    assert.throws(() => saveOperatingPoints(modelDir, { NotAClass: 0.5 }, 'x'), /not one of the model's classes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
