/**
 * The Secondary Capture as a reader sees it: text in a side panel that never enters the image,
 * heat only over the image's own pixels (not the padding of a letterboxed image), one SC per
 * positive finding or a labelled grid, and the DICOM rendered by dcmtk's dcmj2pnm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { bannerLines, contentRect, renderResultImage, secondaryCaptures, type ModelIdentity, type Rect, type ScoredImage } from '../../src/serve/results-dicom.js';
import { ModelRunner } from '../../src/serve/runner.js';
import { readDicomHeader } from '../../src/data/dicom/index.js';
import type { GreyImage } from '../../src/data/grey-image.js';
import { makeModelFolder } from './fixtures.js';

const hasDcmj2pnm = spawnSync('dcmj2pnm', ['--version'], { encoding: 'utf8' }).status === 0;

/** A 300 × 200 "radiograph": a grey body with a bright round lesion right of centre. */
function phantom(): GreyImage {
  const width = 300, height = 200;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const body = Math.abs(x - 150) < 120 && Math.abs(y - 100) < 90 ? 0.45 : 0.05;
    data[y * width + x] = Math.hypot(x - 200, y - 100) < 25 ? 0.9 : body;
  }
  return { width, height, data };
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function px(p: { width: number; rgb: Uint8Array }, x: number, y: number): [number, number, number] {
  const o = (y * p.width + x) * 3;
  return [p.rgb[o]!, p.rgb[o + 1]!, p.rgb[o + 2]!];
}

const model: ModelIdentity = { name: 'cxr', version: 3, onnxSha256: 'ab'.repeat(32), classes: ['effusion', 'nodule', 'pneumonia'], thresholds: { effusion: 0.5, nodule: 0.4, pneumonia: 0.5 }, rule: 'sensitivity_0.9' };
const scored: ScoredImage = { sopClassUid: '1.2.840.10008.5.1.4.1.1.1', sopUid: '1.2.3.4', seriesUid: '1.2.3', scores: { effusion: 0.12, nodule: 0.71, pneumonia: 0.66 }, decisions: { effusion: false, nodule: true, pneumonia: true } };

test('SC layout: the text panel never overlaps the image, every score line is drawn, heat stays off the padding', async () => {
  const img = phantom();
  const grid = 4;
  const values = new Float32Array(grid * grid);
  values.fill(1); // heat everywhere, so any heat on the padding would show
  const lines = bannerLines(model, scored, 'nodule');
  const pic = await renderResultImage(img, 'pad', lines, { grid, values, label: 'nodule' }, 256);
  const bare = await renderResultImage(img, 'pad', [], { grid, values }, 256);

  assert.equal(pic.imageAreas.length, 1);
  const area = pic.imageAreas[0]!;
  assert.deepEqual(area, { x: 0, y: 0, width: 256, height: 256 });
  assert.ok(!overlaps(pic.panel, area), 'panel and image area are disjoint');
  assert.ok(pic.panel.x >= area.x + area.width);
  // Text never enters the image: its pixels are the same with and without any text.
  let differ = 0;
  for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) if (px(pic, x, y).join() !== px(bare, x, y).join()) differ++;
  assert.equal(differ, 0, `${differ} image pixels changed by the text`);

  // Every line fits: the panel holds bright text pixels down to the last line, and the canvas grew to hold them.
  assert.ok(pic.height >= 256);
  let textRows = 0;
  for (let y = 0; y < pic.height; y++) {
    let bright = false;
    for (let x = pic.panel.x; x < pic.width && !bright; x++) bright = px(pic, x, y)[0] > 150;
    if (bright) textRows++;
  }
  assert.ok(textRows > lines.length * 4, `only ${textRows} rows of the panel carry text`);

  // 300 × 200 letterboxed in 256: rows 0..41 and 213..255 are padding.
  const content = contentRect(img, 256, 'pad');
  assert.deepEqual(content, { x: 0, y: 42, width: 256, height: 171 });
  assert.deepEqual(pic.contentAreas[0], content);
  for (const y of [0, 20, 41, 213, 240, 255]) for (const x of [0, 100, 255]) assert.deepEqual(px(pic, x, y), [0, 0, 0], `padding pixel (${x}, ${y}) is untouched`);
  // …and inside the image the heat shows (colour, not grey).
  const [r, g, b] = px(pic, 128, 128);
  assert.ok(r !== g || g !== b, 'heat over the image');
});

test('SC grid layout: one tile per positive finding, each labelled above its tile, labels outside the image areas', async () => {
  const img = phantom();
  const heat = (cell: number) => {
    const v = new Float32Array(16);
    v[cell] = 1;
    return v;
  };
  const pic = await renderResultImage(img, 'crop', bannerLines(model, scored, ['nodule', 'pneumonia']), [
    { grid: 4, values: heat(5), label: 'nodule (score 0.710)' },
    { grid: 4, values: heat(10), label: 'pneumonia (score 0.660)' },
  ], 128);
  assert.equal(pic.imageAreas.length, 2);
  const [a, b] = pic.imageAreas as [Rect, Rect];
  assert.ok(!overlaps(a, b) && !overlaps(a, pic.panel) && !overlaps(b, pic.panel));
  assert.ok(a.y > 0, 'a label strip above the tile');
  let labelInk = 0;
  for (let y = 0; y < a.y; y++) for (let x = a.x; x < a.x + a.width; x++) if (px(pic, x, y)[0] > 150) labelInk++;
  assert.ok(labelInk > 20, 'the label is drawn in its strip');
  // Each tile's heat is where its own map says: cell 5 (row 1, col 1) for the first, cell 10 for the second.
  const tint = (t: Rect, cx: number, cy: number) => {
    const [r, g, bb] = px(pic, t.x + Math.floor(((cx + 0.5) * t.width) / 4), t.y + Math.floor(((cy + 0.5) * t.height) / 4));
    return Math.max(r, g, bb) - Math.min(r, g, bb);
  };
  assert.ok(tint(a, 1, 1) > 30 && tint(a, 2, 2) < 5, 'first tile: heat at cell 5 only');
  assert.ok(tint(b, 2, 2) > 30 && tint(b, 1, 1) < 5, 'second tile: heat at cell 10 only');
});

test('secondaryCaptures: one SC per positive finding (heat on that finding), none for a negative study; dcmj2pnm renders it', { skip: hasDcmj2pnm ? false : 'needs dcmtk (dcmj2pnm)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-sc-'));
  try {
    const folder = makeModelFolder(join(dir, 'm'), 7);
    const runner = await ModelRunner.load(folder);
    try {
      const img = phantom();
      const [pred] = await runner.predict([img]);
      const identity: ModelIdentity = { name: 'cxr', version: 1, onnxSha256: runner.onnxSha256, classes: runner.classes, thresholds: runner.operatingPoint.thresholds, rule: runner.operatingPoint.rule };
      const study = { studyUid: '1.2.826.0.1.3680043.8.498.9', copied: [] };
      const positive: ScoredImage = { sopClassUid: '1.2.840.10008.5.1.4.1.1.1', sopUid: '1.2.3.4', seriesUid: '1.2.3', scores: pred!.scores, decisions: { pneumonia: true } };
      const negative: ScoredImage = { ...positive, decisions: { pneumonia: false } };
      const opts = { grid: 4, layout: 'per-finding' as const, maxFindings: 4 };
      const scs = await secondaryCaptures(runner, identity, study, positive, img, opts, 1);
      assert.equal(scs.length, 1, 'one positive finding, one SC');
      const none = await secondaryCaptures(runner, identity, study, negative, img, opts, 1);
      assert.equal(none.length, 1, 'a negative image still gets its scores SC');
      const h = readDicomHeader(scs[0]!, 'sc.dcm');
      assert.equal(h.modality, 'OT');
      writeFileSync(join(dir, 'sc.dcm'), scs[0]!);
      writeFileSync(join(dir, 'none.dcm'), none[0]!);
      for (const f of ['sc', 'none']) {
        const r = spawnSync('dcmj2pnm', ['--write-png', join(dir, `${f}.dcm`), join(dir, `${f}.png`)], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      const png = await sharp(readFileSync(join(dir, 'sc.png'))).raw().toBuffer({ resolveWithObject: true });
      assert.equal(png.info.channels, 3);
      assert.ok(png.info.width > 512 && png.info.height >= 512, `${png.info.width} × ${png.info.height}: image plus side panel`);
      // The heat is drawn on the positive SC's image area and not on the negative one's.
      const colour = async (file: string) => {
        const p = await sharp(readFileSync(file)).raw().toBuffer({ resolveWithObject: true });
        let n = 0;
        for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) {
          const o = (y * p.info.width + x) * 3;
          if (Math.max(p.data[o]!, p.data[o + 1]!, p.data[o + 2]!) - Math.min(p.data[o]!, p.data[o + 1]!, p.data[o + 2]!) > 20) n++;
        }
        return n;
      };
      const heatPositive = await colour(join(dir, 'sc.png'));
      assert.ok(heatPositive > 500, `positive SC has ${heatPositive} tinted image pixels`);
      assert.equal(await colour(join(dir, 'none.png')), 0, 'no heat on the negative SC');
    } finally {
      await runner.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
