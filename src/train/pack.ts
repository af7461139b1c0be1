/**
 * A small self-describing binary container for training state: a JSON header followed by raw
 * little-endian float32 blobs. Any nested value may hold Float32Arrays (parameters, optimizer
 * moments); they are moved into the blob section and referenced from the JSON, so a checkpoint is
 * one file that is written atomically as a whole.
 *
 * Layout: magic "RDMLPACK" | uint32 header byte length | header JSON (UTF-8) | padding to 4 | blobs.
 */
import { InputError } from '../util/errors.js';

const MAGIC = 'RDMLPACK';

interface BlobRef { $f32: number; length: number }

/**
 * Encode a JSON-like value that may contain Float32Arrays.
 *
 * @example const bytes = pack({ epoch: 3, w: new Float32Array([1, 2]) }); unpack(bytes).w // Float32Array [1, 2]
 */
export function pack(value: unknown): Uint8Array {
  const blobs: Float32Array[] = [];
  const header = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Float32Array) {
      blobs.push(v);
      const ref: BlobRef = { $f32: blobs.length - 1, length: v.length };
      return ref;
    }
    if (ArrayBuffer.isView(v)) throw new TypeError('pack: only Float32Array typed arrays are supported');
    return v;
  });
  const headerBytes = new TextEncoder().encode(header);
  const headerEnd = 8 + 4 + headerBytes.byteLength;
  const blobStart = Math.ceil(headerEnd / 4) * 4;
  const total = blobStart + blobs.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.byteLength, true);
  out.set(headerBytes, 12);
  let off = blobStart;
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), off);
    off += b.byteLength;
  }
  return out;
}

/** Decode bytes written by `pack`. Throws InputError (naming `file`) on a damaged container. */
export function unpack(bytes: Uint8Array, file = '<pack>'): unknown {
  const bad = (why: string) => new InputError('CHECKPOINT_CORRUPT', `${file}: ${why}`, { file });
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw bad('not a radml training checkpoint');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(8, true);
  if (12 + hlen > bytes.byteLength) throw bad('truncated header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
  } catch {
    throw bad('damaged header');
  }
  // Collect blob sizes in reference order to find each blob's offset.
  const sizes: number[] = [];
  JSON.stringify(header, (_k, v: unknown) => {
    if (isRef(v)) sizes[v.$f32] = v.length;
    return v;
  });
  const offsets: number[] = [];
  let off = Math.ceil((12 + hlen) / 4) * 4;
  for (let i = 0; i < sizes.length; i++) {
    offsets.push(off);
    off += (sizes[i] ?? 0) * 4;
  }
  if (off > bytes.byteLength) throw bad(`truncated: ${bytes.byteLength} bytes, expected ${off}`);
  const revive = (v: unknown): unknown => {
    if (isRef(v)) {
      const start = offsets[v.$f32]!;
      // Copy so the result is aligned and independent of the input buffer.
      const a = new Float32Array(v.length);
      new Uint8Array(a.buffer).set(bytes.subarray(start, start + v.length * 4));
      return a;
    }
    if (Array.isArray(v)) return v.map(revive);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    return v;
  };
  return revive(header);
}

function isRef(v: unknown): v is BlobRef {
  return v !== null && typeof v === 'object' && typeof (v as BlobRef).$f32 === 'number' && typeof (v as BlobRef).length === 'number' && Object.keys(v).length === 2;
}
