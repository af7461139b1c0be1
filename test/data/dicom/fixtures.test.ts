/**
 * The DICOM reader on fixtures generated here (no ../shared needed): every fixture in every encoding
 * against the values it was built from, and against pydicom when the test venv has it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom, readDicomHeader, DicomInflateLimitError, DEFAULT_MAX_INFLATED_BYTES } from '../../../src/data/dicom/index.js';
import { parseDicomNumber } from '../../../src/data/dicom/header.js';
import { writeDicom, uidFromName, type DicomElement } from '../../../src/data/dicom/writer.js';
import { InputError, RadmlError, UnsupportedError } from '../../../src/util/errors.js';
import { fixtures, encodeFixture, withoutMetaElement, type Encoding } from './fixtures.js';
import { compareCorpus } from './corpus.js';
import { tmpDir } from './oracle.js';

const hasPydicom = (() => {
  try {
    execFileSync('python3', ['-c', 'import pydicom, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('every generated fixture decodes to the values it was built from, in every encoding', async () => {
  let checked = 0;
  const encodings = new Set<Encoding>();
  for (const f of fixtures()) {
    for (const e of f.encodings) {
      const name = `${f.name}.${e}.dcm`;
      const d = await readDicom(encodeFixture(f, e), name);
      assert.equal(d.frames, f.frames, `${name}: frames`);
      const n = f.rows * f.columns;
      for (let k = 0; k < f.frames; k++) {
        const fr = await d.readFrame(k);
        assert.equal(fr.modalityValues.length, n, `${name} frame ${k}: size`);
        for (let i = 0; i < n; i++) {
          const want = f.expected[k * n + i]!;
          // Float32 holds radml's modality values: allow its rounding on large values.
          const tol = 1e-3 + Math.abs(want) * 1.2e-7;
          if (Math.abs(fr.modalityValues[i]! - want) > tol) assert.fail(`${name} frame ${k} pixel ${i}: radml ${fr.modalityValues[i]}, expected ${want}`);
        }
        for (const v of fr.image.data) assert.ok(v >= 0 && v <= 1, `${name}: display value ${v}`);
      }
      checked++;
      encodings.add(e);
    }
  }
  assert.ok(checked >= 80, `only ${checked} fixture files`);
  assert.equal(encodings.size, 8);
});

test('generated fixtures decode like pydicom (all encodings)', { skip: hasPydicom ? false : 'needs python3 with pydicom and numpy (test/requirements.txt)' }, async () => {
  const dir = tmpDir('radml-dicom-fixtures-');
  const files: string[] = [];
  for (const f of fixtures()) {
    for (const e of f.encodings) {
      // pydicom cannot read a big-endian data set without File Meta; and pydicom 3.0 byte-swaps big-endian
      // palette LUT data (see PYDICOM_TWINS in corpus.ts; radml matches the built values in the test above).
      if (e === 'no-meta-be' || (e === 'explicit-be' && f.name === 'palette16')) continue;
      const path = join(dir, `${f.name}.${e}.dcm`);
      writeFileSync(path, encodeFixture(f, e));
      files.push(path);
    }
  }
  const results = await compareCorpus(files);
  const bad = results.filter((r) => r.outcome !== 'equal');
  assert.deepEqual(bad, []);
  assert.equal(results.length, files.length);
});

/** A deflated data set (of an 8-bit image with `pixels` zero bytes) that compresses ~1000:1. */
function deflatedImage(pixels: number): Uint8Array {
  const side = Math.floor(Math.sqrt(pixels));
  const f = {
    name: 'bomb', rows: side, columns: side, frames: 1, encodings: ['deflated' as Encoding], expected: new Float64Array(0),
    elements: [
      { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
      { tag: 0x00080018, vr: 'UI', value: uidFromName('bomb') },
      { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: side }, { tag: 0x00280011, vr: 'US', value: side },
      { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
      { tag: 0x7fe00010, vr: 'OB', value: new Uint8Array(side * side) },
    ] as DicomElement[],
  };
  return encodeFixture(f, 'deflated');
}

test('a deflate bomb is refused at maxInflatedBytes with a typed error naming the file (zlib stops at the limit)', async () => {
  const small = deflatedImage(2048 * 2048); // 4 MiB inflated, a few KB on disk
  assert.ok(small.length < 16 * 1024, `${small.length} bytes`);
  const limit = 1024 * 1024;
  for (const read of [() => readDicom(small, 'bomb.dcm', { maxInflatedBytes: limit }), async () => readDicomHeader(small, 'bomb.dcm', { maxInflatedBytes: limit })]) {
    await assert.rejects(read(), (e: unknown) => {
      assert.ok(e instanceof DicomInflateLimitError && e instanceof InputError, String(e));
      assert.equal(e.code, 'DICOM_INFLATE_LIMIT');
      assert.equal(e.file, 'bomb.dcm');
      assert.equal(e.limit, limit);
      assert.match(e.message, /^bomb\.dcm: the deflated data set \(\d+ bytes\) inflates to more than 1048576 bytes.*maxInflatedBytes/);
      return true;
    });
  }
  // Within the limit it decodes; the default limit is a sane 128 MiB.
  const d = await readDicom(small, 'ok.dcm', { maxInflatedBytes: 8 * 1024 * 1024 });
  assert.equal(d.image.width, 2048);
  assert.equal(DEFAULT_MAX_INFLATED_BYTES, 128 * 1024 * 1024);
  await assert.rejects(readDicom(small, 'x.dcm', { maxInflatedBytes: 0 }), (e: unknown) => e instanceof InputError && /maxInflatedBytes must be a positive/.test((e as Error).message));
  // Corrupt deflate data is an InputError too, not a zlib stack.
  const broken = small.slice();
  broken.fill(0xff, broken.length - 200);
  await assert.rejects(readDicom(broken, 'broken.dcm'), (e: unknown) => e instanceof InputError && /^broken\.dcm: /.test((e as Error).message));
});

/** Offset of the value of element (group,element) with a short VR in explicit-LE bytes. */
function valueAt(bytes: Uint8Array, group: number, element: number): number {
  for (let i = 132; i + 8 < bytes.length; i++) {
    if (bytes[i] === (group & 0xff) && bytes[i + 1] === group >> 8 && bytes[i + 2] === (element & 0xff) && bytes[i + 3] === element >> 8 && bytes[i + 4]! >= 0x41 && bytes[i + 5]! >= 0x41) return i + 8;
  }
  throw new Error(`element ${group.toString(16)},${element.toString(16)} not found`);
}

/** Overwrite an element's value in explicit-LE bytes with same-length text the writer would refuse to write. */
function patchText(bytes: Uint8Array, group: number, element: number, to: string): Uint8Array {
  const out = Buffer.from(bytes);
  out.write(to, valueAt(out, group, element), 'latin1');
  return new Uint8Array(out);
}

function patchUs(bytes: Uint8Array, group: number, element: number, value: number): Uint8Array {
  const out = bytes.slice();
  const at = valueAt(out, group, element);
  out[at] = value & 0xff;
  out[at + 1] = value >> 8;
  return out;
}

function mono8(rows: number, columns: number, frames: number, extra: DicomElement[] = []): Uint8Array {
  return writeDicom([
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00080018, vr: 'UI', value: uidFromName(`mono8-${rows}-${columns}-${frames}`) },
    { tag: 0x00280002, vr: 'US', value: 1 }, { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280008, vr: 'IS', value: frames },
    { tag: 0x00280010, vr: 'US', value: rows }, { tag: 0x00280011, vr: 'US', value: columns },
    { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
    ...extra,
    { tag: 0x7fe00010, vr: 'OB', value: Uint8Array.from({ length: rows * columns * frames }, (_, i) => i % 251) },
  ]);
}

test("Number of Frames that is not a decimal integer ('1A', '0x0F', '0b11') is refused, never read as fewer frames", async () => {
  const many = mono8(2, 2, 1000);
  for (const bad of ['1A', '0x0F', '0b11']) {
    const bytes = patchText(many, 0x0028, 0x0008, bad.padEnd(4, ' '));
    await assert.rejects(readDicom(bytes, 'frames.dcm'), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal((e as RadmlError).code, 'DICOM_BAD_NUMBER_OF_FRAMES');
      assert.match((e as Error).message, new RegExp(`^frames\\.dcm: Number of Frames \\(0028,0008\\) is '${bad.trim()}', not a whole number`));
      return true;
    });
    assert.equal(readDicomHeader(bytes, 'frames.dcm').invalidNumberOfFrames, bad.trim());
  }
  const ok = await readDicom(many, 'ok.dcm');
  assert.equal(ok.frames, 1000);
});

test('DS/IS numbers are strict decimals: 0x…, 0b…, 0o…, Infinity and blanks are not numbers', async () => {
  for (const [text, want] of [['12', 12], [' -3.5 ', -3.5], ['+1e3', 1000], ['.5', 0.5], ['7.', 7]] as const) assert.equal(parseDicomNumber(text), want, text);
  for (const text of ['0x1F', '0b1', '0o7', 'Infinity', '', '1A', '1,5', 'NaN']) assert.equal(parseDicomNumber(text), undefined, text);
  assert.equal(parseDicomNumber('2.0', true), undefined);
  // A window written as hex is ignored (min–max is used), not read as 31.
  const bytes = patchText(mono8(4, 4, 1, [{ tag: 0x00281050, vr: 'DS', value: '1234' }, { tag: 0x00281051, vr: 'DS', value: '4321' }]), 0x0028, 0x1050, '0x1F');
  const d = await readDicom(bytes, 'hex.dcm');
  assert.deepEqual(d.header.windowCenter, []);
  assert.equal(d.voi, 'min-max');
});

test('YBR_FULL_422 native data decodes without Node deprecation warnings and as pydicom converts it', async () => {
  const rows = 2, columns = 4;
  // Y1 Y2 Cb Cr per pixel pair.
  const ybr = Uint8Array.from([100, 110, 128, 128, 50, 200, 90, 170, 0, 255, 255, 0, 16, 235, 128, 128]);
  const bytes = writeDicom([
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00080018, vr: 'UI', value: uidFromName('ybr422') },
    { tag: 0x00280002, vr: 'US', value: 3 }, { tag: 0x00280004, vr: 'CS', value: 'YBR_FULL_422' },
    { tag: 0x00280006, vr: 'US', value: 0 },
    { tag: 0x00280010, vr: 'US', value: rows }, { tag: 0x00280011, vr: 'US', value: columns },
    { tag: 0x00280100, vr: 'US', value: 8 }, { tag: 0x00280101, vr: 'US', value: 8 }, { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x7fe00010, vr: 'OB', value: ybr },
  ]);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  // A Buffer (what readFile returns) is the case that used to hit the deprecated Buffer() constructor.
  const d = await readDicom(Buffer.from(bytes), 'ybr422.dcm');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.deepEqual(warnings, []);
  // Reference: YCbCr → RGB (PS3.3 C.7.6.3.1.2, full range), rounded and clipped to 8 bits, then BT.601 luma.
  const expected: number[] = [];
  for (let p = 0; p < 4; p++) {
    const cb = ybr[p * 4 + 2]! - 128, cr = ybr[p * 4 + 3]! - 128;
    for (const y of [ybr[p * 4]!, ybr[p * 4 + 1]!]) {
      const clip = (v: number) => Math.min(255, Math.max(0, Math.floor(v + 0.5)));
      const r = clip(y + 1.402 * cr), g = clip(y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr), b = clip(y + 1.772 * cb);
      expected.push(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(d.modalityValues[i]! - expected[i]!) < 1e-3, `pixel ${i}: ${d.modalityValues[i]} vs ${expected[i]}`);
});

test('errors speak DICOM, not parser internals; big-endian without meta and meta without a transfer syntax are read; 1-bit RLE is unsupported', async () => {
  const all = fixtures();
  const messages: string[] = [];
  for (const f of all) {
    for (const e of ['explicit-le', 'implicit-le', 'explicit-be', 'rle'] as Encoding[]) {
      if (!f.encodings.includes(e)) continue;
      const bytes = encodeFixture(f, e);
      for (const keep of [0.3, 0.6, 0.9, 0.99]) {
        const name = `${f.name}.${e}.cut${keep}.dcm`;
        try {
          await readDicom(bytes.subarray(0, Math.floor(bytes.length * keep)), name);
        } catch (err) {
          assert.ok(err instanceof RadmlError, `${name}: untyped ${String(err)}`);
          assert.ok(err.message.startsWith(`${name}: `), err.message);
          messages.push(err.message);
        }
      }
    }
  }
  assert.ok(messages.length > 50);
  for (const m of messages) assert.doesNotMatch(m, /maxPosition|dicomParser|ByteStream|byteArray|parseDicomDataSet|readDicomElement/, m);
  // Explicit VR big endian without File Meta is read (pydicom reads it too), not "not a DICOM file".
  const be = all.find((f) => f.name === 'ct_signed16')!;
  const d = await readDicom(encodeFixture(be, 'no-meta-be'), 'be.dcm');
  assert.equal(d.header.transferSyntaxUid, '1.2.840.10008.1.2.2');
  assert.equal(d.modalityValues[0], be.expected[0]);
  // File Meta without a Transfer Syntax UID: the encoding is inferred from the data set, as pydicom does.
  for (const enc of ['implicit-le', 'explicit-le'] as Encoding[]) {
    const noTs = withoutMetaElement(encodeFixture(be, enc), 0x00020010);
    const m = await readDicom(noTs, 'no-ts.dcm');
    assert.equal(m.header.transferSyntaxUid, enc === 'implicit-le' ? '1.2.840.10008.1.2' : '1.2.840.10008.1.2.1');
    assert.deepEqual([...m.modalityValues], [...be.expected]);
  }
  // 1-bit RLE: unsupported (a feature), not corrupt. An 8-bit RLE file relabelled as 1 bit per pixel.
  const rle8 = encodeFixture(all.find((f) => f.name === 'mono8_odd_3frames')!, 'rle');
  const rle1 = patchUs(patchUs(patchUs(rle8, 0x0028, 0x0100, 1), 0x0028, 0x0101, 1), 0x0028, 0x0102, 0);
  await assert.rejects(readDicom(rle1, 'rle1.dcm'), (e: unknown) => e instanceof UnsupportedError && /^rle1\.dcm: RLE Lossless with Bits Allocated 1 is not supported/.test((e as Error).message));
});

test('Float and Double Float Pixel Data: read as stored, not "is not an image"', async () => {
  for (const f of fixtures().filter((x) => x.name.includes('float'))) {
    const d = await readDicom(encodeFixture(f, 'explicit-le'), `${f.name}.dcm`);
    assert.equal(d.header.pixelDataKind, f.name === 'float' ? 'float' : 'double');
    assert.equal(d.header.hasPixelData, true);
    assert.equal(d.voi, 'min-max');
  }
  // Float Pixel Data with a compressed transfer syntax is corrupt, said plainly.
  const f = fixtures().find((x) => x.name === 'float')!;
  const bytes = Buffer.from(encodeFixture(f, 'explicit-le'));
  const at = bytes.indexOf('1.2.840.10008.1.2.1\0', 0, 'latin1');
  bytes.write('1.2.840.10008.1.2.5\0', at, 'latin1');
  await assert.rejects(readDicom(new Uint8Array(bytes), 'f.dcm'), (e: unknown) => e instanceof InputError && /Float Pixel Data with the compressed transfer syntax RLE Lossless/.test((e as Error).message));
  // A file with no pixel element at all still says so, naming the SOP class once.
  const plan = writeDicom([{ tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.481.5' }, { tag: 0x00080018, vr: 'UI', value: uidFromName('plan') }]);
  await assert.rejects(readDicom(plan, 'plan.dcm'), (e: unknown) => e instanceof UnsupportedError && /^plan\.dcm: no Pixel Data .*; SOP class RT Plan Storage is not an image$/.test((e as Error).message));
});
