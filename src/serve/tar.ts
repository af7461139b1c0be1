/**
 * A minimal tar (ustar/pax, uncompressed or gzip) reader and writer for model-folder uploads. Only
 * regular files and directories are accepted; links, devices and paths that leave the folder are
 * refused, so a hostile archive cannot write outside where it is unpacked.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
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
