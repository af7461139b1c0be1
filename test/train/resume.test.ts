import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { checkpointPath, loadCheckpoint } from '../../src/train/checkpoint.js';
import { readModelJson } from '../../src/train/model-folder.js';
import { captureIO, tempDir, writeCategoricalCohort } from './helpers.js';

test('a training run killed after its first checkpoint resumes from the saved epoch', async () => {
  const dir = tempDir();
  try {
    const manifest = writeCategoricalCohort(dir, { n: 40, size: 16, split: true });
    const model = join(dir, 'model');
    const flags = ['--data', manifest, '--out', model, '--image-size', '16', '--epochs', '25', '--patience', '25', '--batch', '8', '--width', '4', '--threads', '1', '--seed', '2'];
    const child = spawn(process.execPath, [...process.execArgv, 'src/cli/main.ts', 'train', ...flags], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // SIGKILL (no chance to clean up) as soon as the first checkpoint is on disk.
    const ck = checkpointPath(model);
    const deadline = Date.now() + 60_000;
    while (!existsSync(ck) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    const saved = loadCheckpoint(model);
    assert.ok(saved, 'a checkpoint was written before the kill');
    assert.ok(saved.epoch >= 1 && saved.epoch < 25, `killed after epoch ${saved.epoch}`);
    assert.ok(!existsSync(join(model, 'model.json')), 'the killed run did not finish');

    // A changed result-defining option does not silently resume.
    const bad = captureIO();
    assert.equal(await main(['train', ...flags.map((f) => (f === '2' ? '3' : f)), '--resume'], bad.io), 1);
    assert.match(bad.err.join('\n'), /checkpoint was made with other options or data/);

    const io = captureIO();
    assert.equal(await main(['train', ...flags, '--resume'], io.io), 0, io.err.join('\n'));
    assert.match(io.err.join('\n'), new RegExp(`resuming from the checkpoint after epoch ${saved.epoch}`));
    const meta = readModelJson(model);
    const h = meta.training!.history;
    assert.equal(meta.training!.resumed, true);
    assert.deepEqual(h.map((r) => r.epoch), Array.from({ length: h.length }, (_, i) => i + 1), 'epochs continue without repeats');
    assert.equal(h.length, meta.training!.epochsRun);
    // The epochs run before the crash are kept verbatim, not re-run.
    assert.deepEqual(h.slice(0, saved.epoch), saved.history);
    assert.ok(meta.training!.epochsRun > saved.epoch);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
