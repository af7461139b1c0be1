/**
 * radml against dicognito (PyPI) on the shared real DICOM files: for every attribute both tools
 * touch, both must leave no original value; where they differ the difference is one of the known,
 * explained ones (printed), and radml is never the weaker on an attribute of Table E.1-1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deidentifyDicom } from '../../src/deid/dicom.js';
import { makeProfile, tableRow } from '../../src/deid/profile.js';
import { makePseudonymiser } from '../../src/deid/pseudonyms.js';
import { makeTextScrubber } from '../../src/deid/text.js';
import { KEY, havePython } from './helpers.js';

const DICOM = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'dicom');

const PY = `
import sys, json, warnings
import pydicom
from dicognito.anonymizer import Anonymizer
def flat(ds, prefix=''):
    out = {}
    for el in ds:
        key = prefix + '%08X' % int(el.tag)
        if el.VR == 'SQ':
            for i, item in enumerate(el.value):
                out.update(flat(item, key + '[%d]/' % i))
            out[key] = 'SQ'
        elif int(el.tag) != 0x7FE00010:
            v = el.value
            out[key] = v.hex() if isinstance(v, bytes) else str(v)
    return out
job = json.load(sys.stdin)
res = {}
for src, ours in job:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        a = pydicom.dcmread(src)
        b = pydicom.dcmread(src)
        Anonymizer(seed='radml-test').anonymize(b)
        c = pydicom.dcmread(ours)
    res[src] = {'source': flat(a), 'dicognito': flat(b), 'radml': flat(c)}
print(json.dumps(res))
`;

type Status = 'kept' | 'changed' | 'removed';

function status(source: string, out: string | undefined): Status {
  if (out === undefined) return 'removed';
  return out === source ? 'kept' : 'changed';
}

test('radml and dicognito agree on every attribute both de-identify', { skip: !existsSync(DICOM) ? 'needs ../shared/data/dicom' : havePython('dicognito, pydicom') ? false : 'needs python3 with dicognito (test/requirements.txt)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-deid-peer-'));
  const scrub = makeTextScrubber();
  const job: [string, string][] = [];
  for (const name of readdirSync(DICOM).sort()) {
    const src = join(DICOM, name);
    try {
      const r = deidentifyDicom(readFileSync(src), name, { profile: makeProfile([]), pseudonyms: makePseudonymiser(KEY), cleanText: (t) => scrub.scrub(t).text });
      const out = join(dir, name);
      writeFileSync(out, r.bytes);
      job.push([src, out]);
    } catch (e) {
      // The truncated RT plan: refused with a reason naming it, as dicognito refuses it too.
      assert.match(String(e), new RegExp(name.replace('.', '\\.')));
    }
  }
  assert.ok(job.length >= 12, `de-identified ${job.length} shared files`);
  const r = spawnSync('python3', ['-c', PY], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 27 });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as Record<string, Record<'source' | 'dicognito' | 'radml', Record<string, string>>>;
  let both = 0;
  const differences = new Map<string, number>();
  for (const [file, t] of Object.entries(res)) {
    for (const [path, value] of Object.entries(t.source)) {
      if (value === 'SQ' || value === '') continue;
      const d = status(value, t.dicognito[path]);
      const ours = status(value, t.radml[path]);
      const tagHex = path.slice(-8);
      const tag = parseInt(tagHex, 16) >>> 0;
      const inTable = tableRow(tag) !== undefined || ((tag >>> 16) & 1) === 1;
      if (d !== 'kept' && ours !== 'kept') both++;
      else if (d !== ours) {
        const who = ours === 'kept' ? 'dicognito only' : 'radml only';
        const key = (tag >>> 16) & 1 ? `${who}: private attributes` : `${who}: ${tableRow(tag)?.keyword ?? tagHex}`;
        differences.set(key, (differences.get(key) ?? 0) + 1);
        // radml must not be the weaker on what the profile lists.
        if (ours === 'kept') assert.ok(!inTable, `${file} ${path}: dicognito de-identified ${tagHex} (in Table E.1-1) but radml kept it`);
      }
    }
  }
  console.log(`# attributes both de-identified: ${both}`);
  for (const [k, n] of [...differences].sort()) console.log(`#   ${k} (${n})`);
  assert.ok(both > 100, `both tools de-identified ${both} attribute values`);
});
