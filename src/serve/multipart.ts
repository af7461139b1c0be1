/**
 * multipart/related bodies for DICOMweb (WADO-RS responses, STOW-RS requests), PS3.18 §8.6.
 */
import { randomBytes } from 'node:crypto';
import { InputError } from '../util/errors.js';

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
 * Files of a multipart/form-data upload: each part's `filename` (its relative path inside the
 * model folder, e.g. "model.json" or "checkpoint/checkpoint.bin") and bytes.
 * @example formDataFiles(body, req.headers['content-type'])
 */
export function formDataFiles(body: Uint8Array, contentType: string): { path: string; data: Uint8Array }[] {
  const out: { path: string; data: Uint8Array }[] = [];
  for (const p of parseMultipartParts(body, contentType)) {
    const cd = p.headers['content-disposition'] ?? '';
    const m = /filename\*?=(?:UTF-8''([^;]+)|"([^"]*)"|([^;\s]+))/i.exec(cd);
    const name = m ? (m[1] !== undefined ? decodeURIComponent(m[1]) : (m[2] ?? m[3] ?? '')) : '';
    if (name === '') continue; // plain form fields
    out.push({ path: name, data: p.body });
  }
  return out;
}
