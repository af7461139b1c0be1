import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { command as explainCmd } from '../../src/cli/explain.js';
import { command as stressCmd } from '../../src/cli/stress.js';
import { parseCommandArgs, type CommandIO } from '../../src/cli/lib/command.js';
import { mapToOriginal, npyBytes } from '../../src/explain/output.js';
import { saliencySection } from '../../src/explain/report.js';
import { robustnessSection } from '../../src/robustness/report.js';
import { toyData, trainToy, writeToyDataset, writeToyModel } from '../robustness/toy.js';

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'radml-explain-cli-'));
  const { graph, params } = await trainToy(3, 120);
  writeToyModel(join(dir, 'model'), graph, params);
  writeToyDataset(join(dir, 'ds'), toyData(120, 12));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function io(): CommandIO & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`), interactive: false };
}

test('.npy maps load in numpy with the same values; pad geometry is undone for overlays', () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);
  const file = join(dir, 'a.npy');
  writeFileSync(file, npyBytes(data, [3, 4]));
  const r = spawnSync('python3', ['-c', `import numpy as np,json; a=np.load('${file}'); print(json.dumps([list(a.shape), str(a.dtype), a.ravel().tolist()]))`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [shape, dtype, values] = JSON.parse(r.stdout);
  assert.deepEqual(shape, [3, 4]);
  assert.equal(dtype, 'float32');
  assert.deepEqual(values, Array.from(data));
  // An 8×4 (w×h) image padded into a 4×4 square occupies rows 1..2; the map's row 1 is the image's top.
  const map = new Float32Array(16);
  map.fill(5, 4, 12);
  const back = mapToOriginal(map, 4, 8, 4, 'pad');
  assert.equal(back.length, 32);
  assert.ok(back.every((v) => Math.abs(v - 5) < 1e-6));
});


test('radml explain writes overlays, .npy maps, saliency.csv and explain.json with localisation and sanity results', async () => {
  const out = join(dir, 'explain');
  const args = parseCommandArgs(explainCmd, ['--model', join(dir, 'model'), '--data', join(dir, 'ds'), '--out', out, '--methods', 'gradcam,ig,occlusion', '--layer', 'block0.relu', '--max-images', '6', '--steps', '8', '--sanity-images', '2', '--target', 'present']);
  const o = io();
  assert.equal(await explainCmd.run(args, o), 0, o.lines.join('\n'));
  const files = readdirSync(join(out, 'overlays'));
  assert.equal(files.length, 18);
  const meta = await sharp(join(out, 'overlays', files[0]!)).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(readdirSync(join(out, 'maps')).length, 18);
  const summary = JSON.parse(readFileSync(join(out, 'explain.json'), 'utf8'));
  assert.ok(summary.localisation.gradcam.pointingHitRate > summary.localisation.gradcam.chanceHitRate);
  assert.ok('gradcam' in summary.sanity && 'ig' in summary.sanity);
  assert.ok(readFileSync(join(out, 'saliency.csv'), 'utf8').startsWith('id,path,class,probability,mask_area,gradcam_pointing_hit'));
  assert.ok(o.lines.some((l) => l.includes('pointing game')));
  // The report section renders from explain.json (ctx.extras.saliency).
  const html = saliencySection.render({ results: {} as never, extras: { saliency: summary } })!;
  assert.match(html, /pointing game/);
  assert.match(html, /Randomisation sanity test/);
  assert.equal(saliencySection.render({ results: {} as never }), null);
});

test('radml stress runs corruptions, the OOD gate (saved next to the model) and the poisoning screen', async () => {
  const out = join(dir, 'stress');
  const args = parseCommandArgs(stressCmd, ['--model', join(dir, 'model'), '--data', join(dir, 'ds'), '--out', out, '--tests', 'corruptions,ood,poisoning', '--corruptions', 'blur,gamma', '--max-images', '40', '--save-ood']);
  const o = io();
  assert.equal(await stressCmd.run(args, o), 0, o.lines.join('\n'));
  const r = JSON.parse(readFileSync(join(out, 'stress.json'), 'utf8'));
  assert.deepEqual(r.stress.curves.map((c: { name: string }) => c.name), ['blur', 'gamma']);
  assert.ok(r.ood.heldOutAccepted >= 0.9);
  assert.ok(existsSync(join(dir, 'model', 'ood.json')));
  assert.equal(r.poisoning.count, 120);
  assert.ok(readFileSync(join(out, 'stress.html'), 'utf8').includes('<svg'));
  assert.match(robustnessSection.render({ results: {} as never, extras: { robustness: r } })!, /Out-of-distribution gate/);
  // Bad flags are typed errors.
  await assert.rejects(stressCmd.run(parseCommandArgs(stressCmd, ['--model', join(dir, 'model'), '--data', join(dir, 'ds'), '--out', out, '--tests', 'magic']), io()), /unknown test "magic"/);
});
