/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh project, and
 * `import { loadModel } from 'radml'` there — at run time (scores a PNG with a model folder, equal
 * to the in-repo Predictor's) and at type-check time (the `types` entry resolves). The fresh
 * project's node_modules start as a hard-linked copy of this repository's, so npm installs only
 * radml itself, offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { loadModel } from '../../src/index.js';
import { makeModelFolder } from '../serve/fixtures.js';

const ROOT = resolve('.');
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const built = existsSync(join(ROOT, 'dist', 'src', 'index.js')) && existsSync(join(ROOT, 'dist', 'src', 'index.d.ts'));
const skip = npm.status !== 0 ? 'npm is not available' : !built ? 'dist/src/index.js is missing: run `npm run build` (npm test builds first)' : false;

function pngBytes(size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    const v = Math.round(128 + 100 * Math.sin(i / 9));
    png.data[i * 4] = png.data[i * 4 + 1] = png.data[i * 4 + 2] = v;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

test('npm pack + install: `import { loadModel } from "radml"` works from another package', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-pack-'));
  try {
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(pack.status, 0, pack.stderr);
    const info = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('bin/radml.js'));
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || /^src\/.*\.ts$/.test(f)), 'the compiled library, its launcher and data files are packed; no sources or tests');
    const tgz = join(dir, info[0]!.filename);

    const app = join(dir, 'app');
    mkdirSync(app);
    // Hard links: a copy of 400+ MB in well under a second (same file system as this repository).
    const cp = spawnSync('cp', ['-al', join(ROOT, 'node_modules'), join(app, 'node_modules')], { encoding: 'utf8' });
    if (cp.status !== 0) {
      t.skip(`cannot hard-link node_modules into ${tmpdir()} (${cp.stderr.trim()}); an online install would be needed`);
      return;
    }
    // npm's record of the copied tree would describe this repository's install, not the app's.
    if (existsSync(join(app, 'node_modules', '.package-lock.json'))) unlinkSync(join(app, 'node_modules', '.package-lock.json'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'radml-consumer', version: '1.0.0', private: true, type: 'module' }));
    const inst = spawnSync('npm', ['install', '--no-save', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tgz], { cwd: app, encoding: 'utf8' });
    assert.equal(inst.status, 0, inst.stderr);
    assert.ok(readdirSync(join(app, 'node_modules', 'radml', 'dist', 'src')).includes('index.js'));

    const model = makeModelFolder(join(dir, 'model'), 3, { size: 24 });
    const image = join(dir, 'image.png');
    writeFileSync(image, pngBytes(40));
    writeFileSync(join(app, 'run.mjs'), `
import { loadModel, Predictor, ImageClassifier, evaluatePredictions, applyCalibration } from 'radml';
const model = await loadModel(process.argv[2]);
const p = await model.predict(process.argv[3]);
console.log(JSON.stringify({ predictor: model instanceof Predictor, p, api: [ImageClassifier, evaluatePredictions, applyCalibration].map((f) => typeof f) }));
await model.release();
`);
    const run = spawnSync(process.execPath, ['run.mjs', model, image], { cwd: app, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { predictor: boolean; p: { scores: Record<string, number>; rejected: boolean }; api: string[] };
    assert.equal(out.predictor, true);
    assert.deepEqual(out.api, ['function', 'function', 'function']);
    assert.equal(out.p.rejected, false);
    const here = await loadModel(model);
    try {
      const ref = await here.predict(image);
      for (const c of here.classes) assert.ok(Math.abs(out.p.scores[c]! - ref.scores[c]!) < 1e-7, `${c}: installed ${out.p.scores[c]} vs source ${ref.scores[c]}`);
    } finally {
      await here.release();
    }

    // Types: a TypeScript consumer resolves `radml` through package.json "exports"/"types".
    writeFileSync(join(app, 'check.ts'), `
import { loadModel, type Prediction } from 'radml';
const model = await loadModel('model');
const p: Prediction = await model.predict('image.dcm');
const many: Prediction[] = await model.predict(['a.dcm', 'b.png']);
const s: number | undefined = p.scores['pneumonia'];
// @ts-expect-error a single prediction is not an array
const wrong: Prediction[] = await model.predict('x.png');
export { s, many, wrong };
`);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'check.ts'], { cwd: app, encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
