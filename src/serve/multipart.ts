/**
 * multipart/related bodies for DICOMweb (WADO-RS responses, STOW-RS requests), PS3.18 §8.6, and
 * multipart/form-data model uploads (streamed to disk, RFC 7578).
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { InputError } from '../util/errors.js';
import { PathClaims, safeRelativePath, UploadLimitError, type UnpackedFile, type UnpackLimits } from './tar.js';

export function boundaryOf(contentType: string): string {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  if (!b) throw new InputError('MULTIPART_INVALID', `no boundary in Content-Type "${contentType}"`);
  return b;
}

export interface MultipartPart {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Split a multipart body into part bodies (headers dropped). */
export function parseMultipart(body: Uint8Array, contentType: string): Uint8Array[] {
  return parseMultipartParts(body, contentType).map((p) => p.body);
}

/** Split a multipart body into parts with their (lower-cased) headers. */
export function parseMultipartParts(body: Uint8Array, contentType: string): MultipartPart[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delim = Buffer.from('--' + boundaryOf(contentType));
  const parts: MultipartPart[] = [];
  let pos = buf.indexOf(delim);
  if (pos < 0) throw new InputError('MULTIPART_INVALID', 'multipart body without its boundary');
  for (;;) {
    let start = pos + delim.length;
    if (buf[start] === 0x2d && buf[start + 1] === 0x2d) break; // closing "--"
    const headerEnd = buf.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) throw new InputError('MULTIPART_INVALID', 'multipart part without a header end');
    const headers: Record<string, string> = {};
    for (const line of buf.subarray(start, headerEnd).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    start = headerEnd + 4;
    const next = buf.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), start);
    if (next < 0) throw new InputError('MULTIPART_INVALID', 'multipart body is truncated (no closing boundary)');
    parts.push({ headers, body: new Uint8Array(buf.subarray(start, next)) });
    pos = next + 2;
  }
  return parts;
}

/** Build a multipart/related body of DICOM files; returns body and Content-Type. */
export function buildMultipart(files: readonly Uint8Array[], type = 'application/dicom'): { body: Buffer; contentType: string } {
  const boundary = 'radml-' + randomBytes(12).toString('hex');
  const chunks: Buffer[] = [];
  for (const f of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\n\r\n`), Buffer.from(f.buffer, f.byteOffset, f.byteLength), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="${type}"; boundary=${boundary}` };
}

/**
 * The file name of a form-data part's Content-Disposition: `filename*=UTF-8''<percent-encoded>`
 * (RFC 5987, preferred when both are present), else `filename="…"` or a bare token; '' for a plain
 * field. A malformed `filename*` is a 400 (InputError), never a crash.
 * @example dispositionFilename(`form-data; name="f"; filename*=UTF-8''model.json`) // 'model.json'
 */
export function dispositionFilename(cd: string): string {
  const star = /filename\*\s*=\s*([^;]*)/i.exec(cd);
  if (star) {
    const v = star[1]!.trim();
    const m = /^([A-Za-z0-9!#$&+^`{}~_-]+)'[^']*'(.*)$/.exec(v);
    if (!m) throw new InputError('MULTIPART_INVALID', `Content-Disposition filename* "${v.slice(0, 80)}" is not charset'language'value (RFC 5987)`);
    if (m[1]!.toLowerCase() !== 'utf-8') throw new InputError('MULTIPART_INVALID', `Content-Disposition filename* uses charset ${m[1]!.slice(0, 20)}; only UTF-8 is accepted`);
    try {
      return decodeURIComponent(m[2]!);
    } catch {
      throw new InputError('MULTIPART_INVALID', `Content-Disposition filename* "${v.slice(0, 80)}" has a malformed percent-encoding`);
    }
  }
  const q = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(cd);
  if (!q) return '';
  return q[1] !== undefined ? q[1].replace(/\\(.)/g, '$1') : (q[2] ?? '');
}

/**
 * Files of a multipart/form-data upload held in memory: each part's `filename` (its relative path
 * inside the model folder, e.g. "model.json" or "checkpoint/checkpoint.bin") and bytes. The service
 * streams uploads with unpackFormData instead.
 * @example formDataFiles(body, req.headers['content-type'])
 */
export function formDataFiles(body: Uint8Array, contentType: string): { path: string; data: Uint8Array }[] {
  const out: { path: string; data: Uint8Array }[] = [];
  const claims = new PathClaims();
  for (const p of parseMultipartParts(body, contentType)) {
    const name = dispositionFilename(p.headers['content-disposition'] ?? '');
    if (name === '') continue; // plain form fields
    const path = safeRelativePath(name);
    claims.claimFile(path);
    out.push({ path, data: p.body });
  }
  return out;
}

const MAX_PART_HEADER = 16 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * Stream a multipart/form-data model upload into the (empty) folder `dest`: one file per part with a
 * filename (its path in the model folder), SHA-256 computed as the bytes pass, writes with
 * back-pressure, nothing buffered beyond one chunk; plain fields are read and dropped. Refused with a
 * 400 for a malformed body, unsafe or clashing names, with a 413 past a limit.
 * @example const files = await unpackFormData(req.raw, req.headers['content-type'], staging, limits);
 */
export async function unpackFormData(source: AsyncIterable<Buffer | Uint8Array | string>, contentType: string, dest: string, limits: UnpackLimits): Promise<UnpackedFile[]> {
  const delim = Buffer.from('\r\n--' + boundaryOf(contentType));
  const files: UnpackedFile[] = [];
  const claims = new PathClaims();
  let buf: Buffer = Buffer.from('\r\n'); // so the first boundary matches like the others
  let state = 'preamble' as 'preamble' | 'after' | 'headers' | 'body' | 'done';
  let part: { path: string; ws: WriteStream; hash: Hash; bytes: number; error?: Error } | { field: number } | undefined;
  let total = 0;
  let entries = 0;

  const emit = async (b: Buffer) => {
    if (b.length === 0 || !part) return;
    if ('field' in part) {
      part.field += b.length;
      if (part.field > MAX_FIELD_BYTES) throw new InputError('MULTIPART_INVALID', `a form field without a filename is longer than ${MAX_FIELD_BYTES} bytes`);
      return;
    }
    total += b.length;
    if (total > limits.maxInflatedBytes) throw new UploadLimitError('UPLOAD_TOO_LARGE_INFLATED', `the uploaded files add up to more than ${limits.maxInflatedBytes} bytes (limits.modelInflatedBytes)`);
    part.hash.update(b);
    part.bytes += b.length;
    if (part.error) throw part.error;
    if (!part.ws.write(b)) await once(part.ws, 'drain');
  };
  const closePart = async () => {
    if (part && !('field' in part)) {
      const p = part;
      p.ws.end();
      await finished(p.ws);
      files.push({ path: p.path, bytes: p.bytes, sha256: p.hash.digest('hex') });
    }
    part = undefined;
  };
  const openPart = (headerText: string) => {
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const name = dispositionFilename(headers['content-disposition'] ?? '');
    if (name === '') {
      part = { field: 0 };
      return;
    }
    if (++entries > limits.maxEntries) throw new UploadLimitError('UPLOAD_TOO_MANY_ENTRIES', `the upload has more than ${limits.maxEntries} files (limits.modelEntries)`);
    const path = safeRelativePath(name);
    claims.claimFile(path);
    const abs = join(dest, path);
    mkdirSync(dirname(abs), { recursive: true });
    const ws = createWriteStream(abs, { flags: 'wx' });
    const p: { path: string; ws: WriteStream; hash: Hash; bytes: number; error?: Error } = { path, ws, hash: createHash('sha256'), bytes: 0 };
    ws.on('error', (e) => (p.error = e));
    part = p;
  };
  const drain = async () => {
    for (;;) {
      if (state === 'preamble' || state === 'body') {
        const i = buf.indexOf(delim);
        if (i < 0) {
          const keep = Math.min(buf.length, delim.length - 1);
          if (state === 'body') await emit(buf.subarray(0, buf.length - keep));
          buf = buf.subarray(buf.length - keep);
          return;
        }
        if (state === 'body') {
          await emit(buf.subarray(0, i));
          await closePart();
        }
        buf = buf.subarray(i + delim.length);
        state = 'after';
      } else if (state === 'after') {
        if (buf.length < 2) return;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = 'done';
          return;
        }
        state = 'headers';
      } else if (state === 'headers') {
        const e = buf.indexOf('\r\n\r\n');
        if (e < 0) {
          if (buf.length > MAX_PART_HEADER) throw new InputError('MULTIPART_INVALID', `a multipart part header is longer than ${MAX_PART_HEADER} bytes`);
          return;
        }
        openPart(buf.subarray(0, e).toString('utf8'));
        buf = buf.subarray(e + 4);
        state = 'body';
      } else return;
    }
  };
  try {
    for await (const c of source) {
      const b = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      buf = buf.length ? Buffer.concat([buf, b]) : b;
      await drain();
      if (state === 'done') break;
    }
    if (state !== 'done') throw new InputError('MULTIPART_INVALID', state === 'preamble' ? 'multipart body without its boundary' : 'multipart body is truncated (no closing boundary)');
  } catch (e) {
    if (part && !('field' in part)) part.ws.destroy();
    throw e;
  }
  return files;
}
