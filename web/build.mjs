// Builds the dashboard: web/src/main.tsx (Preact + uPlot) bundled and minified by esbuild into
// web/dist/assets/app.js and app.css, with web/index.html beside them. Everything is bundled: the
// service runs offline, so nothing is fetched from a CDN.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const r = await build({
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  outdir: join(out, 'assets'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
// The bundled libraries' licences (MIT) travel with the bundle.
const licences = ['preact', 'uplot'].map((name) => {
  const dir = join(here, '..', 'node_modules', name);
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].map((f) => join(dir, f)).find((f) => existsSync(f));
  return `${name}\n\n${file ? readFileSync(file, 'utf8') : 'MIT (see its package)'}`;
});
writeFileSync(join(out, 'assets', 'THIRD-PARTY-LICENSES.txt'), licences.join('\n\n----\n\n'));
const sizes = Object.entries(r.metafile.outputs).filter(([f]) => /\.(js|css)$/.test(f)).map(([f, o]) => `${f.split('/').pop()} ${(o.bytes / 1024).toFixed(1)} kB`);
if (!process.argv.includes('--quiet')) console.log(`web/dist: ${sizes.join(', ')}`);
