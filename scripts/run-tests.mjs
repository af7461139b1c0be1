// Runs every test/**/*.test.ts under Node's built-in test runner (TypeScript through tsx).
// Node 20's `--test` has no glob support, so the file list is gathered here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// The numeric tests compare against Python reference implementations (scikit-learn, pydicom, …).
// On a fresh machine they are installed here, from test/requirements.txt, so `npm test` alone works.
function ensurePythonOracles() {
  const probe = spawnSync('python3', ['-c', 'import numpy, scipy, pandas, sklearn, statsmodels, fairlearn, onnxruntime, pydicom, pylibjpeg'], { stdio: 'ignore' });
  if (probe.error) {
    console.error('python3 not found: tests that compare against Python references will fail. Install Python 3 (see README).');
    return;
  }
  if (probe.status === 0) return;
  console.error('installing the Python reference oracles for the tests (test/requirements.txt)…');
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', join('test', 'requirements.txt')], { stdio: 'inherit' });
  if (pip.status !== 0) console.error('pip install failed: tests that compare against Python references will fail.');
}

const filter = process.argv.slice(2);
if (filter.length === 0) ensurePythonOracles();
let files = collect('test');
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
