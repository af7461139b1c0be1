/**
 * Tar (ustar/pax/gnu, uncompressed or gzip) for model-folder uploads. Uploads are read as a stream
 * (tar-stream) and written to a staging folder entry by entry, hashing as the bytes pass, with
 * limits on the total inflated size and the number of entries, so a decompression bomb is refused
 * after at most `maxInflatedBytes` of work and never sits in memory. Only regular files and
 * directories are accepted; links, devices, paths that leave the folder and file/folder name
 * clashes are refused, so a hostile archive cannot write outside where it is unpacked. The small
 * in-memory reader and writer are kept for clients and tests.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { InputError } from '../util/errors.js';

export interface TarEntry {
  path: string;
  data: Uint8Array;
}

const MAX_UNPACKED = 2 * 1024 * 1024 * 1024;

function text(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return Buffer.from(b.subarray(off, end)).toString('utf8');
}

function octal(b: Uint8Array, off: number, len: number): number {
  const s = text(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new InputError('TAR_CORRUPT', `tar header field "${s}" is not an octal number`);
  return parseInt(s, 8);
}

/** Reject absolute paths, `..` segments and odd characters; return the normalised relative path. */
export function safeRelativePath(p: string): string {
  const parts = p.replace(/\\/g, '/').split('/').filter((x) => x !== '' && x !== '.');
  if (p.startsWith('/') || parts.some((x) => x === '..') || parts.length === 0) throw new InputError('TAR_UNSAFE_PATH', `archive path "${p}" is absolute or leaves the folder`);
  if (parts.some((x) => /[\0-\x1f]/.test(x))) throw new InputError('TAR_UNSAFE_PATH', `archive path "${p}" has control characters`);
  return parts.join('/');
}

/**
 * Read the regular files of a tar (optionally gzipped) archive.
 * @example readTar(bytes).map((e) => e.path) // ['model.json', 'model.onnx']
 */
export function readTar(bytes: Uint8Array): TarEntry[] {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b, { maxOutputLength: MAX_UNPACKED });
    } catch (e) {
      throw new InputError('TAR_CORRUPT', `cannot gunzip the archive (${(e as Error).message})`);
    }
  }
  const out: TarEntry[] = [];
  let off = 0;
  let paxPath: string | undefined;
  let longName: string | undefined;
  while (off + 512 <= b.length) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const stored = octal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== stored) throw new InputError('TAR_CORRUPT', `tar header at byte ${off} has a bad checksum (not a tar archive?)`);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const prefix = text(h, 345, 155);
    let name = text(h, 0, 100);
    if (prefix) name = prefix + '/' + name;
    const dataStart = off + 512;
    if (dataStart + size > b.length) throw new InputError('TAR_CORRUPT', `tar entry "${name}" runs past the end of the archive (truncated)`);
    const data = b.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      paxPath = m?.[1];
      continue;
    }
    if (type === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const path = paxPath ?? longName ?? name;
    paxPath = undefined;
    longName = undefined;
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') throw new InputError('TAR_UNSUPPORTED', `archive entry "${path}" is a link or special file (type ${type}); only regular files are accepted`);
    out.push({ path: safeRelativePath(path), data: new Uint8Array(data) });
  }
  return out;
}

function header(name: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number, len: number) => h.set(Buffer.from(s, 'utf8').subarray(0, len), off);
  if (Buffer.byteLength(name) > 100) throw new InputError('TAR_NAME_TOO_LONG', `"${name}" is longer than 100 bytes`);
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(size.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  h[156] = 0x30;
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const x of h) sum += x;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** Write a tar archive of files (for clients and tests). @example writeTar([{ path: 'model.json', data }]) */
export function writeTar(entries: readonly TarEntry[], opts: { gzip?: boolean } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const e of entries) {
    chunks.push(header(safeRelativePath(e.path), e.data.length), e.data);
    const pad = (512 - (e.data.length % 512)) % 512;
    if (pad) chunks.push(new Uint8Array(pad));
  }
  chunks.push(new Uint8Array(1024));
  const tar = Buffer.concat(chunks);
  return opts.gzip ? gzipSync(tar) : new Uint8Array(tar);
}

/** Limits for unpacking an upload. */
export interface UnpackLimits {
  /** Largest total of file bytes after decompression. */
  maxInflatedBytes: number;
  /** Most entries (files and folders). */
  maxEntries: number;
  /**
   * Most gunzip output per compressed input byte (beyond the first MAX_RATIO_SLACK bytes): model
   * weights compress about 1.1:1, a bomb 1000:1. Default DEFAULT_MAX_INFLATE_RATIO.
   */
  maxInflateRatio?: number;
}

export const DEFAULT_MAX_INFLATE_RATIO = 100;
const MAX_RATIO_SLACK = 16 * 1024 * 1024;

/** An upload went over one of its limits: answered 413, and the message names the limit. */
export class UploadLimitError extends InputError {
  /** Read by Fastify's error handler. */
  readonly statusCode = 413;
}

/** A file written from an upload, with the SHA-256 computed while its bytes streamed past. */
export interface UnpackedFile {
  path: string;
  bytes: number;
  sha256: string;
}

function shorten(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + '…' : s;
}

/**
 * The paths of one upload so far, so that a file and a folder of the same name ("a" and "a/b") or a
 * repeated path are refused with a 400 before anything is written over.
 */
export class PathClaims {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  /** @example claims.claimFile('checkpoint/checkpoint.bin') */
  claimFile(path: string): void {
    if (this.files.has(path)) throw new InputError('UPLOAD_NAME_CLASH', `"${shorten(path)}" appears twice in the upload`);
    if (this.dirs.has(path)) throw new InputError('UPLOAD_NAME_CLASH', `"${shorten(path)}" is both a file and a folder in the upload`);
    this.claimParents(path);
    this.files.add(path);
  }

  claimDir(path: string): void {
    if (this.files.has(path)) throw new InputError('UPLOAD_NAME_CLASH', `"${shorten(path)}" is both a file and a folder in the upload`);
    this.claimParents(path);
    this.dirs.add(path);
  }

  private claimParents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (this.files.has(d)) throw new InputError('UPLOAD_NAME_CLASH', `"${shorten(d)}" is both a file and a folder in the upload`);
      this.dirs.add(d);
    }
  }
}

/**
 * Pass `source` through, refusing it (UploadLimitError) once more than `limit` bytes have arrived;
 * `seen.bytes` counts them for the audit entry.
 * @example for await (const c of boundedBytes(req.raw, 512 << 20)) …
 */
export async function* boundedBytes(source: AsyncIterable<Buffer | Uint8Array | string>, limit: number, seen: { bytes: number } = { bytes: 0 }): AsyncGenerator<Buffer> {
  for await (const c of source) {
    const b = typeof c === 'string' ? Buffer.from(c) : Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    seen.bytes += b.length;
    if (seen.bytes > limit) throw new UploadLimitError('UPLOAD_TOO_LARGE', `the upload is larger than ${limit} bytes (limits.modelBytes)`);
    yield b;
  }
}

/**
 * `source`, gunzipped (streaming, on libuv's pool) when it starts with the gzip magic; at most
 * `limit` bytes out and at most `ratio` bytes out per byte in.
 */
async function* inflated(source: AsyncIterable<Buffer>, limit: number, ratio: number): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let compressed = 0;
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value]);
  }
  async function* all(): AsyncGenerator<Buffer> {
    compressed += head.length;
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      compressed += r.value.length;
      yield r.value;
    }
  }
  let out: AsyncIterable<Buffer> = all();
  const gzipped = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (gzipped) {
    const gunzip = createGunzip();
    pipeline(Readable.from(all()), gunzip).catch(() => {}); // errors surface through gunzip below
    out = gunzip;
  }
  let n = 0;
  try {
    for await (const c of out) {
      n += c.length;
      if (n > limit) throw new UploadLimitError('UPLOAD_TOO_LARGE_INFLATED', `the archive inflates to more than ${limit} bytes (limits.modelInflatedBytes); refused as a possible decompression bomb`);
      if (gzipped && n > MAX_RATIO_SLACK + ratio * compressed) throw new UploadLimitError('UPLOAD_INFLATE_RATIO', `the archive inflates more than ${ratio}:1 (${compressed} bytes became over ${n}); refused as a decompression bomb`);
      yield c;
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError('TAR_CORRUPT', `cannot gunzip the archive (${(e as Error).message})`);
  } finally {
    await it.return?.();
  }
}

class HashTap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Stream a tar or tar.gz upload into the (empty) folder `dest`: entries are written one by one with
 * their SHA-256 computed on the way, nothing is held in memory, and the upload is refused as soon
 * as a limit is passed (a declared entry size counts before any of its bytes are inflated).
 * @example const files = await unpackTar(createReadStream('model.tar.gz'), staging, { maxInflatedBytes: 2 ** 30, maxEntries: 1000 });
 */
export async function unpackTar(source: AsyncIterable<Buffer | Uint8Array | string>, dest: string, limits: UnpackLimits): Promise<UnpackedFile[]> {
  const extract = tarStream.extract();
  const files: UnpackedFile[] = [];
  const claims = new PathClaims();
  let entries = 0;
  let total = 0;
  let first: unknown;
  const fail = (e: unknown) => {
    first ??= e;
    extract.destroy(e as Error);
  };
  const consume = async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const type = h.type ?? 'file'; // pax and GNU long-name records are applied by tar-stream itself
      if (++entries > limits.maxEntries) throw new UploadLimitError('UPLOAD_TOO_MANY_ENTRIES', `the archive has more than ${limits.maxEntries} entries (limits.modelEntries)`);
      if (type === 'directory') {
        claims.claimDir(safeRelativePath(h.name));
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') throw new InputError('TAR_UNSUPPORTED', `archive entry "${shorten(h.name)}" is a ${type}; only regular files and folders are accepted`);
      const path = safeRelativePath(h.name);
      claims.claimFile(path);
      total += h.size ?? 0;
      if (total > limits.maxInflatedBytes) throw new UploadLimitError('UPLOAD_TOO_LARGE_INFLATED', `the archive's files add up to more than ${limits.maxInflatedBytes} bytes (limits.modelInflatedBytes); refused as a possible decompression bomb`);
      const abs = join(dest, path);
      mkdirSync(dirname(abs), { recursive: true });
      const tap = new HashTap();
      await pipeline(entry, tap, createWriteStream(abs, { flags: 'wx' }));
      files.push({ path, bytes: tap.bytes, sha256: tap.hash.digest('hex') });
    }
  };
  // Tar headers and padding add at most 1.5 KiB per entry beyond the file bytes.
  const streamLimit = limits.maxInflatedBytes + (limits.maxEntries + 8) * 1536;
  const feeding = pipeline(inflated(boundedBytes(source, Number.MAX_SAFE_INTEGER), streamLimit, limits.maxInflateRatio ?? DEFAULT_MAX_INFLATE_RATIO), extract).catch(fail);
  await Promise.all([consume().catch(fail), feeding]);
  if (first !== undefined) {
    if (first instanceof InputError) throw first;
    throw new InputError('TAR_CORRUPT', `the upload is not a readable tar archive (${(first as Error).message})`);
  }
  return files;
}
