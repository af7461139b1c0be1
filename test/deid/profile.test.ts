/**
 * PS3.15 Table E.1-1 walked attribute by attribute: a synthetic instance that fills every listed
 * attribute (and a nested copy inside a sequence) is de-identified, and pydicom — an independent
 * reader — reports what each attribute became. dcmtk and pydicom must read the output cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deidentifyDicom } from '../../src/deid/dicom.js';
import { makeProfile, settle, tableRows, DEID_OPTIONS, OPTION_INFO, type DeidOption } from '../../src/deid/profile.js';
import { makePseudonymiser } from '../../src/deid/pseudonyms.js';
import { textValue, type Element } from '../../src/deid/part10.js';
import { makeTextScrubber } from '../../src/deid/text.js';
import { KEY, havePython, haveTool, part10, sampleValue } from './helpers.js';

const WRITTEN_BY_US = new Set([0x00120062, 0x00120063, 0x00120064, 0x00280303]);
const PATIENT = new Set([0x00100010, 0x00100020]);

function concreteTag(pattern: string): number {
  if (pattern === '50XXXXXX') return 0x50003000;
  return parseInt(pattern.replace(/X/g, '0'), 16) >>> 0;
}

/** Every table attribute with a sample value; sequences get one item holding a Patient's Name. */
function fullInstance(): { dataset: Element[]; tags: Map<number, { vr: string; keyword: string; basic: string; options: Record<string, string> }> } {
  const tags = new Map<number, { vr: string; keyword: string; basic: string; options: Record<string, string> }>();
  const dataset: Element[] = [];
  let n = 0;
  for (const row of tableRows()) {
    const tag = concreteTag(row.pattern);
    if (tag >>> 16 <= 2 || WRITTEN_BY_US.has(tag)) continue;
    const vr = row.vr || 'UN';
    tags.set(tag, { vr, keyword: row.keyword, basic: row.basic, options: row.options });
    if (vr === 'SQ') dataset.push({ tag, vr, items: [[{ tag: 0x00080100, vr: 'SH', value: textValue('CODE1') }, { tag: 0x00100010, vr: 'PN', value: textValue('Nested^Name') }]] });
    else dataset.push({ tag, vr, value: sampleValue(vr, n++)! });
  }
  dataset.push({ tag: 0x00080016, vr: 'UI', value: textValue('1.2.840.10008.5.1.4.1.1.7') });
  return { dataset, tags };
}

/** The test's own reading of the table: the enabled option's code wins, then the conformant choice. */
function expectedAction(basic: string, options: Record<string, string>, enabled: readonly DeidOption[]): string {
  let code = basic;
  for (const o of enabled) {
    const c = options[OPTION_INFO[o].letter];
    if (c) code = c;
  }
  if (code.includes('U')) return 'U';
  if (code.length > 1) return code.includes('D') ? 'D' : code.includes('Z') ? 'Z' : 'X';
  return code;
}

const PY_DUMP = `
import sys, json, warnings
warnings.simplefilter('error')
import pydicom
ds = pydicom.dcmread(sys.argv[1])
def dump(d):
    out = {}
    for el in d:
        key = '%08X' % int(el.tag)
        if el.VR == 'SQ':
            out[key] = {'vr': 'SQ', 'items': [dump(i) for i in el.value]}
        else:
            raw = el.value
            if isinstance(raw, bytes):
                out[key] = {'vr': el.VR, 'bytes': list(raw)}
            else:
                out[key] = {'vr': el.VR, 'text': '' if raw is None or raw == '' else str(raw)}
    return out
print(json.dumps({'meta': dump(ds.file_meta), 'ds': dump(ds)}))
`;

function shiftDays(days: number, ymd: string): string {
  // Independent of the product's date code: python's datetime.
  const r = spawnSync('python3', ['-c', `import datetime as d; print((d.date(${+ymd.slice(0, 4)},${+ymd.slice(4, 6)},${+ymd.slice(6, 8)})+d.timedelta(days=${days})).strftime('%Y%m%d'))`], { encoding: 'utf8' });
  return r.stdout.trim();
}

const variants: { name: string; options: DeidOption[] }[] = [
  { name: 'basic profile', options: [] },
  { name: 'every option (modified dates)', options: DEID_OPTIONS.filter((o) => o !== 'retain-longitudinal-full-dates') },
  { name: 'full dates + characteristics', options: ['retain-longitudinal-full-dates', 'retain-patient-characteristics'] },
];

for (const variant of variants) {
  test(`Table E.1-1 walk (${variant.name}): every attribute gets its action, nested ones too`, { skip: havePython('pydicom') ? false : 'needs python3 with pydicom' }, () => {
    const { dataset, tags } = fullInstance();
    const sourcePatient = 'Seen by Dr. John Smith on 03/15/2020';
    const pseudonyms = makePseudonymiser(KEY);
    const scrub = makeTextScrubber();
    const result = deidentifyDicom(part10(dataset), 'walk.dcm', { profile: makeProfile(variant.options), pseudonyms, cleanText: (t) => scrub.scrub(t).text });
    const dir = mkdtempSync(join(tmpdir(), 'radml-deid-walk-'));
    const file = join(dir, 'out.dcm');
    writeFileSync(file, result.bytes);
    const r = spawnSync('python3', ['-c', PY_DUMP, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, `pydicom read the output with a warning or error: ${r.stderr}`);
    const got = JSON.parse(r.stdout) as { meta: Record<string, { text?: string }>; ds: Record<string, { vr: string; text?: string; bytes?: number[]; items?: Record<string, { text?: string }>[] }> };
    const pseudo = pseudonyms.patient(sourcePatient);
    const days = pseudonyms.dateShiftDays(sourcePatient);
    const shifted = shiftDays(days, '20200315');
    const counts: Record<string, number> = {};
    for (const [tag, info] of tags) {
      const key = tag.toString(16).toUpperCase().padStart(8, '0');
      const out = got.ds[key];
      const action = PATIENT.has(tag) ? 'P' : expectedAction(info.basic, info.options, variant.options);
      counts[action] = (counts[action] ?? 0) + 1;
      const original = dataset.find((e) => e.tag === tag)!;
      const originalText = original.value ? Buffer.from(original.value).toString('latin1') : '';
      const where = `${info.keyword} (${key}, ${info.vr}), action ${action}`;
      const nestedName = () => out?.items?.[0]?.['00100010']?.text;
      switch (action) {
        case 'P':
          assert.equal(out?.text, pseudo, where);
          break;
        case 'X':
          assert.equal(out, undefined, `${where}: should be removed`);
          break;
        case 'Z':
          assert.ok(out, `${where}: should be present`);
          if (info.vr === 'SQ') assert.equal(out.items?.length, 0, where);
          else assert.ok(!out.text && !(out.bytes?.length), `${where}: should be empty, got ${JSON.stringify(out)}`);
          break;
        case 'D':
          assert.ok(out, `${where}: should be present`);
          if (info.vr === 'SQ') assert.equal(nestedName(), pseudo, `${where}: nested Patient's Name`);
          else if (out.bytes) assert.ok(out.bytes.every((b) => b === 0) && out.bytes.length === original.value!.byteLength, where);
          else {
            assert.ok(out.text, `${where}: dummy must be non-empty`);
            assert.notEqual(out.text, originalText.trim(), `${where}: dummy equals the original`);
          }
          break;
        case 'K':
          assert.ok(out, `${where}: should be kept`);
          if (info.vr === 'SQ') assert.equal(nestedName(), pseudo, `${where}: nested attributes still de-identified`);
          else if (out.bytes) assert.deepEqual(out.bytes, [...original.value!], where);
          break;
        case 'U':
          assert.ok(out, `${where}: should be present`);
          if (info.vr === 'UI') {
            assert.match(out.text!, /^2\.25\.\d+$/, where);
            assert.equal(out.text, pseudonyms.uid(originalText.replace(/\0+$/, '')), `${where}: keyed UID`);
          }
          break;
        case 'C':
          assert.ok(out, `${where}: should be present`);
          if (info.vr === 'DA') assert.equal(out.text, shifted, `${where}: shifted by ${days} days`);
          else if (info.vr === 'DT') assert.equal(out.text, `${shifted}101510`, where);
          else if (info.vr === 'TM') assert.equal(out.text, '101510', where);
          else if (['LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'PN'].includes(info.vr)) {
            assert.doesNotMatch(out.text ?? '', /John|Smith|2020/, `${where}: cleaned text still identifies: ${out.text}`);
          } else if (info.vr === 'SQ') assert.equal(nestedName(), pseudo, where);
          break;
        default:
          assert.fail(`unexpected action ${action} for ${where}`);
      }
    }
    assert.equal(got.ds['00120062']?.text, 'YES');
    assert.equal(got.ds['00280303']?.text, variant.options.includes('retain-longitudinal-full-dates') ? 'UNMODIFIED' : variant.options.includes('retain-longitudinal-dates') ? 'MODIFIED' : 'REMOVED');
    assert.equal(got.meta['00020003']?.text, got.ds['00080018']?.text, 'Media Storage SOP Instance UID follows the new SOP Instance UID');
    assert.equal(got.meta['00020016'], undefined, 'Source AE title removed from the meta group');
    // The walk exercised each action the variant can produce.
    if (variant.options.length === 0) assert.ok((counts['X'] ?? 0) > 100 && (counts['U'] ?? 0) > 20 && (counts['D'] ?? 0) > 50, JSON.stringify(counts));
    else assert.ok(Object.keys(counts).length >= 5, JSON.stringify(counts));
    if (haveTool('dcmdump')) {
      const d = spawnSync('dcmdump', ['-q', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(d.status, 0, d.stderr);
      assert.doesNotMatch(d.stderr + d.stdout, /^(W|E):/m, `dcmtk warned: ${d.stderr}`);
    }
  });
}

test('combined codes settle to the least destructive conformant action', () => {
  assert.equal(settle('X/Z'), 'Z');
  assert.equal(settle('X/D'), 'D');
  assert.equal(settle('X/Z/D'), 'D');
  assert.equal(settle('Z/D'), 'D');
  assert.equal(settle('X/Z/U*'), 'U');
  assert.equal(settle('K'), 'K');
  // Spot checks against the published table (2024e).
  const p = makeProfile([]);
  assert.equal(p.action(0x00100010), 'Z'); // Patient's Name
  assert.equal(p.action(0x00080050), 'Z'); // Accession Number
  assert.equal(p.action(0x00081030), 'X'); // Study Description
  assert.equal(p.action(0x0020000d), 'U'); // Study Instance UID
  assert.equal(p.action(0x00080080), 'D'); // Institution Name: X/Z/D
  assert.equal(makeProfile(['retain-institution-identity']).action(0x00080080), 'K');
  assert.equal(makeProfile(['retain-longitudinal-dates']).action(0x00080020), 'C');
  assert.equal(makeProfile(['clean-descriptors']).action(0x00081030), 'C');
  assert.equal(p.action(0x60003000), 'X'); // Overlay Data, repeating group
  assert.equal(p.action(0x00280010), undefined); // Rows: not in the table, kept
  assert.throws(() => makeProfile(['retain-longitudinal-dates', 'retain-longitudinal-full-dates']), /not both/);
});
