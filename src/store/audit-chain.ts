/**
 * The audit log's keyed hash chain. Each entry's hash covers its own fields and the previous entry's
 * hash, so editing, deleting or reordering any row breaks every hash after it; the chain's head
 * (last seq and hash) is kept separately so deleting the newest rows is caught too.
 *
 * Keyed: from `keyedFromSeq` on, the hash is an HMAC-SHA256 under a secret key kept in a file
 * outside the database (0600, config `auditKeyFile`). Someone who can write the database but not
 * read the key file cannot produce a valid entry, so they cannot rewrite history — not even the
 * older unkeyed entries, whose last hash is sealed by the first keyed one. What the key does not
 * stop: deleting the newest entries together with the head row (truncation) — record the head
 * printed by `radml audit verify` elsewhere to catch that — and anyone who holds the key file.
 * Entries before `keyedFromSeq` (written before the key existed) are plain SHA-256.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { readJsonWithSchema } from '../util/json.js';
import { InputError } from '../util/errors.js';
import type { AuditEntry } from './schema.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The secret of the chain and the first entry it covers. */
export interface AuditKey {
  key: Buffer;
  keyedFromSeq: number;
}

export const auditKeyFileSchema = z.object({
  format: z.literal('radml-audit-key'),
  version: z.literal(1),
  /** 32 random bytes, base64. */
  key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, '32 bytes in base64'),
  /** Entries with seq ≥ this are HMAC-keyed; earlier ones predate the key. */
  keyedFromSeq: z.number().int().min(1),
  createdAt: z.string(),
});

/** JSON with object keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}

type HashedFields = Pick<AuditEntry, 'seq' | 'ts' | 'actor' | 'action' | 'subject' | 'details'>;

/**
 * Hash of one entry given the previous hash: HMAC-SHA256 under `key` for entries it covers, plain
 * SHA-256 otherwise.
 * @example auditHash(GENESIS_HASH, { seq: 1, ts: 0, actor: 'a', action: 'x', subject: 's', details: {} }, key)
 */
export function auditHash(prevHash: string, e: HashedFields, key?: AuditKey): string {
  const body = canonicalJson({ seq: e.seq, ts: e.ts, actor: e.actor, action: e.action, subject: e.subject, details: e.details });
  const h = key && e.seq >= key.keyedFromSeq ? createHmac('sha256', key.key) : createHash('sha256');
  return h.update(prevHash).update('\n').update(body).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Read the audit key file. Throws InputError naming the file when it is malformed or readable by
 * others than its owner.
 * @example const key = readAuditKey('radml-serve/audit.key');
 */
export function readAuditKey(file: string): AuditKey {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new InputError('AUDIT_KEY_PERMISSIONS', `${file}: the audit key file is readable by others (mode ${mode.toString(8)}); chmod 600 it`, { file });
  const j = readJsonWithSchema(file, auditKeyFileSchema, 'AUDIT_KEY_INVALID');
  return { key: Buffer.from(j.key, 'base64'), keyedFromSeq: j.keyedFromSeq };
}

/**
 * The service's audit key: read `file`, or create it (32 random bytes, mode 0600, exclusive create
 * so two processes starting together agree) covering entries after `headSeq`. Refuses to create a
 * new key when the log already has keyed entries (the key file was lost or the wrong path given):
 * a fresh key would make every earlier entry look forged. Checks that the newest entry verifies
 * under the key it returns.
 * @example const key = await openAuditKey(cfg.auditKeyFile, await store.auditHead(), (s) => store.listAuditPage(s - 1, 1));
 */
export async function openAuditKey(file: string, head: { seq: number; hash: string } | undefined, entryAt: (seq: number) => Promise<AuditEntry[]>): Promise<AuditKey> {
  const last = head ? (await entryAt(head.seq))[0] : undefined;
  if (!existsSync(file)) {
    if (last && !sameHex(auditHash(last.prevHash, last), last.hash)) {
      throw new InputError('AUDIT_KEY_MISSING', `${file}: no audit key file, but the audit log's newest entry (${last.seq}) is keyed; restore the key file (or point auditKeyFile at it) instead of starting a new chain`, { file });
    }
    const key = randomBytes(32);
    const body = JSON.stringify({ format: 'radml-audit-key', version: 1, key: key.toString('base64'), keyedFromSeq: (head?.seq ?? 0) + 1, createdAt: new Date().toISOString() }, null, 2) + '\n';
    mkdirSync(dirname(file), { recursive: true });
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process created it first: use theirs
    }
  }
  const key = readAuditKey(file);
  if (last && !sameHex(auditHash(last.prevHash, last, key), last.hash)) {
    throw new InputError('AUDIT_KEY_MISMATCH', `${file}: the audit log's newest entry (${last.seq}) does not verify under this key; wrong key file, or the log was altered (run radml audit verify)`, { file });
  }
  return key;
}

export interface AuditProblem {
  seq: number;
  reason: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headSeq: number;
  headHash: string;
  /** Entries checked with the key (HMAC), and entries before the key existed (plain SHA-256). */
  keyed: number;
  unkeyed: number;
  problems: AuditProblem[];
}

const MAX_PROBLEMS = 1000;

/**
 * Checks a chain page by page (entries in seq order), so a long log never has to be in memory or
 * block the event loop at once.
 * @example const v = new AuditVerifier(key); for (const page of pages) v.push(page); v.finish(head)
 */
export class AuditVerifier {
  private prev = GENESIS_HASH;
  private expectSeq = 1;
  private count = 0;
  private keyed = 0;
  private readonly problems: AuditProblem[] = [];
  private lastSeq = 0;
  private lastHash = GENESIS_HASH;

  constructor(private readonly key?: AuditKey) {}

  private problem(seq: number, reason: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ seq, reason });
  }

  push(entries: readonly AuditEntry[]): void {
    for (const e of entries) {
      if (e.seq !== this.expectSeq) {
        this.problem(e.seq, e.seq > this.expectSeq ? `entries ${this.expectSeq}..${e.seq - 1} are missing (deleted)` : `sequence number ${e.seq} is out of order`);
        this.expectSeq = e.seq;
      }
      if (e.prevHash !== this.prev) this.problem(e.seq, 'previous-hash link does not match the entry before it');
      const keyed = this.key !== undefined && e.seq >= this.key.keyedFromSeq;
      if (keyed) this.keyed++;
      if (!sameHex(auditHash(e.prevHash, e, this.key), e.hash)) {
        const plain = keyed && sameHex(auditHash(e.prevHash, e), e.hash);
        this.problem(e.seq, plain ? 'entry has a plain SHA-256 where the key requires an HMAC (written or rewritten without the audit key)' : 'entry content does not match its hash (edited, or written under another key)');
      }
      this.prev = e.hash;
      this.expectSeq++;
      this.count++;
      this.lastSeq = e.seq;
      this.lastHash = e.hash;
    }
  }

  /** Compare the end of the chain with the recorded head and report. */
  finish(head: { seq: number; hash: string } | undefined): AuditVerification {
    const headSeq = head?.seq ?? 0;
    const headHash = head?.hash ?? GENESIS_HASH;
    if (this.lastSeq !== headSeq) this.problem(headSeq, `the chain ends at entry ${this.lastSeq} but the recorded head is entry ${headSeq} (entries deleted or head edited)`);
    else if (this.lastHash !== headHash) this.problem(headSeq, 'the last entry does not match the recorded head hash');
    if (this.key && headSeq >= this.key.keyedFromSeq && this.keyed === 0) this.problem(headSeq, 'no keyed entry was found although the key covers the head');
    return { ok: this.problems.length === 0, entries: this.count, headSeq, headHash, keyed: this.keyed, unkeyed: this.count - this.keyed, problems: [...this.problems] };
  }
}

/**
 * Check a whole chain held in memory against the recorded head.
 * @example verifyAuditChain(entries, head, key).ok
 */
export function verifyAuditChain(entries: readonly AuditEntry[], head: { seq: number; hash: string } | undefined, key?: AuditKey): AuditVerification {
  const v = new AuditVerifier(key);
  v.push(entries);
  return v.finish(head);
}

/** What paged verification needs of a store. */
export interface AuditSource {
  listAuditPage(afterSeq: number, limit: number): Promise<AuditEntry[]>;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
}

/**
 * Verify the chain of a store page by page up to the head read at the start (entries appended
 * meanwhile are left for the next run), yielding to the event loop between pages.
 * @example const v = await verifyAuditPaged(store, key); v.ok
 */
export async function verifyAuditPaged(store: AuditSource, key?: AuditKey, opts: { pageSize?: number } = {}): Promise<AuditVerification> {
  const head = await store.auditHead();
  const pageSize = opts.pageSize ?? 500; // ~10 ms of work per page
  const v = new AuditVerifier(key);
  let after = 0;
  const end = head?.seq ?? 0;
  for (;;) {
    const page = (await store.listAuditPage(after, pageSize)).filter((e) => e.seq <= end);
    if (page.length === 0) break;
    v.push(page);
    after = page[page.length - 1]!.seq;
    if (after >= end) break;
    await new Promise((r) => setImmediate(r));
  }
  return v.finish(head);
}
