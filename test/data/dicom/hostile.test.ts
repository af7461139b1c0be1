import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readDicom, readDicomHeader } from '../../../src/data/dicom/index.js';
import { InputError, RadmlError, UnsupportedError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';
import { dicomPath, needsDicom } from './oracle.js';

// Every file used here is also committed under test/fixtures/dicom, so these run without ../shared.
const skip = needsDicom('mr_small.dcm', 'mr_small_bigendian.dcm', 'mr_small_implicit_vr.dcm', 'mr_small_rle.dcm', 'mr_small_jpegls.dcm', 'jpeg_lossy.dcm', 'jpeg2000.dcm', 'rtplan_no_pixels.dcm', 'ct_small.dcm');
const bytes = (name: string) => new Uint8Array(readFileSync(dicomPath(name)!));

/** Offset of an explicit-VR little-endian US element's value, e.g. Rows (0028,0010). */
function usValueAt(buf: Uint8Array, group: number, element: number): number {
  for (let i = 132; i + 10 < buf.length; i++) {
    if (buf[i] === (group & 0xff) && buf[i + 1] === group >> 8 && buf[i + 2] === (element & 0xff) && buf[i + 3] === element >> 8 && buf[i + 4] === 0x55 && buf[i + 5] === 0x53) return i + 8;
  }
  throw new Error('element not found');
}

function setUs(buf: Uint8Array, group: number, element: number, value: number): Uint8Array {
  const out = buf.slice();
  const at = usValueAt(out, group, element);
  out[at] = value & 0xff;
  out[at + 1] = value >> 8;
  return out;
}

test('absurd declared image sizes are refused before allocating', { skip }, async () => {
  const mr = bytes('mr_small.dcm');
  const huge = setUs(setUs(mr, 0x0028, 0x0010, 65535), 0x0028, 0x0011, 65535);
  await assert.rejects(readDicom(huge, 'huge.dcm'), (e: unknown) => e instanceof UnsupportedError && /huge\.dcm: a 65535×65535 frame is larger/.test((e as Error).message));
  // Plausible size but far more pixels than the data holds: a truncation error, not a read past the end.
  const tall = setUs(mr, 0x0028, 0x0010, 4000);
  await assert.rejects(readDicom(tall, 'tall.dcm'), (e: unknown) => e instanceof InputError && /tall\.dcm: Pixel Data holds 8192 bytes/.test((e as Error).message));
  // A compressed frame whose codestream disagrees with the header is refused before decoding.
  const ls = setUs(bytes('mr_small_jpegls.dcm'), 0x0028, 0x0010, 8000);
  await assert.rejects(readDicom(ls, 'ls.dcm'), (e: unknown) => e instanceof InputError && /JPEG-LS codestream is 64×64 but the header says 64×8000/.test((e as Error).message));
});

test('an element length past the end of the file is reported as truncation', { skip }, async () => {
  const mr = bytes('mr_small.dcm').slice();
  // Pixel Data (7FE0,0010) OW: 4-byte length after 2 reserved bytes.
  let at = -1;
  for (let i = mr.length - 8200; i > 0; i--) if (mr[i] === 0xe0 && mr[i + 1] === 0x7f && mr[i + 2] === 0x10 && mr[i + 3] === 0x00) { at = i; break; }
  assert.ok(at > 0);
  new DataView(mr.buffer).setUint32(at + 8, 0x7ffffff0, true);
  await assert.rejects(readDicom(mr, 'long.dcm'), (e: unknown) => e instanceof InputError && /long\.dcm: truncated/.test((e as Error).message));
});

test('corrupt RLE segment offsets give a decode error', { skip }, async () => {
  const rle = bytes('mr_small_rle.dcm').slice();
  // The RLE header follows the first fragment's item tag: segment count 2, then offsets.
  const sig = [0x02, 0, 0, 0, 0x40, 0, 0, 0];
  let at = -1;
  for (let i = 0; i + 8 < rle.length; i++) if (sig.every((v, k) => rle[i + k] === v)) { at = i; break; }
  assert.ok(at > 0);
  new DataView(rle.buffer).setUint32(at + 8, 0xfffffff0, true);
  await assert.rejects(readDicom(rle, 'rle.dcm'), (e: unknown) => e instanceof InputError && /rle\.dcm: cannot decode RLE Lossless frame 1: RLE segment \d has a bad offset/.test((e as Error).message));
});

test('random corruption of real files never hangs and only throws typed errors', { skip }, async () => {
  const rng = new Rng(2024);
  const started = Date.now();
  const files = ['mr_small.dcm', 'mr_small_bigendian.dcm', 'mr_small_implicit_vr.dcm', 'mr_small_rle.dcm', 'mr_small_jpegls.dcm', 'jpeg_lossy.dcm', 'jpeg2000.dcm', 'rtplan_no_pixels.dcm', 'ct_small.dcm'];
  const untyped: string[] = [];
  for (const f of files) {
    const orig = bytes(f);
    for (let k = 0; k < 25; k++) {
      const b = orig.slice();
      const n = 1 + rng.int(8);
      for (let j = 0; j < n; j++) b[rng.int(b.length)] = rng.int(256);
      // Also cut some copies short.
      const input = k % 5 === 4 ? b.subarray(0, rng.int(b.length)) : b;
      try {
        const d = await readDicom(input, `${f}#${k}`);
        for (const v of d.image.data) if (!(v >= 0 && v <= 1)) { untyped.push(`${f}#${k}: display value ${v}`); break; }
      } catch (e) {
        if (!(e instanceof RadmlError)) untyped.push(`${f}#${k}: ${String(e)}`);
        else assert.ok(e.message.startsWith(`${f}#${k}: `), e.message);
      }
      try { readDicomHeader(input, f); } catch (e) { if (!(e instanceof RadmlError)) untyped.push(`${f}#${k} header: ${String(e)}`); }
    }
  }
  assert.deepEqual(untyped, []);
  assert.ok(Date.now() - started < 60_000);
});
