import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { deflateSync } from 'node:zlib';
import { ingest, ingestToDir } from '../../src/data/ingest/index.js';
import { imageAt, readDataset } from '../../src/data/dataset.js';
import { main } from '../../src/cli/main.js';

const SHARED = resolve('..', 'shared', 'data');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A grey PNG written by hand (independent of the decoder under test), 8 or 16 bits. */
async function png(path: string, w: number, h: number, value: number | ((x: number, y: number) => number), bits: 8 | 16 = 8) {
  const max = bits === 16 ? 65535 : 255;
  const bpp = bits / 8;
  const raw = Buffer.alloc(h * (1 + w * bpp));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.round((typeof value === 'number' ? value : value(x, y)) * max);
      const o = y * (1 + w * bpp) + 1 + x * bpp;
      if (bits === 16) raw.writeUInt16BE(v, o);
      else raw[o] = v;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = bits;
  ihdr[9] = 0; // greyscale
  writeFileSync(path, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]));
}

function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

test('ingests a manifest: grey levels kept, bad files skipped with reasons, order kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ingest-'));
  try {
    await png(join(dir, 'mid.png'), 40, 20, 0.5);
    await png(join(dir, 'deep.png'), 16, 16, (x) => x / 15, 16);
    // An RGB JPEG, and a PNG hiding behind a .jpg name (as in public collections).
    await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 200, g: 200, b: 200 } } }).jpeg().toFile(join(dir, 'rgb.jpg'));
    await png(join(dir, 'actually-png.jpg'), 20, 20, 0.25);
    writeFileSync(join(dir, 'corrupt.png'), Buffer.concat([readFileSync(join(dir, 'mid.png')).subarray(0, 40)]));
    writeFileSync(join(dir, 'text.png'), 'not an image at all');
    writeFileSync(join(dir, 'm.csv'), 'path,label,site,sex\nmid.png,a,s1,F\ndeep.png,b,s2,M\nrgb.jpg,a,s1,M\nactually-png.jpg,b,s2,F\ncorrupt.png,a,s1,F\ntext.png,b,s1,F\nmissing.png,a,s2,M\n');
    const { dataset, skipped, summary } = await ingest(join(dir, 'm.csv'), { imageSize: 16 });
    assert.equal(dataset.meta.count, 4);
    assert.deepEqual(dataset.manifest.records.map((r) => r.path.split('/').pop()), ['mid.png', 'deep.png', 'rgb.jpg', 'actually-png.jpg']);
    assert.deepEqual(skipped.map((s) => s.path), ['corrupt.png', 'missing.png', 'text.png']);
    assert.match(skipped.find((s) => s.path === 'missing.png')!.reason, /file not found/);
    assert.match(skipped.find((s) => s.path === 'text.png')!.reason, /not a PNG, JPEG, TIFF, WebP or DICOM/);
    assert.match(skipped.find((s) => s.path === 'corrupt.png')!.reason, /cannot (read|decode)/);
    // 40×20 padded into 16×16: centre rows are the image (0.5), top/bottom rows are padding (0).
    const mid = imageAt(dataset, 0);
    assert.ok(Math.abs(mid[8 * 16 + 8]! - 0.5) < 0.003, `centre ${mid[8 * 16 + 8]}`);
    assert.equal(mid[0], 0);
    // 16-bit gradient survives with more than 8-bit precision.
    const deep = imageAt(dataset, 1);
    assert.ok(Math.abs(deep[5 * 16 + 7]! - 7 / 15) < 1e-4, `16-bit value ${deep[5 * 16 + 7]}`);
    assert.ok(Math.abs(imageAt(dataset, 2)[100]! - 200 / 255) < 0.01);
    assert.ok(Math.abs(imageAt(dataset, 3)[8 * 16 + 8]! - 0.25) < 0.003);
    assert.deepEqual(summary.classes, { a: 2, b: 2 });
    assert.deepEqual(summary.bySite, { s1: 2, s2: 2 });
    assert.equal(summary.skipped.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ingestToDir writes a dataset that reads back identically and detects tampering', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ingest-'));
  try {
    mkdirSync(join(dir, 'img'));
    for (let i = 0; i < 5; i++) await png(join(dir, 'img', `${i}.png`), 24, 24, (x, y) => ((x + y + i) % 7) / 7);
    await png(join(dir, 'img', 'm0.png'), 24, 24, (x) => (x > 12 ? 1 : 0));
    writeFileSync(join(dir, 'm.csv'), 'path,Effusion,Nodule,patient_id,mask_path\n' + [0, 1, 2, 3, 4].map((i) => `img/${i}.png,${i % 2},${i === 3 ? -1 : ''},p${i},${i === 0 ? 'img/m0.png' : ''}`).join('\n') + '\n');
    const out = join(dir, 'ds');
    const res = await ingestToDir(join(dir, 'm.csv'), out, { imageSize: 12 });
    const back = readDataset(out);
    assert.equal(back.meta.labelKind, 'multilabel');
    assert.deepEqual(back.meta.classes, ['Effusion', 'Nodule']);
    assert.deepEqual(Array.from(back.pixels), Array.from(res.dataset.pixels));
    assert.equal(back.manifest.records[3]!.findings!['Nodule'], -1);
    assert.equal(back.manifest.records[0]!.absPath, join(dir, 'img', '0.png'));
    assert.ok(back.masks);
    assert.equal(back.masks![0], 0);
    assert.equal(back.masks![11], 1);
    assert.equal(back.masks![144], 255, 'rows without a mask are marked 255');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.ingested, 5);
    assert.deepEqual(summary.skipped, []);
    // Flip one pixel byte: the hash check must refuse the cache.
    const raw = readFileSync(join(out, 'images.u16'));
    raw[10] = raw[10]! ^ 0xff;
    writeFileSync(join(out, 'images.u16'), raw);
    assert.throws(() => readDataset(out), /SHA-256 does not match/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('folder source: class sub-folders become labels', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ingest-'));
  try {
    for (const c of ['normal', 'pneumonia']) {
      mkdirSync(join(dir, c));
      for (let i = 0; i < 2; i++) await png(join(dir, c, `${i}.png`), 10, 10, 0.3);
    }
    const { dataset } = await ingest(dir, { imageSize: 8 });
    assert.equal(dataset.meta.labelKind, 'categorical');
    assert.deepEqual(dataset.meta.classes, ['normal', 'pneumonia']);
    assert.equal(dataset.meta.count, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('radml ingest CLI: exit 0 with summary when something ingested, non-zero when nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-ingest-'));
  try {
    await png(join(dir, 'a.png'), 10, 10, 0.3);
    writeFileSync(join(dir, 'bad.png'), 'xx');
    writeFileSync(join(dir, 'ok.csv'), 'path,label\na.png,x\nbad.png,y\n');
    writeFileSync(join(dir, 'none.csv'), 'path,label\nbad.png,y\n');
    const ok = captureIO();
    assert.equal(await main(['ingest', join(dir, 'ok.csv'), '--out', join(dir, 'ds'), '--image-size', '8'], ok.io), 0);
    assert.match(ok.out.join('\n'), /Ingested 1 image\(s\) at 8×8/);
    assert.match(ok.out.join('\n'), /bad\.png: /);
    assert.ok(existsSync(join(dir, 'ds', 'summary.json')));
    const none = captureIO();
    assert.equal(await main(['ingest', join(dir, 'none.csv'), '--out', join(dir, 'ds2')], none.io), 1);
    assert.match(none.err.join('\n'), /no image could be ingested/);
    const usage = captureIO();
    assert.equal(await main(['ingest', join(dir, 'ok.csv')], usage.io), 2);
    assert.match(usage.err.join('\n'), /--out is required/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('all of pneumoniamnist ingests', { skip: existsSync(join(SHARED, 'pneumoniamnist')) ? false : 'needs ../shared/data/pneumoniamnist' }, async () => {
  const { dataset, skipped, summary } = await ingest(join(SHARED, 'pneumoniamnist', 'labels.csv'), { imageSize: 28, concurrency: 8 });
  assert.equal(skipped.length, 0);
  assert.equal(dataset.meta.count, 4406);
  assert.deepEqual(summary.bySplit, { train: 3882, val: 524 });
  assert.deepEqual(summary.classes, { normal: 523, pneumonia: 3883 });
});

test('all of covid-cxr-open ingests through a column mapping', { skip: existsSync(join(SHARED, 'covid-cxr-open')) ? false : 'needs ../shared/data/covid-cxr-open' }, async () => {
  const { dataset, skipped } = await ingest(join(SHARED, 'covid-cxr-open', 'metadata.csv'), {
    imageSize: 64,
    imageRoot: 'images',
    columns: { path: 'filename', label: 'finding', patient_id: 'patientid', site: 'location' },
  });
  assert.deepEqual(skipped, []);
  assert.equal(dataset.meta.count, 101);
  assert.equal(new Set(dataset.manifest.records.map((r) => r.patientId)).size, 54);
});

test('a folder of real DICOM ingests; files without pixels are skipped with the reason', { skip: existsSync(join(SHARED, 'dicom')) ? false : 'needs ../shared/data/dicom' }, async () => {
  const { dataset, skipped, summary } = await ingest(join(SHARED, 'dicom'), { imageSize: 64 });
  assert.ok(dataset.meta.count >= 11, `ingested ${dataset.meta.count}`);
  assert.ok(skipped.length >= 2, 'the RT plan and the truncated RT plan are skipped');
  for (const s of skipped) assert.ok(s.reason.length > 10 && !s.reason.includes(SHARED), `reason names the problem, not the path again: ${s.reason}`);
  assert.ok(skipped.some((s) => /no Pixel Data/.test(s.reason)));
  assert.ok(Object.keys(summary.byModality).includes('CT') && Object.keys(summary.byModality).includes('MR'));
  // Patient IDs are pseudonymised by default.
  for (const r of dataset.manifest.records) if (r.patientId) assert.match(r.patientId, /^[0-9a-f]{16}$/);
});
