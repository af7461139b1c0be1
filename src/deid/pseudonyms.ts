/**
 * Keyed pseudonyms: the same source identifier and the same key give the same replacement at every
 * site and in every run, so studies of one patient still link after de-identification, while
 * without the key the mapping cannot be recomputed or reversed (HMAC-SHA-256).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../util/errors.js';

export interface Pseudonymiser {
  /** A new UID under the 2.25 (UUID-derived) root: `2.25.<decimal of 128 keyed bits>`, ≤ 64 chars. */
  uid(source: string): string;
  /** A patient pseudonym, e.g. `RADML-7K2Q…` (16 base-32 characters). */
  patient(sourcePatientId: string): string;
  /** Days to add to every date of this patient: −1 to −3,650, never 0, so no real date survives. */
  dateShiftDays(sourcePatientId: string): number;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function hmac(key: Uint8Array, domain: string, value: string): Buffer {
  return createHmac('sha256', key).update(domain).update('\0').update(value, 'utf8').digest();
}

/**
 * @example const p = makePseudonymiser(key); p.uid('1.2.3') === makePseudonymiser(key).uid('1.2.3') // true
 */
export function makePseudonymiser(key: Uint8Array): Pseudonymiser {
  if (key.byteLength < 16) throw new InputError('DEID_KEY', 'the de-identification key must be at least 16 bytes');
  return {
    uid(source) {
      const h = hmac(key, 'uid', source.trim());
      // 128 bits, version/variant bits left as hashed: 2.25 accepts any 128-bit integer.
      return `2.25.${BigInt('0x' + h.subarray(0, 16).toString('hex')).toString(10)}`;
    },
    patient(source) {
      const h = hmac(key, 'patient', source.trim());
      let out = '';
      for (let i = 0; i < 16; i++) out += BASE32[h[i]! & 31];
      return `RADML-${out}`;
    },
    dateShiftDays(source) {
      const h = hmac(key, 'date-shift', source.trim());
      return -(1 + (h.readUInt32BE(0) % 3650));
    },
  };
}

/** A new random key as key-file text (32 random bytes in hex) for users who bring none. */
export function newKeyText(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Read a key file: its bytes are the secret (hex or base64 text is used as written). Warns (via the
 * returned flag) when others can read it.
 */
export function readKeyFile(path: string): { key: Buffer; worldReadable: boolean } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError('DEID_KEY', `${path}: cannot read the key file (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file: path, cause: e });
  }
  const key = Buffer.from(bytes.toString('utf8').trim(), 'utf8');
  if (key.byteLength < 16) throw new InputError('DEID_KEY', `${path}: the key file holds ${key.byteLength} byte(s); use at least 16 (e.g. \`openssl rand -hex 32 > ${path}\`)`, { file: path });
  return { key, worldReadable: (statSync(path).mode & 0o004) !== 0 };
}

/** Shift a DA value (YYYYMMDD, also ranges "A-B" and multiple values) by whole days. */
export function shiftDate(value: string, days: number): string {
  return value
    .split('\\')
    .map((v) =>
      v
        .split('-')
        .map((d) => (/^\d{8}$/.test(d.trim()) ? shiftYmd(d.trim(), days) : d))
        .join('-'),
    )
    .join('\\');
}

/** Shift the date part of a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX), keeping the time and offset. */
export function shiftDateTime(value: string, days: number): string {
  return value
    .split('\\')
    .map((v) => {
      const m = /^(\d{8})(.*)$/.exec(v.trim());
      if (m) return shiftYmd(m[1]!, days) + m[2]!;
      // Year-only or year-month DT: shift the first day of it, keep the precision.
      const short = /^(\d{4})(\d{2})?$/.exec(v.trim());
      if (!short) return v;
      const full = shiftYmd(`${short[1]}${short[2] ?? '01'}01`, days);
      return short[2] ? full.slice(0, 6) : full.slice(0, 4);
    })
    .join('\\');
}

function shiftYmd(ymd: string, days: number): string {
  const t = Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)) - 1, Number(ymd.slice(6, 8)));
  if (Number.isNaN(t)) return ymd;
  const d = new Date(t + days * 86_400_000);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
