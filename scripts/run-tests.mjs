// Runs every test/**/*.test.ts under Node's built-in test runner (TypeScript through tsx).
// Node 20's `--test` has no glob support, so the file list is gathered here.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
// They run from a project virtualenv (.venv, created here from test/requirements.txt on first use) so
// `npm test` never installs into the system Python; its bin/ goes first on PATH for every test.
const venv = resolve('.venv');
const venvBin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin');
const venvPython = join(venvBin, 'python3');
const ORACLES = 'import numpy, scipy, pandas, sklearn, statsmodels, fairlearn, onnxruntime, pydicom, pylibjpeg';

function ensurePythonOracles() {
  if (!existsSync(venvPython)) {
    const mk = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    if (mk.error || mk.status !== 0) {
      console.error('could not create the test virtualenv (.venv): tests that compare against Python references will fail. Install Python 3 with venv (see README).');
      return;
    }
  }
  if (spawnSync(venvPython, ['-c', ORACLES], { stdio: 'ignore' }).status === 0) return;
  console.error('installing the Python reference oracles into .venv (test/requirements.txt)…');
  const pip = spawnSync(venvPython, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', join('test', 'requirements.txt')], { stdio: 'inherit' });
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
const env = existsSync(venvPython) ? { ...process.env, PATH: `${venvBin}:${process.env.PATH ?? ''}`, VIRTUAL_ENV: venv } : process.env;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
