/** Shared fixtures for the federated tests: the pinned Flower virtualenv and a tiny two-site cohort. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { Rng } from '../../src/util/rng.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const FLWR_VERSION = '1.42.0';
export const FLWR_VENV = join(REPO, '.venv-flwr');
export const FLWR_PYTHON = join(FLWR_VENV, 'bin', 'python');

/**
 * The project's Flower virtualenv (`.venv-flwr`, flwr pinned), created on first use. Returns a
 * reason to skip when it cannot be made (no python3 venv, no network to PyPI).
 */
export function ensureFlwrVenv(): string | undefined {
  const check = (): boolean => existsSync(FLWR_PYTHON) && spawnSync(FLWR_PYTHON, ['-c', `import flwr, numpy; assert flwr.__version__ == "${FLWR_VERSION}"`], { stdio: 'ignore' }).status === 0;
  if (check()) return undefined;
  // flock serialises concurrent test files (and helpers) building the same virtualenv.
  const script = `[ -x "${FLWR_PYTHON}" ] || python3 -m venv "${FLWR_VENV}"; "${FLWR_PYTHON}" -m pip install -q --disable-pip-version-check flwr==${FLWR_VERSION}`;
  const r = spawnSync('flock', ['/tmp/radml-flwr-venv.lock', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 600_000 });
  if (r.error || r.status !== 0 || !check()) return `could not create ${FLWR_VENV} with flwr==${FLWR_VERSION} from PyPI (${(r.stderr ?? String(r.error)).trim().split('\n').pop()})`;
  return undefined;
}

function blob(size: number, cx: number, cy: number, rng: Rng, contrast: number, offset: number): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d2 = (x - cx) ** 2 + (y - cy) ** 2;
      const v = offset + contrast * Math.exp(-d2 / (2 * (size / 6) ** 2)) + rng.normal(0, 0.05);
      const g = Math.max(0, Math.min(255, Math.round(v * 255)));
      const o = (y * size + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/**
 * A binary cohort (`abnormal` = blob on the right) over `sites` sites with different contrast and
 * brightness; one manifest for all (`all.csv`, with a site column) and one per site (`<site>.csv`).
 * Every 4th image is `val`. Patient ids and paths are distinctive strings, so a test can look for
 * them in anything that leaves a site.
 */
export function writeSiteCohort(dir: string, opts: { perSite?: number; size?: number; sites?: number; seed?: number } = {}): { all: string; sites: string[] } {
  const per = opts.perSite ?? 48;
  const size = opts.size ?? 16;
  const k = opts.sites ?? 2;
  const rng = new Rng(opts.seed ?? 5);
  mkdirSync(join(dir, 'img'), { recursive: true });
  const header = 'path,label,patient_id,site,split';
  const all = [header];
  const sites: string[] = [];
  for (let s = 0; s < k; s++) {
    const name = `site${String.fromCharCode(65 + s)}`;
    const lines = [header];
    for (let i = 0; i < per; i++) {
      // Balanced in both splits (every 4th image is val): i % 8 in 4..7 is abnormal.
      const abnormal = (i + s * 4) % 8 >= 4;
      const cx = (abnormal ? 0.72 : 0.28) * size + rng.uniform(-1, 1);
      const file = `img/${name}-im${i}.png`;
      writeFileSync(join(dir, file), blob(size, cx, size / 2 + rng.uniform(-2, 2), rng, 0.6 - 0.15 * s, 0.25 + 0.1 * s));
      const row = [file, abnormal ? 'abnormal' : 'normal', `PHI-${name}-PT${1000 + i}`, name, i % 4 === 3 ? 'val' : 'train'].join(',');
      lines.push(row);
      all.push(row);
    }
    const m = join(dir, `${name}.csv`);
    writeFileSync(m, lines.join('\n') + '\n');
    sites.push(m);
  }
  const a = join(dir, 'all.csv');
  writeFileSync(a, all.join('\n') + '\n');
  return { all: a, sites };
}
