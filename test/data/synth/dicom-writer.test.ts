// Tests of src/data/dicom/writer.ts (kept here with the synth tests: the writer's owner owns test/data/synth/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { type DicomElement, EXPLICIT_VR_LITTLE_ENDIAN, formatDS, parseTag, uidFromName, writeDicom } from '../../../src/data/dicom/writer.js';
import { InputError } from '../../../src/util/errors.js';

const SC = '1.2.840.10008.5.1.4.1.1.7'; // Secondary Capture Image Storage
const ODD_UID = '1.2.840.99999.1.1';
const haveDcmdump = spawnSync('dcmdump', ['--version']).status === 0;
const havePydicom = spawnSync('python3', ['-c', 'import pydicom']).status === 0;

function sample(): DicomElement[] {
  const pixels = new Uint16Array(5 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = i * 1000 + 7;
  return [
    { tag: 0x00080016, vr: 'UI', value: SC },
    { tag: 0x00080018, vr: 'UI', value: ODD_UID }, // 17 characters → NUL pad
    { tag: 0x00080060, vr: 'CS', value: 'OT' },
    { tag: 0x00080008, vr: 'CS', value: ['DERIVED', 'SECONDARY'] },
    { tag: '(0010,0010)', vr: 'PN', value: 'SYNTH^ABC' }, // 9 characters → space pad
    { tag: '00100020', vr: 'LO', value: 'P1' },
    { tag: 0x00101010, vr: 'AS', value: '045Y' },
    { tag: 0x00080020, vr: 'DA', value: '20200102' },
    { tag: 0x00280030, vr: 'DS', value: [0.139, 1 / 3] },
    { tag: 0x00200013, vr: 'IS', value: 12 },
    { tag: 0x00181164, vr: 'DS', value: '0.2\\0.2' },
    { tag: 0x00204000, vr: 'LT', value: 'line one\r\nback\\slash kept in LT' },
    { tag: 0x00189004, vr: 'CS', value: 'PRODUCT' },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: 3 },
    { tag: 0x00280011, vr: 'US', value: 5 },
    { tag: 0x00280100, vr: 'US', value: 16 },
    { tag: 0x00280101, vr: 'US', value: 16 },
    { tag: 0x00280102, vr: 'US', value: 15 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x00281041, vr: 'SS', value: -1 },
    { tag: 0x00189219, vr: 'SL', value: [-5, 70000] },
    { tag: 0x00189327, vr: 'FD', value: 2.5 },
    { tag: 0x00209165, vr: 'AT', value: [0x00100020, '(0020,000D)'] },
    { tag: 0x00091010, vr: 'OB', value: new Uint8Array([1, 2, 3]) }, // private, odd → 0x00 pad
    {
      tag: 0x0040a730, // ContentSequence: nested, two items, one empty
      vr: 'SQ',
      value: [
        [
          { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
          { tag: 0x0040a160, vr: 'UT', value: 'Findings text, odd' },
          {
            tag: 0x0040a043,
            vr: 'SQ',
            value: [[{ tag: 0x00080100, vr: 'SH', value: '121071' }, { tag: 0x00080102, vr: 'SH', value: 'DCM' }, { tag: 0x00080104, vr: 'LO', value: 'Finding' }]],
          },
        ],
        [],
      ],
    },
    { tag: 0x7fe00010, vr: 'OW', value: pixels },
  ];
}

function parse(bytes: Uint8Array) {
  return dicomParser.parseDicom(bytes);
}

test('writeDicom output round-trips through dicom-parser: meta group, text, numbers, pixels', () => {
  const bytes = writeDicom(sample());
  assert.equal(Buffer.from(bytes.subarray(128, 132)).toString('latin1'), 'DICM');
  const ds = parse(bytes);
  // File Meta group and its length
  assert.equal(ds.string('x00020010'), EXPLICIT_VR_LITTLE_ENDIAN);
  assert.equal(ds.string('x00020002'), SC);
  assert.equal(ds.string('x00020003'), ODD_UID);
  const groupLength = ds.uint32('x00020000')!;
  const firstDataset = ds.elements['x00080008']!.dataOffset - 8; // CS short header
  assert.equal(132 + 12 + groupLength, firstDataset);
  assert.equal(ds.string('x00100010'), 'SYNTH^ABC');
  assert.equal(ds.string('x00100020'), 'P1');
  assert.equal(ds.string('x00101010'), '045Y');
  assert.equal(ds.string('x00080008'), 'DERIVED\\SECONDARY');
  assert.equal(ds.floatString('x00280030', 0), 0.139);
  assert.ok(Math.abs(ds.floatString('x00280030', 1)! - 1 / 3) < 1e-12);
  assert.ok(ds.string('x00280030')!.split('\\').every((v) => v.length <= 16));
  assert.equal(ds.intString('x00200013'), 12);
  assert.equal(ds.string('x00204000'), 'line one\r\nback\\slash kept in LT');
  assert.equal(ds.uint16('x00280010'), 3);
  assert.equal(ds.int16('x00281041'), -1);
  assert.equal(ds.int32('x00189219', 0), -5);
  assert.equal(ds.int32('x00189219', 1), 70000);
  assert.equal(ds.double('x00189327'), 2.5);
  const at = ds.elements['x00209165']!;
  const atView = new DataView(bytes.buffer, bytes.byteOffset + at.dataOffset, at.length);
  assert.deepEqual([atView.getUint16(0, true), atView.getUint16(2, true), atView.getUint16(4, true), atView.getUint16(6, true)], [0x0010, 0x0020, 0x0020, 0x000d]);
  const ob = ds.elements['x00091010']!;
  assert.equal(ob.length, 4);
  assert.deepEqual([...bytes.subarray(ob.dataOffset, ob.dataOffset + 4)], [1, 2, 3, 0]);
  const pd = ds.elements['x7fe00010']!;
  assert.equal(pd.vr, 'OW');
  const px = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + pd.dataOffset, bytes.byteOffset + pd.dataOffset + pd.length));
  assert.deepEqual([...px], Array.from({ length: 15 }, (_, i) => i * 1000 + 7));
});

test('writeDicom pads odd-length values by the VR rule (UI with NUL, text with space) and sorts tags', () => {
  const bytes = writeDicom(sample());
  const ds = parse(bytes);
  for (const el of Object.values(ds.elements)) assert.equal(el.length % 2, 0, `${el.tag} has odd length ${el.length}`);
  const uid = ds.elements['x00080018']!;
  assert.equal(bytes[uid.dataOffset + uid.length - 1], 0x00);
  const pn = ds.elements['x00100010']!;
  assert.equal(bytes[pn.dataOffset + pn.length - 1], 0x20);
  const offsets = Object.values(ds.elements).filter((e) => !e.tag.startsWith('x0002')).map((e) => [parseTag(e.tag.slice(1)), e.dataOffset] as const);
  const byTag = [...offsets].sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  assert.deepEqual(byTag, [...byTag].sort((a, b) => a - b), 'elements are written in ascending tag order');
});

for (const undefinedLengthSequences of [false, true]) {
  test(`writeDicom writes nested sequences (${undefinedLengthSequences ? 'undefined' : 'defined'} lengths) that dicom-parser reads`, () => {
    const ds = parse(writeDicom(sample(), { undefinedLengthSequences }));
    const sq = ds.elements['x0040a730']!;
    assert.equal(sq.items?.length, 2);
    const item0 = sq.items![0]!.dataSet!;
    assert.equal(item0.string('x0040a010'), 'CONTAINS');
    assert.equal(item0.string('x0040a160'), 'Findings text, odd');
    const code = item0.elements['x0040a043']!.items![0]!.dataSet!;
    assert.equal(code.string('x00080100'), '121071');
    assert.equal(code.string('x00080104'), 'Finding');
    // The empty item holds nothing (dicom-parser lists the item delimiter of undefined-length items).
    assert.deepEqual(Object.keys(sq.items![1]!.dataSet!.elements).filter((t) => !t.startsWith('xfffe')), []);
    // Pixel data after the sequence is still found, so the sequence length was right.
    assert.equal(ds.elements['x7fe00010']!.length, 30);
  });
}

test('writeDicom rejects values the VR cannot hold, with the tag in the message', () => {
  const base = sample().filter((e) => e.vr !== 'SQ');
  const bad: [DicomElement, RegExp][] = [
    [{ tag: 0x00080060, vr: 'CS', value: 'lower case' }, /\(0008,0060\) CS/],
    [{ tag: 0x00100020, vr: 'LO', value: 'x'.repeat(65) }, /more than the 64/],
    [{ tag: 0x0020000d, vr: 'UI', value: '1.02.3' }, /not a valid UID/],
    [{ tag: 0x00080020, vr: 'DA', value: '2020-1-2' }, /not a date/],
    [{ tag: 0x00101010, vr: 'AS', value: '45' }, /age string/],
    [{ tag: 0x00280010, vr: 'US', value: 70000 }, /does not fit/],
    [{ tag: 0x00100010, vr: 'PN', value: 'Zoë' }, /non-ASCII/],
    [{ tag: 0x00020010, vr: 'UI', value: '1.2' }, /File Meta/],
  ];
  for (const [el, msg] of bad) {
    const tag = parseTag(el.tag);
    const elements = [...base.filter((e) => parseTag(e.tag) !== tag), el];
    assert.throws(() => writeDicom(elements), (e: unknown) => e instanceof InputError && msg.test(e.message), `${JSON.stringify(el.value)}`);
  }
  assert.throws(() => writeDicom([...base, { tag: 0x00100020, vr: 'LO', value: 'dup' }]), /appears twice/);
  // Patient values never appear in error messages.
  const secret = 'SECRET-PATIENT-ID-'.repeat(4);
  assert.throws(
    () => writeDicom([...base.filter((e) => parseTag(e.tag) !== 0x00100020), { tag: 0x00100020, vr: 'LO', value: secret }]),
    (e: unknown) => e instanceof InputError && !e.message.includes('SECRET') && /withheld/.test(e.message),
  );
  assert.throws(() => writeDicom(base.filter((e) => parseTag(e.tag) !== 0x00080018)), /SOPInstanceUID/);
  // With a character set, non-ASCII names are allowed.
  const latin = writeDicom([...base.filter((e) => parseTag(e.tag) !== 0x00100010), { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' }, { tag: 0x00100010, vr: 'PN', value: 'Zoë' }]);
  assert.equal(parse(latin).string('x00100010'), 'Zo\u00eb'); // dicom-parser decodes bytes as Latin-1
});

test('formatDS keeps DS values within 16 characters; uidFromName is stable and valid', () => {
  for (const v of [1 / 3, 123456789.123456, -0.000012345678, 1e-20, 42]) {
    const s = formatDS(v);
    assert.ok(s.length <= 16, s);
    assert.ok(Math.abs(Number(s) - v) <= Math.abs(v) * 1e-9 + 1e-300 || Math.abs(Number(s) - v) / Math.abs(v) < 1e-8, `${v} → ${s}`);
  }
  const u = uidFromName('abc');
  assert.equal(u, uidFromName('abc'));
  assert.notEqual(u, uidFromName('abd'));
  assert.match(u, /^2\.25\.[1-9]\d*$/);
  assert.ok(u.length <= 64);
});

test('dcmdump reads a writeDicom file without warnings', { skip: haveDcmdump ? false : 'dcmdump (Debian dcmtk) is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-writer-'));
  try {
    const file = join(dir, 'sc.dcm');
    writeFileSync(file, writeDicom(sample()));
    const r = spawnSync('dcmdump', ['-M', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `dcmdump printed warnings:\n${r.stderr}`);
    assert.match(r.stdout, /\(0010,0010\) PN \[SYNTH\^ABC\]/);
    assert.match(r.stdout, /\(0040,a730\) SQ/);
    assert.match(r.stdout, /\(0008,0100\) SH \[121071\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pydicom (independent reader) decodes the same values and pixels', { skip: havePydicom ? false : 'python3 with pydicom is not available' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-writer-'));
  try {
    const file = join(dir, 'sc.dcm');
    writeFileSync(file, writeDicom(sample()));
    const py = `
import json, sys, pydicom
ds = pydicom.dcmread(sys.argv[1])
print(json.dumps({
  "name": str(ds.PatientName), "ts": str(ds.file_meta.TransferSyntaxUID),
  "spacing": [float(x) for x in ds.PixelSpacing], "rows": ds.Rows, "cols": ds.Columns,
  "pixels": ds.pixel_array.astype(int).ravel().tolist(),
  "item": str(ds.ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning),
  "items": len(ds.ContentSequence), "sl": list(ds[0x00189219].value)}))`;
    const r = spawnSync('python3', ['-c', py, file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { name: string; ts: string; spacing: number[]; rows: number; cols: number; pixels: number[]; item: string; items: number; sl: number[] };
    assert.equal(got.name, 'SYNTH^ABC');
    assert.equal(got.ts, EXPLICIT_VR_LITTLE_ENDIAN);
    assert.equal(got.rows, 3);
    assert.equal(got.cols, 5);
    assert.deepEqual(got.pixels, Array.from({ length: 15 }, (_, i) => i * 1000 + 7));
    assert.equal(got.item, 'Finding');
    assert.equal(got.items, 2);
    assert.deepEqual(got.sl, [-5, 70000]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
