/** Batch de-identification: keyed consistency, intact references, byte-identical pixels, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deidentifyFiles } from '../../src/deid/run.js';
import { elementText, findElement, parsePart10, textValue, type Element } from '../../src/deid/part10.js';
import { readCsv } from '../../src/util/csv.js';
import { KEY, part10, smallImage } from './helpers.js';

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `radml-deid-${prefix}-`));
}

/** Two studies of one patient (a CR and an SR-like instance that references it) and another patient. */
function writeCohort(dir: string): void {
  mkdirSync(join(dir, 'in'), { recursive: true });
  const a = smallImage({ patientId: 'MRN0001', study: '1.2.3.1', series: '1.2.3.1.1', sop: '1.2.3.1.1.1', date: '20200315' });
  const ref: Element = {
    tag: 0x00081140,
    vr: 'SQ',
    items: [[{ tag: 0x00081150, vr: 'UI', value: textValue('1.2.840.10008.5.1.4.1.1.1') }, { tag: 0x00081155, vr: 'UI', value: textValue('1.2.3.1.1.1') }]],
  };
  const b = smallImage({ patientId: 'MRN0001', study: '1.2.3.2', series: '1.2.3.2.1', sop: '1.2.3.2.1.1', date: '20200325', extra: [ref] });
  const c = smallImage({ patientId: 'MRN0002', study: '1.2.3.3', series: '1.2.3.3.1', sop: '1.2.3.3.1.1', date: '20200315' });
  writeFileSync(join(dir, 'in', 'Doe_Jane_first.dcm'), part10(a));
  writeFileSync(join(dir, 'in', 'Doe_Jane_second.dcm'), part10(b, '1.2.840.10008.1.2'));
  writeFileSync(join(dir, 'in', 'Roe_Richard.dcm'), part10(c, '1.2.840.10008.1.2.1.99'));
  // A truncated file: the batch must report it by name and carry on.
  writeFileSync(join(dir, 'in', 'broken.dcm'), part10(a).subarray(0, 400));
  writeFileSync(join(dir, 'in', 'manifest.csv'), 'path,patient_id,study_id,sex,age,mask_path\nDoe_Jane_first.dcm,MRN0001,A1,F,50,m.png\nDoe_Jane_second.dcm,MRN0001,A2,F,50,m.png\nRoe_Richard.dcm,MRN0002,B1,M,61,m.png\nbroken.dcm,MRN0003,C1,M,40,m.png\n');
}

function outputs(out: string): Map<string, ReturnType<typeof parsePart10>> {
  const m = new Map<string, ReturnType<typeof parsePart10>>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.dcm')) m.set(p, parsePart10(readFileSync(p), p));
    }
  };
  walk(join(out, 'dicom'));
  return m;
}

const text = (f: ReturnType<typeof parsePart10>, tag: number) => elementText(findElement(f.dataset, tag));

test('same key → same UIDs, pseudonyms and date shifts; another key → different; references and intervals survive', async () => {
  const dir = tmp('consistency');
  writeCohort(dir);
  const run = (out: string, key: Buffer) => deidentifyFiles({ input: join(dir, 'in', 'manifest.csv'), out: join(dir, out), key, options: ['retain-longitudinal-dates'], checkPixels: false });
  const s1 = await run('a', KEY);
  await run('b', KEY);
  await run('c', Buffer.from('another key, also 32 bytes long!!'));
  assert.equal(s1.written, 3);
  assert.equal(s1.skipped.length, 1);
  assert.equal(s1.skipped[0]!.file, 'broken.dcm');
  assert.match(s1.skipped[0]!.reason, /broken\.dcm: truncated/);
  const o1 = [...outputs(join(dir, 'a')).values()];
  const o2 = [...outputs(join(dir, 'b')).values()];
  const o3 = [...outputs(join(dir, 'c')).values()];
  const key = (f: ReturnType<typeof parsePart10>) => `${text(f, 0x00080018)}|${text(f, 0x0020000d)}|${text(f, 0x00100020)}|${text(f, 0x00080020)}`;
  assert.deepEqual(o1.map(key).sort(), o2.map(key).sort(), 'two runs with one key agree');
  const uids1 = new Set(o1.map((f) => text(f, 0x00080018)));
  assert.ok(o3.every((f) => !uids1.has(text(f, 0x00080018))), 'another key gives other UIDs');
  // References: the second study's Referenced Image Sequence points at the first study's new SOP UID.
  const second = o1.find((f) => findElement(f.dataset, 0x00081140))!;
  const refUid = elementText(findElement(findElement(second.dataset, 0x00081140)!.items![0]!, 0x00081155));
  const target = o1.find((f) => text(f, 0x00080018) === refUid);
  assert.ok(target, 'the referenced instance exists among the outputs under its new UID');
  assert.equal(text(target, 0x00100020), text(second, 0x00100020), 'one patient, one pseudonym');
  assert.match(text(second, 0x00100020)!, /^RADML-[A-Z2-7]{16}$/);
  // Dates shifted per patient: the 10-day interval between the two studies survives; the date does not.
  const d = (f: ReturnType<typeof parsePart10>) => Date.UTC(+text(f, 0x00080020)!.slice(0, 4), +text(f, 0x00080020)!.slice(4, 6) - 1, +text(f, 0x00080020)!.slice(6, 8));
  assert.equal((d(second) - d(target)) / 86_400_000, 10);
  assert.notEqual(text(target, 0x00080020), '20200315');
  // Transfer syntaxes are kept: implicit VR and deflated inputs come out as they went in.
  assert.deepEqual(o1.map((f) => f.transferSyntaxUid).sort(), ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99']);
  // Private attributes and their creators are gone.
  assert.ok(o1.every((f) => f.dataset.every((e) => ((e.tag >>> 16) & 1) === 0)));
  // The manifest: new paths, pseudonymised ids, characteristics dropped without the option, file paths dropped.
  const m = readCsv(join(dir, 'a', 'manifest.csv'));
  assert.equal(m.rows.length, 3);
  assert.deepEqual(m.header, ['path', 'patient_id', 'study_id', 'sex', 'age']);
  assert.ok(m.rows.every((r) => r['patient_id']!.startsWith('RADML-') && r['sex'] === '' && r['age'] === ''));
  assert.equal(new Set(m.rows.map((r) => r['patient_id'])).size, 2);
  assert.ok(m.rows.every((r) => o1.some((f) => r['path']!.endsWith(`${text(f, 0x00080018)}.dcm`))));
  // The change log never carries an original value, and names no source file.
  const log = readFileSync(join(dir, 'a', 'deid-log.csv'), 'utf8');
  for (const secret of ['MRN0001', 'Doe', 'Jane', '20200315', 'Elsewhere', '1.2.3.1.1.1', 'Roe_Richard']) assert.ok(!log.includes(secret), `log leaks ${secret}`);
  assert.match(log, /PatientName,Z \(keyed pseudonym\)/);
});

test('pixel data is byte-identical; blackout changes only the configured box and says so', async () => {
  const dir = tmp('pixels');
  mkdirSync(join(dir, 'in'));
  const px = Uint16Array.from({ length: 64 * 64 }, (_, i) => 100 + (i % 4000));
  writeFileSync(join(dir, 'in', 'a.dcm'), part10(smallImage({ patientId: 'P1', study: '1.9.1', series: '1.9.1.1', sop: '1.9.1.1.1', pixels: px })));
  const s = await deidentifyFiles({ input: join(dir, 'in'), out: join(dir, 'out'), key: KEY, checkPixels: false });
  assert.equal(s.written, 1);
  const [f] = [...outputs(join(dir, 'out')).values()];
  const got = findElement(f!.dataset, 0x7fe00010)!.value!;
  assert.ok(Buffer.from(got).equals(Buffer.from(px.buffer)), 'Pixel Data unchanged');

  const s2 = await deidentifyFiles({ input: join(dir, 'in'), out: join(dir, 'out2'), key: KEY, checkPixels: false, blackout: { rules: [{ manufacturer: 'ACME', boxes: [[0, 0, 10, 5]] }] } });
  assert.equal(s2.pixelCleaned, 1);
  const [g] = [...outputs(join(dir, 'out2')).values()];
  const v = findElement(g!.dataset, 0x7fe00010)!.value!;
  const out = new Uint16Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) assert.equal(out[y * 64 + x], x < 10 && y < 5 ? 0 : px[y * 64 + x], `pixel ${x},${y}`);
  assert.equal(elementText(findElement(g!.dataset, 0x00280301)), 'NO');
  const codes = findElement(g!.dataset, 0x00120064)!.items!.map((it) => elementText(findElement(it, 0x00080100)));
  assert.ok(codes.includes('113101'), 'Clean Pixel Data Option recorded');
});

test('a folder without a key gets a new 0600 key file that links a later run', async () => {
  const dir = tmp('key');
  writeCohort(dir);
  const s = await deidentifyFiles({ input: join(dir, 'in'), out: join(dir, 'a'), checkPixels: false });
  assert.ok(s.keyFile);
  assert.equal(statSync(s.keyFile).mode & 0o777, 0o600);
  const { readKeyFile } = await import('../../src/deid/pseudonyms.js');
  const again = await deidentifyFiles({ input: join(dir, 'in'), out: join(dir, 'b'), key: readKeyFile(s.keyFile).key, checkPixels: false });
  const uids = (o: string) => [...outputs(o).values()].map((f) => text(f, 0x00080018)).sort();
  assert.deepEqual(uids(join(dir, 'a')), uids(join(dir, 'b')));
  assert.equal(again.keyFingerprint, s.keyFingerprint);
  // Source file names (which carry patient names) are not used for outputs.
  assert.ok([...outputs(join(dir, 'a')).keys()].every((p) => !/Doe|Roe/.test(p)));
});

test('CLI: deidentify-reports rewrites the text columns; a bad option is named', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = tmp('cli');
  const input = join(dir, 'reports.csv');
  writeFileSync(input, 'id,findings,impression\nA1,"Called to Dr. Ann Lee on 01/02/2021. No pneumothorax.",Normal.\n');
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), interactive: false };
  assert.equal(await main(['deidentify-reports', '--in', input, '--out', join(dir, 'out.csv')], io), 0);
  const out = readCsv(join(dir, 'out.csv'));
  assert.equal(out.rows[0]!['findings'], 'Called to Dr. [NAME] on [DATE]. No pneumothorax.');
  assert.equal(out.rows[0]!['id'], 'A1');
  lines.length = 0;
  writeCohort(dir);
  assert.equal(await main(['deidentify', join(dir, 'in'), '--out', join(dir, 'o'), '--options', 'retain-everything'], io), 2);
  assert.match(lines.join('\n'), /unknown de-identification option "retain-everything"/);
});

test('ingest --deidentify: the dataset index carries the same pseudonyms as radml deidentify', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = tmp('ingest');
  writeCohort(dir);
  const keyFile = join(dir, 'site.key');
  writeFileSync(keyFile, KEY.toString('utf8'), { mode: 0o600 });
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), interactive: false };
  writeFileSync(join(dir, 'in', 'ingest.csv'), 'path,patient_id,study_id,label\nDoe_Jane_first.dcm,MRN0001,A1,normal\nDoe_Jane_second.dcm,MRN0001,A2,abnormal\nRoe_Richard.dcm,MRN0002,B1,normal\n');
  assert.equal(await main(['ingest', join(dir, 'in', 'ingest.csv'), '-o', join(dir, 'ds'), '--image-size', '32', '--deidentify', '--key-file', keyFile], io), 0, lines.join('\n'));
  const index = readCsv(join(dir, 'ds', 'index.csv'));
  const text = readFileSync(join(dir, 'ds', 'index.csv'), 'utf8') + readFileSync(join(dir, 'ds', 'summary.json'), 'utf8') + readFileSync(join(dir, 'ds', 'dataset.json'), 'utf8');
  assert.equal(index.rows.length, 3);
  for (const secret of ['MRN0001', 'Doe_Jane', 'Roe_Richard', '1.2.3.1.1.1', 'ingest.csv']) assert.ok(!text.includes(secret), `dataset leaks ${secret}`);
  await deidentifyFiles({ input: join(dir, 'in', 'manifest.csv'), out: join(dir, 'deid'), key: KEY, checkPixels: false });
  const files = [...outputs(join(dir, 'deid')).values()];
  for (const r of index.rows) {
    const f = files.find((g) => text_(g, 0x00080018) === r['sop_uid']);
    assert.ok(f, `index row ${r['sop_uid']} matches a de-identified file`);
    assert.equal(r['patient_id'], text_(f, 0x00100020));
    assert.equal(r['study_uid'], text_(f, 0x0020000d));
  }
});
const text_ = (f: ReturnType<typeof parsePart10>, tag: number) => elementText(findElement(f.dataset, tag));

test("the service's predictions export, given the site key, names images as radml deidentify does", async () => {
  const { exportPredictionsCsv } = await import('../../src/serve/export.js');
  const { makePseudonymiser } = await import('../../src/deid/pseudonyms.js');
  const { parseCsv } = await import('../../src/util/csv.js');
  const dir = tmp('export');
  writeCohort(dir);
  await deidentifyFiles({ input: join(dir, 'in'), out: join(dir, 'deid'), key: KEY, checkPixels: false });
  const p = { id: 1, studyUid: '1.2.3.1', seriesUid: '1.2.3.1.1', sopUid: '1.2.3.1.1.1', modelName: 'cxr', modelVersion: 1, scores: { Effusion: 0.7 }, decisions: {}, silent: false, columns: {}, createdAt: 0 };
  const csv = exportPredictionsCsv({ name: 'cxr', version: 1, classes: ['Effusion'], labelKind: 'multilabel', positiveClass: null }, [p], [], (s) => `st-${s.length}`, undefined, makePseudonymiser(KEY));
  const row = parseCsv(csv).rows[0]!;
  assert.ok(existsSync(join(dir, 'deid', row['path']!)), `${row['path']} is a file of the de-identified set`);
  assert.ok(!csv.includes('1.2.3.1'), 'no source UID in the export');
});
