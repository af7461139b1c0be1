import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { readManifest } from '../../../src/data/manifest.js';
import { FINDINGS, generateCohort, renderStudy, sampleCohort, siteProfiles } from '../../../src/data/synth/index.js';
import { InputError } from '../../../src/util/errors.js';
import { readCsv } from '../../../src/util/csv.js';

const haveDcmdump = spawnSync('dcmdump', ['--version']).status === 0;
const havePydicom = spawnSync('python3', ['-c', 'import pydicom, numpy']).status === 0;
const N = 40;
let root = '';
let a = '';
let b = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'radml-synth-'));
  a = join(root, 'a');
  b = join(root, 'b');
  await generateCohort({ out: a, n: N, sites: 4, seed: 1 });
  await generateCohort({ out: b, n: N, sites: 4, seed: 1 });
});

after(() => rmSync(root, { recursive: true, force: true }));

const read = (dir: string, rel: string) => readFileSync(join(dir, rel));

test('same seed gives byte-identical files; another seed gives different ones', async () => {
  for (const rel of ['manifest.csv', 'manifest-png.csv', 'reports.csv', 'readers.csv', 'cohort.json', 'dicom/ST00001.dcm', 'dicom/ST00040.dcm', 'png/ST00007.png', 'masks/ST00007.png']) {
    assert.ok(read(a, rel).equals(read(b, rel)), `${rel} differs between two runs with seed 1`);
  }
  const names = (d: string) => readdirSync(join(d, 'masks')).sort();
  assert.deepEqual(names(a), names(b));
  const c = join(root, 'c');
  await generateCohort({ out: c, n: 12, sites: 4, seed: 2 });
  assert.ok(!read(a, 'dicom/ST00001.dcm').equals(read(c, 'dicom/ST00001.dcm')));
  assert.ok(!read(a, 'png/ST00001.png').equals(read(c, 'png/ST00001.png')));
  const head = (d: string) => readFileSync(join(d, 'manifest.csv'), 'utf8').split('\n').slice(0, 13).join('\n');
  assert.notEqual(head(a), head(c));
});

test('readManifest accepts manifest.csv and manifest-png.csv with the five findings', () => {
  for (const file of ['manifest.csv', 'manifest-png.csv']) {
    const m = readManifest(join(a, file));
    assert.equal(m.labelKind, 'multilabel');
    assert.deepEqual([...m.classes].sort(), [...FINDINGS].sort());
    assert.equal(m.records.length, N);
    for (const r of m.records) {
      assert.ok(existsSync(r.absPath), r.path);
      assert.ok(existsSync(join(a, r.columns['mask_path']!)), r.columns['mask_path']);
      assert.ok(r.patientId && r.studyId && r.site && r.sex && r.view && r.manufacturer && r.age !== undefined);
    }
    assert.ok(new Set(m.records.map((r) => r.site)).size >= 3);
  }
  const rows = readCsv(join(a, 'manifest.csv')).rows;
  assert.ok(rows.every((r) => r['path']!.startsWith('dicom/') && r['path']!.endsWith('.dcm')));
  assert.deepEqual(readCsv(join(a, 'manifest.csv')).header, ['path', 'patient_id', 'study_id', 'site', 'sex', 'age', 'view', 'manufacturer', 'mask_path', ...FINDINGS]);
});

test('masks: every present finding has a non-empty mask, the union covers it, normals are empty', async () => {
  const rows = readCsv(join(a, 'manifest.csv')).rows;
  let checked = 0;
  for (const r of rows) {
    const union = PNG.sync.read(read(a, r['mask_path']!));
    assert.equal(union.width, 256);
    const u = union.data; // RGBA 8-bit
    const present = FINDINGS.filter((f) => r[f] === '1');
    for (const f of FINDINGS) {
      const rel = `masks/${r['study_id']}_${f}.png`;
      assert.equal(existsSync(join(a, rel)), present.includes(f), rel);
    }
    for (const f of present) {
      const m = PNG.sync.read(read(a, `masks/${r['study_id']}_${f}.png`));
      let inside = 0;
      for (let i = 0; i < m.width * m.height; i++) {
        if (m.data[i * 4]! > 0) {
          inside++;
          assert.equal(u[i * 4], 255, `${f} pixel outside the union mask`);
        }
      }
      assert.ok(inside > 0, `${r['study_id']} ${f}: empty mask`);
      checked++;
    }
    if (present.length === 0) assert.ok(!u.some((v, i) => i % 4 === 0 && v !== 0), `${r['study_id']}: normal study with a non-empty mask`);
  }
  assert.ok(checked > 5, `only ${checked} finding masks in the test cohort`);
  const meta = await sharp(join(a, 'masks/ST00001.png')).metadata();
  assert.equal(meta.channels, 1);
  assert.equal(meta.depth, 'uchar');
});

test('PNG is 16-bit grey MONOCHROME2 and equals the rendered image', async () => {
  const sites = siteProfiles(4, 1);
  const studies = sampleCohort({ n: N, seed: 1, sites });
  const mono1 = studies.find((s) => sites[s.siteIndex]!.photometric === 'MONOCHROME1')!;
  for (const s of [studies[0]!, mono1]) {
    const meta = await sharp(join(a, 'png', `${s.studyId}.png`)).metadata();
    assert.equal(meta.depth, 'ushort');
    assert.equal(meta.channels, 1);
    const png = PNG.sync.read(read(a, `png/${s.studyId}.png`), { skipRescale: true });
    const data = png.data as unknown as Uint16Array;
    const r = renderStudy(s, sites[s.siteIndex]!, 256);
    for (let i = 0; i < 256 * 256; i += 97) assert.equal(data[i * 4], Math.round((r.acquired.mono2[i]! * 65535) / r.acquired.maxValue));
    // MONOCHROME2 orientation: the mediastinum (centre) is brighter than the lung fields.
    const at = (x: number, y: number) => r.image.data[y * 256 + x]!;
    assert.ok(at(128, 110) > at(70, 100) + 0.1, 'mediastinum brighter than the right lung');
  }
});

test('dcmdump reads a generated DICOM without warnings and shows the expected tags', { skip: haveDcmdump ? false : 'dcmdump (Debian dcmtk) is not installed' }, () => {
  const manifest = readCsv(join(a, 'manifest.csv')).rows;
  for (const row of [manifest[0]!, manifest.find((r) => r['site'] !== manifest[0]!['site'])!]) {
    const r = spawnSync('dcmdump', ['-M', join(a, row['path']!)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `dcmdump warnings: ${r.stderr}`);
    const out = r.stdout;
    assert.match(out, /\(0002,0000\) UL \d+/);
    assert.match(out, /\(0002,0010\) UI =LittleEndianExplicit/);
    assert.match(out, /\(0008,0016\) UI =(ComputedRadiographyImageStorage|DigitalXRayImageStorageForPresentation)/);
    assert.match(out, new RegExp(`\\(0010,0020\\) LO \\[${row['patient_id']}\\]`));
    assert.match(out, new RegExp(`\\(0010,0040\\) CS \\[${row['sex']}\\]`));
    assert.match(out, new RegExp(`\\(0010,1010\\) AS \\[${String(row['age']).padStart(3, '0')}Y\\]`));
    assert.match(out, /\(0010,0010\) PN \[SYNTH\^\d+\]/);
    assert.match(out, /\(0018,0015\) CS \[CHEST\]/);
    assert.match(out, new RegExp(`\\(0018,5101\\) CS \\[${row['view']}\\]`));
    assert.match(out, new RegExp(`\\(0008,0070\\) LO \\[${row['manufacturer']}\\]`));
    assert.match(out, new RegExp(`\\(0008,0080\\) LO \\[${row['site']}\\]`));
    assert.match(out, /\(0008,0060\) CS \[(CR|DX)\]/);
    assert.match(out, /\(0028,0004\) CS \[MONOCHROME[12]\]/);
    assert.match(out, /\(0028,0100\) US 16/);
    assert.match(out, /\(0028,0101\) US (12|16)/);
    assert.match(out, /\(0028,0103\) US 0/);
    for (const t of ['0020,000d', '0020,000e', '0008,0018']) assert.match(out, new RegExp(`\\(${t}\\) UI \\[2\\.25\\.\\d+\\]`));
    for (const t of ['0008,0020', '0028,0010', '0028,0011', '0028,0102', '0028,1050', '0028,1051', '0028,1052', '0028,1053', '0028,0030', '7fe0,0010']) assert.match(out, new RegExp(`\\(${t}\\)`));
  }
});

test('pydicom reads the generated DICOM pixels as the site stored them', { skip: havePydicom ? false : 'python3 with pydicom and numpy is not available' }, () => {
  const sites = siteProfiles(4, 1);
  const studies = sampleCohort({ n: N, seed: 1, sites });
  const picks = [studies.find((s) => sites[s.siteIndex]!.photometric === 'MONOCHROME1')!, studies.find((s) => sites[s.siteIndex]!.photometric === 'MONOCHROME2')!];
  const py = `
import json, sys, pydicom
out = []
for f in sys.argv[1:]:
    ds = pydicom.dcmread(f)
    a = ds.pixel_array.astype(int)
    out.append({"pi": ds.PhotometricInterpretation, "bits": int(ds.BitsStored), "sum": int(a.sum()), "max": int(a.max()), "shape": list(a.shape), "slope": float(ds.RescaleSlope)})
print(json.dumps(out))`;
  const r = spawnSync('python3', ['-c', py, ...picks.map((s) => join(a, 'dicom', `${s.studyId}.dcm`))], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { pi: string; bits: number; sum: number; max: number; shape: number[]; slope: number }[];
  picks.forEach((s, k) => {
    const site = sites[s.siteIndex]!;
    const rendered = renderStudy(s, site, 256);
    assert.equal(got[k]!.pi, site.photometric);
    assert.equal(got[k]!.bits, site.bitsStored);
    assert.equal(got[k]!.slope, site.rescaleSlope);
    assert.deepEqual(got[k]!.shape, [256, 256]);
    assert.equal(got[k]!.sum, rendered.acquired.stored.reduce((x, y) => x + y, 0));
    assert.ok(got[k]!.max < 2 ** site.bitsStored);
  });
});

test('refuses a non-empty folder that is not a synth output; reruns into its own output and prunes stale files', async () => {
  const foreign = join(root, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(generateCohort({ out: foreign, n: 5, sites: 2, seed: 1 }), (e: unknown) => e instanceof InputError && e.code === 'SYNTH_OUT_NOT_EMPTY' && e.message.includes(foreign));
  assert.deepEqual(readdirSync(foreign), ['notes.txt']);
  await assert.rejects(generateCohort({ out: join(root, 'x'), n: 0, sites: 4, seed: 1 }), /n must be/);

  const again = join(root, 'again');
  await generateCohort({ out: again, n: 8, sites: 2, seed: 3 });
  assert.ok(existsSync(join(again, 'dicom', 'ST00008.dcm')));
  const res = await generateCohort({ out: again, n: 5, sites: 2, seed: 3, images: true });
  assert.equal(res.n, 5);
  assert.ok(!existsSync(join(again, 'dicom', 'ST00008.dcm')), 'stale study file of the earlier run is removed');
  assert.ok(!readdirSync(join(again, 'masks')).some((f) => f.startsWith('ST00008')));
  assert.equal(readCsv(join(again, 'manifest.csv')).rows.length, 5);
  const cohort = JSON.parse(readFileSync(join(again, 'cohort.json'), 'utf8')) as { generator: string; n: number; sites: unknown[] };
  assert.equal(cohort.generator, 'radml-synth');
  assert.equal(cohort.sites.length, 2);
});

test('reports.csv and readers.csv cover every study; cohort.json records the truth', () => {
  const reports = readCsv(join(a, 'reports.csv'));
  assert.deepEqual(reports.header, ['id', 'findings', 'impression']);
  assert.equal(reports.rows.length, N);
  assert.ok(reports.rows.every((r) => r['findings']!.length > 10 && r['impression']!.length > 3));
  const readers = readCsv(join(a, 'readers.csv'));
  assert.deepEqual(readers.header, ['id', 'reader', ...FINDINGS]);
  const perStudy = new Map<string, number>();
  for (const r of readers.rows) perStudy.set(r['id']!, (perStudy.get(r['id']!) ?? 0) + 1);
  assert.equal(perStudy.size, N);
  const readerCount = new Set(readers.rows.map((r) => r['reader'])).size;
  assert.ok(readerCount >= 3 && readerCount <= 5);
  assert.ok([...perStudy.values()].every((c) => c === readerCount));
  const cohort = JSON.parse(readFileSync(join(a, 'cohort.json'), 'utf8')) as Record<string, unknown> & { sites: { name: string; photometric: string; bitsStored: number; distinctPrevalence: boolean }[]; readers: unknown[]; distinctSite: string };
  assert.equal(cohort['seed'], 1);
  assert.equal(cohort['n'], N);
  assert.equal(cohort['version'], '1.0.0');
  assert.equal(cohort.sites.length, 4);
  assert.equal(cohort.distinctSite, 'site_D');
  assert.deepEqual(new Set(cohort.sites.map((s) => s.photometric)), new Set(['MONOCHROME1', 'MONOCHROME2']));
  assert.deepEqual(new Set(cohort.sites.map((s) => s.bitsStored)), new Set([12, 16]));
  assert.equal(cohort.readers.length, readerCount);
  assert.ok(cohort['prevalenceBySite'] && cohort['prevalence'] && cohort['counts']);
});

test('radml synth (CLI) writes a cohort, prints the prevalence table, and rejects bad flags', async () => {
  const { main } = await import('../../../src/cli/main.js');
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false };
  const dir = join(root, 'cli');
  assert.equal(await main(['synth', '--out', dir, '--n', '6', '--sites', '2', '--seed', '7', '--size', '96'], io), 0, err.join('\n'));
  assert.match(out.join('\n'), /wrote 6 studies/);
  assert.match(out.join('\n'), /site_B\*/);
  assert.equal(readCsv(join(dir, 'manifest.csv')).rows.length, 6);
  assert.ok(err.some((l) => l.includes('synth images')), 'progress is reported');
  assert.equal(await main(['synth', '--out', dir, '--n', 'many'], io), 2);
  assert.equal(await main(['synth', '--n', '5'], io), 2);
});

test('dcmtk renders MONOCHROME1 and MONOCHROME2 files with bright mediastinum and dark lungs (window + photometric agree)', { skip: spawnSync('dcmj2pnm', ['--version']).status === 0 ? false : 'dcmj2pnm (Debian dcmtk) is not installed' }, () => {
  const sites = siteProfiles(4, 1);
  const studies = sampleCohort({ n: N, seed: 1, sites });
  const picks = [...new Set(sites.map((s) => `${s.photometric}/${s.rescaleSlope}/${s.bitsStored}`))].map((key) => studies.find((s) => { const x = sites[s.siteIndex]!; return `${x.photometric}/${x.rescaleSlope}/${x.bitsStored}` === key; })).filter((s) => s !== undefined);
  assert.ok(picks.length >= 3);
  for (const s of picks) {
    const out = join(root, `${s.studyId}.pgm`);
    const r = spawnSync('dcmj2pnm', ['--use-window', '1', join(a, 'dicom', `${s.studyId}.dcm`), out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const pgm = readFileSync(out);
    const header = pgm.subarray(0, 32).toString('latin1').split(/\s+/);
    assert.equal(header[0], 'P5');
    const [w, , max] = [Number(header[1]), Number(header[2]), Number(header[3])];
    assert.equal(max, 255);
    const body = pgm.subarray(pgm.length - w * w);
    // Mean over small boxes: mediastinum at the centre, the right lung a third of the way in.
    const box = (cx: number, cy: number) => {
      let sum = 0;
      for (let y = cy - 4; y <= cy + 4; y++) for (let x = cx - 4; x <= cx + 4; x++) sum += body[y * w + x]!;
      return sum / 81;
    };
    const mediastinum = box(Math.round(w * s.anatomy.cx), Math.round(w * 0.4));
    const lung = box(Math.round(w * (s.anatomy.cx - 0.22)), Math.round(w * 0.4));
    assert.ok(mediastinum > lung + 30, `${sites[s.siteIndex]!.name} ${sites[s.siteIndex]!.photometric}: mediastinum ${mediastinum} vs lung ${lung}`);
  }
});

test('worker threads produce byte-identical output to the single-threaded run', async () => {
  const w = join(root, 'workers');
  await generateCohort({ out: w, n: N, sites: 4, seed: 1, workers: 2 });
  const list = (d: string) => ['dicom', 'png', 'masks'].flatMap((sub) => readdirSync(join(d, sub)).map((f) => `${sub}/${f}`)).sort();
  assert.deepEqual(list(w), list(a));
  for (const rel of [...list(a), 'manifest.csv', 'reports.csv', 'readers.csv', 'cohort.json']) assert.ok(read(a, rel).equals(read(w, rel)), rel);
});
