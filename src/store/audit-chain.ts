/**
 * The audit log's hash chain: each entry's hash covers its own fields and the previous entry's hash,
 * so editing, deleting or reordering any row breaks every hash after it. The chain's head (last seq
 * and hash) is kept separately so deleting the newest rows is caught too; print the head somewhere
 * outside the database (a ticket, a log shipper) to also catch someone rewriting the whole tail.
 */
import { createHash } from 'node:crypto';
import type { AuditEntry } from './schema.js';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}

/**
 * Hash of one entry given the previous hash.
 * @example auditHash(GENESIS_HASH, { seq: 1, ts: 0, actor: 'a', action: 'x', subject: 's', details: {} })
 */
export function auditHash(prevHash: string, e: Pick<AuditEntry, 'seq' | 'ts' | 'actor' | 'action' | 'subject' | 'details'>): string {
  const body = canonicalJson({ seq: e.seq, ts: e.ts, actor: e.actor, action: e.action, subject: e.subject, details: e.details });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
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
  problems: AuditProblem[];
}

/**
 * Check a whole chain (entries in seq order) against the recorded head.
 * @example verifyAuditChain(store.listAudit(), store.auditHead()).ok
 */
export function verifyAuditChain(entries: readonly AuditEntry[], head: { seq: number; hash: string } | undefined): AuditVerification {
  const problems: AuditProblem[] = [];
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  for (const e of entries) {
    if (e.seq !== expectSeq) {
      problems.push({ seq: e.seq, reason: e.seq > expectSeq ? `entries ${expectSeq}..${e.seq - 1} are missing (deleted)` : `sequence number ${e.seq} is out of order` });
      expectSeq = e.seq;
    }
    if (e.prevHash !== prev) problems.push({ seq: e.seq, reason: 'previous-hash link does not match the entry before it' });
    const h = auditHash(e.prevHash, e);
    if (h !== e.hash) problems.push({ seq: e.seq, reason: 'entry content does not match its hash (edited)' });
    prev = e.hash;
    expectSeq++;
  }
  const last = entries[entries.length - 1];
  const headSeq = head?.seq ?? 0;
  const headHash = head?.hash ?? GENESIS_HASH;
  if ((last?.seq ?? 0) !== headSeq) problems.push({ seq: headSeq, reason: `the chain ends at entry ${last?.seq ?? 0} but the recorded head is entry ${headSeq} (entries deleted or head edited)` });
  else if ((last?.hash ?? GENESIS_HASH) !== headHash) problems.push({ seq: headSeq, reason: 'the last entry does not match the recorded head hash' });
  return { ok: problems.length === 0, entries: entries.length, headSeq, headHash, problems };
}
