/** Report de-identification keeps what the labeller needs; burned-in text is found near borders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTextScrubber } from '../../src/deid/text.js';
import { detectBurnedInText } from '../../src/deid/burned-in.js';
import type { GreyImage } from '../../src/data/grey-image.js';
import { readCsv } from '../../src/util/csv.js';
import { compileLexicon } from '../../src/labels/report-labeller.js';
import { scorePositives } from '../../src/labels/scoring.js';
import { readDicom } from '../../src/data/dicom/index.js';
import { Rng } from '../../src/util/rng.js';
import { CHESTXRAY14_FINDINGS } from '../../src/labels/lexicon.js';
import { labelReport } from '../../src/labels/report-labeller.js';

const SHARED = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');

test('report text: identifiers replaced by category tags, clinical wording untouched', () => {
  const s = makeTextScrubber({ names: ['Okafor'], institutions: ['Riverside'] });
  const cases: [string, string][] = [
    ['Discussed with Dr. Jane Smith on 03/12/2021 at 10:32.', 'Discussed with Dr. [NAME] on [DATE] at 10:32.'],
    ['Findings called to Dr Brown by telephone 555-123-4567 ext 22 on January 3, 2020.', 'Findings called to Dr [NAME] by telephone [PHONE] on [DATE].'],
    ['Electronically signed by: Mary K. Jones, MD. MRN: 00123456. Accession # A123456.', 'Electronically signed by: [NAME]. MRN: [ID]. Accession # [ID].'],
    ['Comparison 2019-04-05. Patient: Okafor, seen at Saint Mary Medical Center.', 'Comparison [DATE]. Patient: [NAME], seen at [INSTITUTION].'],
    ['Transferred from Riverside; lives at 12 Oak Street, Springfield IL 62704.', 'Transferred from [INSTITUTION]; lives at [ADDRESS], [ADDRESS].'],
    ['Questions: a.b@example.org or www.example.org/rad. Pager 4411.', 'Questions: [EMAIL] or [URL] Pager [PHONE].'],
    ['96 year old woman. Reviewed with the referring physician Adam West.', '[AGE] woman. Reviewed with the referring physician [NAME].'],
    // Clinical text that looks numeric or capitalised must survive.
    ['No pneumothorax. Left lower lobe opacity. Right PICC tip in SVC. T11 compression deformity, 20%.', 'No pneumothorax. Left lower lobe opacity. Right PICC tip in SVC. T11 compression deformity, 20%.'],
    ['Cardiothoracic ratio 16.2/24.7. A 1.5 cm nodule. Stable since the prior exam. 45 year old.', 'Cardiothoracic ratio 16.2/24.7. A 1.5 cm nodule. Stable since the prior exam. 45 year old.'],
    ['There are no XXXX of a pleural effusion. Technically limited secondary to patient XXXX.', 'There are no XXXX of a pleural effusion. Technically limited secondary to patient XXXX.'],
  ];
  for (const [input, want] of cases) assert.equal(s.scrub(input).text, want, input);
  assert.deepEqual(s.scrub('Dr. Jane Smith, 03/12/2021').counts, { DATE: 1, NAME: 1 });
});

test('IU reports: the labeller scores no lower after de-identification', { skip: existsSync(join(SHARED, 'iu-reports')) ? false : 'needs ../shared/data/iu-reports' }, () => {
  const reports = readCsv(join(SHARED, 'iu-reports', 'reports.csv')).rows;
  const labels = new Map(readCsv(join(SHARED, 'iu-reports', 'labels.csv')).rows.map((r) => [r['filename']!, r]));
  const cols = [...CHESTXRAY14_FINDINGS, 'normal'];
  const s = makeTextScrubber();
  const lex = compileLexicon();
  const before: Record<string, 1 | 0 | -1 | null>[] = [];
  const after: Record<string, 1 | 0 | -1 | null>[] = [];
  const ref: Record<string, 1 | 0 | -1 | null>[] = [];
  let changed = 0;
  for (const r of reports) {
    const l = labels.get(r['id']!)!;
    const findings = s.scrub(r['findings'] ?? '').text;
    const impression = s.scrub(r['impression'] ?? '').text;
    if (findings !== (r['findings'] ?? '') || impression !== (r['impression'] ?? '')) changed++;
    before.push(labelReport(lex, { findings: r['findings'], impression: r['impression'] }, false).values);
    after.push(labelReport(lex, { findings, impression }, false).values);
    ref.push(Object.fromEntries(cols.map((f) => [f, l[f] === '1' ? 1 : 0])));
  }
  const a = scorePositives(before, ref, cols).micro.f1;
  const b = scorePositives(after, ref, cols).micro.f1;
  assert.ok(a > 0.8, `labeller baseline micro-F1 ${a}`);
  assert.ok(b >= a, `micro-F1 fell from ${a} to ${b} after de-identification (${changed} reports changed)`);
});

// A 5×7 bitmap font for the characters the test stamps.
const FONT: Record<string, string[]> = {
  P: ['11110', '10001', '10001', '11110', '10000', '10000', '10000'],
  T: ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
  D: ['11110', '10001', '10001', '10001', '10001', '10001', '11110'],
  O: ['01110', '10001', '10001', '10001', '10001', '10001', '01110'],
  E: ['11111', '10000', '10000', '11110', '10000', '10000', '11111'],
  J: ['00111', '00010', '00010', '00010', '00010', '10010', '01100'],
  H: ['10001', '10001', '10001', '11111', '10001', '10001', '10001'],
  N: ['10001', '11001', '10101', '10011', '10001', '10001', '10001'],
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '/': ['00001', '00010', '00010', '00100', '01000', '01000', '10000'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};

function stamp(img: GreyImage, text: string, x0: number, y0: number, scale: number, value = 1): void {
  let x = x0;
  for (const ch of text) {
    const g = FONT[ch]!;
    for (let r = 0; r < 7; r++)
      for (let c = 0; c < 5; c++)
        if (g[r]![c] === '1')
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) img.data[(y0 + r * scale + dy) * img.width + x + c * scale + dx] = value;
    x += 6 * scale;
  }
}

/** A chest-like phantom: dark surround, a bright body with rib bands and lungs, noise. */
function phantom(size: number, seed: number): GreyImage {
  const rng = new Rng(seed);
  const rnd = () => rng.uniform(0, 1);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = (x - size / 2) / (size * 0.42);
      const v = (y - size / 2) / (size * 0.46);
      const body = u * u + v * v < 1 ? 0.55 : 0.05;
      const lung = ((u + 0.45) ** 2 / 0.12 + v * v / 0.5 < 1 || (u - 0.45) ** 2 / 0.12 + v * v / 0.5 < 1) ? -0.25 : 0;
      const ribs = body > 0.1 ? 0.08 * Math.max(0, Math.sin((y / size) * 60 + Math.abs(u) * 4)) : 0;
      data[y * size + x] = Math.min(1, Math.max(0, body + lung + ribs + (rnd() - 0.5) * 0.06));
    }
  return { width: size, height: size, data };
}

test('burned-in text near a border is found; clean phantoms and a lone marker are not flagged', () => {
  let falsePositives = 0;
  let found = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const clean = phantom(512, seed);
    if (detectBurnedInText(clean).likely) falsePositives++;
    const marker = phantom(512, seed + 100);
    stamp(marker, 'P', 470, 20, 3);
    if (detectBurnedInText(marker).likely) falsePositives++;
    const text = phantom(512, seed + 200);
    stamp(text, 'PT DOE JOHN 03/15/2021'.replace('1', '0').slice(0, 22), 8 + seed, 10 + seed * 3, 2);
    const check = detectBurnedInText(text);
    if (check.likely) {
      found++;
      const r = check.regions[0]!;
      assert.ok(r.y < 60 && r.x < 40, `region at ${r.x},${r.y} should be the stamped line`);
    }
  }
  assert.equal(falsePositives, 0);
  assert.equal(found, 6);
});

test('real radiographs without burned-in text pass the pixel check', { skip: existsSync(join(SHARED, 'dicom')) ? false : 'needs ../shared/data/dicom' }, async () => {
  const flagged: string[] = [];
  let checked = 0;
  for (const name of readdirSync(join(SHARED, 'dicom'))) {
    let img;
    try {
      img = await readDicom(readFileSync(join(SHARED, 'dicom', name)), name);
    } catch {
      continue;
    }
    checked++;
    if (detectBurnedInText(img.image).likely) flagged.push(name);
  }
  assert.ok(checked >= 8, `decoded ${checked} files`);
  assert.ok(flagged.length <= 1, `flagged: ${flagged.join(', ')}`);
});
