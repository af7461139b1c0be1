/**
 * `radml federate simulate` end to end on a tiny three-site cohort: a complete model folder
 * (predictable), federation.json with per-round records, baselines; partitions keep patients
 * together; a sign-flipped site breaks FedAvg but not the median.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, writeSiteCohort } from './helpers.js';
import { loadOrIngest } from '../../src/data/ingest/index.js';
import { partitionRows, sampleDirichlet } from '../../src/federated/partition.js';
import { simulateFederation } from '../../src/federated/simulate.js';
import { parseTrainOptions } from '../../src/train/options.js';
import { loadModelFolder } from '../../src/train/model-folder.js';
import { Rng } from '../../src/util/rng.js';

test('simulate writes a model folder and federation.json; the model predicts', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-sim-'));
  const { all } = writeSiteCohort(dir, { perSite: 32, size: 16, sites: 3 });
  const out = join(dir, 'fed');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'federate', 'simulate', '--data', all, '--site-column', 'site', '--rounds', '3',
    '--local-epochs', '1', '--strategy', 'fedprox', '--image-size', '16', '--width', '4', '--batch', '16', '--threads', '1', '--dp-clip', '5', '--dp-noise', '0.5', '--out', out], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /federated \(fedprox, mean\) [01]\.\d{4}; pooled [01]\.\d{4}; local-only [01]\.\d{4}/);
  const { meta } = loadModelFolder(out);
  assert.ok(meta.artefacts['params.bin'] && meta.artefacts['federation.json']);
  assert.equal((meta.federation as { strategy: string }).strategy, 'fedprox');
  const fed = JSON.parse(readFileSync(join(out, 'federation.json'), 'utf8')) as { rounds: { round: number; epsilon: number; sites: { site: string; bytesSent: number; examples: number }[] }[] };
  assert.equal(fed.rounds.length, 3);
  assert.deepEqual(fed.rounds[0]!.sites.map((s) => s.site), ['siteA', 'siteB', 'siteC']);
  assert.ok(fed.rounds[0]!.sites.every((s) => s.bytesSent > 1000 && s.examples > 0));
  // ε grows with rounds (composition).
  assert.ok(fed.rounds[2]!.epsilon > fed.rounds[0]!.epsilon && fed.rounds[0]!.epsilon > 0);
  const p = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'predict', '--model', out, '--data', all, '--out', join(dir, 'p.csv'), '--threads', '1', '--no-ood-gate'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
});

test('Dirichlet and quantity partitions keep each patient on one site and cover every row', () => {
  const rng = new Rng('d');
  const p = sampleDirichlet(5, 0.3, rng);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12 && p.every((x) => x >= 0));
  const records = Array.from({ length: 200 }, (_, i) => ({ patientId: `P${Math.floor(i / 2)}`, columns: {} })) as never[];
  const rows = Array.from({ length: 200 }, (_, i) => i);
  for (const spec of [{ kind: 'dirichlet', sites: 4, alpha: 0.2 }, { kind: 'quantity', sites: 4, alpha: 1 }] as const) {
    const part = partitionRows(records, rows, spec, (i) => String(i % 3 === 0 ? 1 : 0), 1);
    assert.equal(part.rows.flat().length, 200);
    assert.equal(new Set(part.rows.flat()).size, 200);
    for (const r of part.rows) for (const i of r) assert.ok(r.includes(i % 2 === 0 ? i + 1 : i - 1), `patient of row ${i} split across sites`);
  }
});

test('one sign-flipped site: FedAvg collapses, coordinate median stays useful', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-poison-'));
  const { all } = writeSiteCohort(dir, { perSite: 40, size: 16, sites: 5, seed: 9 });
  const { dataset } = await loadOrIngest(all, { imageSize: 16 });
  const train = parseTrainOptions({ imageSize: 16, width: 4, batch: 16, threads: 1, seed: 2, augment: false, lr: 3e-3 });
  const run = (rule: 'mean' | 'median') => simulateFederation(dataset, {
    train, partition: { kind: 'column', column: 'site' }, rounds: 4, localEpochs: 1, strategy: 'fedavg', aggregation: { rule }, baselines: false,
    poison: { site: 'siteC', kind: 'sign-flip', factor: 8 },
  });
  const mean = await run('mean');
  const median = await run('median');
  assert.ok(median.federated.pooledAuroc! > 0.8, `median AUROC ${median.federated.pooledAuroc}`);
  // A diverged FedAvg model has no AUROC (null): count it as chance.
  const meanAuc = mean.federated.pooledAuroc ?? 0.5;
  assert.ok(median.federated.pooledAuroc! - meanAuc > 0.15, `mean ${mean.federated.pooledAuroc} vs median ${median.federated.pooledAuroc}`);
});
