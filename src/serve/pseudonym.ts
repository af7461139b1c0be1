/**
 * Pseudonyms for identifiers that must not appear in logs (Study/SOP Instance UIDs can be traced to
 * a patient): a keyed HMAC, stable within one installation so log lines about the same study can be
 * correlated, but not reversible without the key kept in the store.
 */
import { createHmac, randomBytes } from 'node:crypto';

export type Pseudonymiser = (id: string) => string;

/** @example const p = makePseudonymiser(key); p('1.2.840…') // 'st-3f9a1c0e2b7d' */
export function makePseudonymiser(key: string, prefix = 'st-'): Pseudonymiser {
  return (id: string) => prefix + createHmac('sha256', key).update(id, 'utf8').digest('hex').slice(0, 12);
}

export function newPseudonymKey(): string {
  return randomBytes(32).toString('hex');
}
