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
import { evaluationImages, overlayIds } from '../../src/explain/run.js';
import { isDegenerateMap, localisationSummary } from '../../src/explain/metrics.js';
import type { Dataset } from '../../src/data/dataset.js';

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
  assert.ok(readFileSync(join(out, 'saliency.csv'), 'utf8').startsWith('id,study_id,split,path,class,probability,mask_area,gradcam_pointing_hit'));
  // No split column in this dataset: every row was used, and the summary says so.
  assert.equal(summary.split, 'all rows');
  assert.ok(o.lines.some((l) => /note: toy has no split column/.test(l)), o.lines.join('\n'));
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

test('explain and stress use the held-out split by default and say so; overlays are named by the row they show', async () => {
  const ds = join(dir, 'ds-split');
  writeToyDataset(ds, toyData(120, 13), (i) => (i % 3 === 0 ? 'test' : i % 3 === 1 ? 'val' : 'train'));
  const out = join(dir, 'explain-split');
  const o = io();
  const args = parseCommandArgs(explainCmd, ['--model', join(dir, 'model'), '--data', ds, '--out', out, '--methods', 'occlusion', '--max-images', '10', '--sanity-images', '0']);
  assert.equal(await explainCmd.run(args, o), 0, o.lines.join('\n'));
  const summary = JSON.parse(readFileSync(join(out, 'explain.json'), 'utf8'));
  assert.equal(summary.split, 'test');
  assert.ok(o.lines.some((l) => /explained 10 images of split test/.test(l)));
  const csv = readFileSync(join(out, 'saliency.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(csv.length, 10);
  for (const [id, , split, path] of csv) {
    assert.equal(split, 'test');
    // Row n of the manifest (1-based) is image img<n-1>.png of the toy set: the file name and the image agree.
    const n = Number(/^row(\d+)$/.exec(id!)![1]);
    assert.equal(path, `img${n - 1}.png`);
    assert.ok(existsSync(join(out, 'overlays', `${id}_occlusion.png`)));
  }
  const so = io();
  const sargs = parseCommandArgs(stressCmd, ['--model', join(dir, 'model'), '--data', ds, '--out', join(dir, 'stress-split'), '--tests', 'corruptions', '--corruptions', 'blur', '--max-images', '200']);
  assert.equal(await stressCmd.run(sargs, so), 0, so.lines.join('\n'));
  const stress = JSON.parse(readFileSync(join(dir, 'stress-split', 'stress.json'), 'utf8'));
  assert.equal(stress.stress.split, 'test');
  assert.equal(stress.stress.images, 40, 'every third of 120 images is a test image');
  assert.ok(so.lines.some((l) => /stress test on 40 images of split test/.test(l)));
  // --split all and a split that is not there.
  const all = io();
  assert.equal(await stressCmd.run(parseCommandArgs(stressCmd, ['--model', join(dir, 'model'), '--data', ds, '--out', join(dir, 'stress-all'), '--tests', 'corruptions', '--corruptions', 'blur', '--split', 'all', '--max-images', '200']), all), 0);
  assert.equal(JSON.parse(readFileSync(join(dir, 'stress-all', 'stress.json'), 'utf8')).stress.images, 120);
  const bad = io();
  assert.notEqual(await stressCmd.run(parseCommandArgs(stressCmd, ['--model', join(dir, 'model'), '--data', ds, '--out', join(dir, 'stress-bad'), '--tests', 'corruptions', '--split', 'holdout']), bad).catch((e: Error) => { bad.lines.push(e.message); return 2; }), 0);
  assert.ok(bad.lines.some((l) => /--split "holdout" matches no row .*splits present: test, train, val/.test(l)), bad.lines.join('\n'));
});

test('split choice, overlay ids and flat maps', () => {
  const recs = [{ index: 0, split: 'train' }, { index: 1, split: 'val' }, { index: 2, split: 'val' }];
  assert.deepEqual(evaluationImages(recs), { indices: [1, 2], split: 'val', note: null });
  assert.deepEqual(evaluationImages([{ index: 0 }, { index: 1 }]).indices, [0, 1]);
  assert.match(evaluationImages([{ index: 0, split: 'train' }]).note!, /only train rows/);
  const manifest = { records: [
    { index: 0, studyId: 'ST00001' }, { index: 85, studyId: 'ST00086' }, { index: 86, studyId: 'ST00087' },
    { index: 3, studyId: 'a/b c' }, { index: 4, studyId: 'DUP' }, { index: 5, studyId: 'DUP' }, { index: 6 },
  ] } as unknown as Dataset['manifest'];
  const ids = overlayIds({ manifest });
  assert.equal(ids[86], 'ST00087', 'the overlay of row index 86 is named by its own study id');
  assert.equal(ids[85], 'ST00086');
  assert.equal(ids[3], 'a_b_c');
  assert.deepEqual([ids[4], ids[5]], ['DUP_row00005', 'DUP_row00006']);
  assert.equal(ids[6], 'row00007');
  // A flat map (all zero) is counted apart; the real one is scored.
  const mask = new Uint8Array(16); mask[5] = 1;
  const good = new Float32Array(16); good[5] = 2;
  assert.equal(isDegenerateMap(new Float32Array(16)), true);
  assert.equal(isDegenerateMap(good), false);
  assert.equal(isDegenerateMap(Float32Array.from([1, NaN])), true);
  const maps = new Float32Array(32); maps.set(good, 16);
  const masks = new Uint8Array(32); masks.set(mask, 0); masks.set(mask, 16);
  const sum = localisationSummary(maps, masks, 4, 4);
  assert.equal(sum.images, 1);
  assert.equal(sum.degenerate, 1);
  assert.equal(sum.pointingHitRate, 1);
});
