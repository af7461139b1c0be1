import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { decodeRle } from '../../../src/data/dicom/codecs/rle.js';
import { decodeJpegDct } from '../../../src/data/dicom/codecs/jpeg-dct.js';
import { decodeWithCodec } from '../../../src/data/dicom/codecs/wasm.js';
import { j2kResolutions, jpegFrameHeader } from '../../../src/data/dicom/codecs/jpeg-markers.js';
import { parseDicomBytes } from '../../../src/data/dicom/parse.js';
import { extractHeader } from '../../../src/data/dicom/header.js';
import { encapsulatedFrame } from '../../../src/data/dicom/frames.js';
import { readDicom } from '../../../src/data/dicom/index.js';
import { resampleImage } from '../../../src/data/preprocess/resize.js';
import { SHARED_DICOM, tmpDir } from './oracle.js';
import { encodeGreyJpeg } from './jpeg-encoder.js';

const skip = existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom';

function firstFrame(name: string): Uint8Array {
  const buf = new Uint8Array(readFileSync(join(SHARED_DICOM, name)));
  const p = parseDicomBytes(buf, name);
  const h = extractHeader(p);
  return encapsulatedFrame(p.dataSet, p.dataSet.elements['x7fe00010']!, h, 0, p.transferSyntax!.pixels, name);
}

test('RLE: PackBits literal and replicate runs, no-op byte, MSB-first byte planes', () => {
  // 2×2 pixels, 16-bit: plane 0 = high bytes, plane 1 = low bytes.
  const header = new Uint8Array(64);
  const v = new DataView(header.buffer);
  v.setUint32(0, 2, true);
  v.setUint32(4, 64, true);
  const high = [0x80, 0xfd, 0x01]; // no-op, then replicate 0x01 four times (257 − 0xfd = 4)
  const low = [0x03, 0x10, 0x20, 0x30, 0x40]; // literal of 4
  v.setUint32(8, 64 + high.length, true);
  const src = new Uint8Array([...header, ...high, ...low]);
  const out = decodeRle(src, { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 });
  assert.deepEqual([...new Uint16Array(out.buffer)], [0x0110, 0x0120, 0x0130, 0x0140]);
  // A segment that runs dry is an error, not a short image.
  assert.throws(() => decodeRle(src.subarray(0, src.length - 2), { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 16 }), /decodes to 2 of 4/);
});

test('own DCT decoder agrees with libjpeg-turbo on an 8-bit baseline chest X-ray', { skip }, async () => {
  const jpeg = firstFrame('chest_cr_siim.dcm');
  assert.equal(jpegFrameHeader(jpeg)?.precision, 8);
  const ours = decodeJpegDct(jpeg);
  const ref = await decodeWithCodec('libjpeg-turbo', jpeg);
  assert.equal(ours.width, ref.info.width);
  assert.equal(ours.height, ref.info.height);
  let worst = 0, differing = 0;
  for (let i = 0; i < ref.bytes.length; i++) {
    const d = Math.abs(ours.data[i]! - ref.bytes[i]!);
    worst = Math.max(worst, d);
    if (d) differing++;
  }
  assert.ok(worst <= 1, `max difference ${worst}`);
  assert.ok(differing / ref.bytes.length < 0.05, `${differing} samples differ`);
});

test('JPEG 2000 resolution levels from COD/SIZ, and decodeSize decodes a reduced level close to an area downsample', { skip }, async () => {
  const sizes = j2kResolutions(firstFrame('chest_cr_philips_j2k.dcm'))!;
  assert.deepEqual(sizes[0], { width: 1841, height: 1955 });
  assert.deepEqual(sizes[2], { width: 461, height: 489 });
  const buf = new Uint8Array(readFileSync(join(SHARED_DICOM, 'extremity_cr_fuji_j2k_lossless.dcm')));
  const full = await readDicom(buf, 'x.dcm');
  const small = await readDicom(buf, 'x.dcm', { decodeSize: 256 });
  assert.ok(small.image.width >= 256 && small.image.height >= 256 && small.image.width < 512, `${small.image.width}×${small.image.height}`);
  assert.equal(small.modalityValues.length, small.image.width * small.image.height);
  assert.equal(small.header.rows, 1760);
  const down = resampleImage(full.image, small.image.width, small.image.height);
  let sum = 0;
  for (let i = 0; i < down.data.length; i++) sum += Math.abs(down.data[i]! - small.image.data[i]!);
  assert.ok(sum / down.data.length < 0.01, `mean |Δ| ${sum / down.data.length}`);
  // Non-J2K syntaxes ignore decodeSize.
  const mr = await readDicom(new Uint8Array(readFileSync(join(SHARED_DICOM, 'mr_small.dcm'))), 'mr.dcm', { decodeSize: 16 });
  assert.equal(mr.image.width, 64);
});

function testImage(w: number, h: number, max: number): Uint16Array {
  const s = new Uint16Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const smooth = (Math.sin(x / 5) + Math.cos(y / 7) + 2) / 4;
    const edge = x > w / 2 ? 0.3 : 0;
    s[y * w + x] = Math.round(Math.min(1, smooth * 0.7 + edge) * max);
  }
  return s;
}

test('own DCT decoder: restart intervals and odd sizes, 8-bit vs libjpeg-turbo', async () => {
  const w = 37, h = 29;
  const img = testImage(w, h, 255);
  for (const restart of [0, 1, 3]) {
    const jpeg = encodeGreyJpeg(img, w, h, 8, 2, restart);
    const ours = decodeJpegDct(jpeg);
    const ref = await decodeWithCodec('libjpeg-turbo', jpeg);
    assert.equal(ref.bytes.length, w * h);
    let worst = 0, err = 0;
    for (let i = 0; i < w * h; i++) {
      worst = Math.max(worst, Math.abs(ours.data[i]! - ref.bytes[i]!));
      err = Math.max(err, Math.abs(ours.data[i]! - img[i]!));
    }
    assert.ok(worst <= 1, `restart ${restart}: differs from libjpeg-turbo by ${worst}`);
    assert.ok(err <= 6, `restart ${restart}: reconstruction error ${err}`);
  }
});

test('own DCT decoder: 12-bit with restart intervals vs pylibjpeg', { skip: hasPylibjpeg() ? false : 'needs python3 with pylibjpeg-libjpeg' }, () => {
  const w = 45, h = 19;
  const img = testImage(w, h, 4095);
  const dir = tmpDir('radml-jpeg12-');
  const path = join(dir, 'x.jpg');
  const jpeg = encodeGreyJpeg(img, w, h, 12, 3, 2);
  writeFileSync(path, jpeg);
  const ref = execFileSync('python3', ['-c', 'import sys, libjpeg; a = libjpeg.decode(open(sys.argv[1], "rb").read()); print(",".join(map(str, a.ravel().tolist())))', path], { encoding: 'utf8' })
    .trim().split(',').map(Number);
  const ours = decodeJpegDct(jpeg);
  assert.equal(ours.precision, 12);
  assert.equal(ref.length, w * h);
  let worst = 0;
  for (let i = 0; i < w * h; i++) worst = Math.max(worst, Math.abs(ours.data[i]! - ref[i]!));
  assert.ok(worst <= 1, `differs from pylibjpeg by ${worst}`);
});

function hasPylibjpeg(): boolean {
  try {
    execFileSync('python3', ['-c', 'import libjpeg'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
