/**
 * The Basic Application Level Confidentiality Profile and its options (PS3.15 Annex E) as a
 * function from a tag to one action. Table E.1-1 is data (table-e1-1.ts); this file only reads it
 * and settles the choices the table leaves to the implementer.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { TABLE_E1_1 } from './table-e1-1.js';

/** PS3.15 action codes, after combined codes are settled (see `settle`). */
export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U';

export const DEID_OPTIONS = [
  'retain-safe-private',
  'retain-uids',
  'retain-device-identity',
  'retain-institution-identity',
  'retain-patient-characteristics',
  'retain-longitudinal-full-dates',
  'retain-longitudinal-dates',
  'clean-descriptors',
  'clean-structured-content',
  'clean-graphics',
] as const;
export type DeidOption = (typeof DEID_OPTIONS)[number];
export const DeidOptionSchema = z.enum(DEID_OPTIONS);

/** Option → its letter in table-e1-1.ts and its code in CID 7050 (De-identification Method). */
export const OPTION_INFO: Record<DeidOption, { letter: string; code: string; meaning: string }> = {
  'retain-safe-private': { letter: 'p', code: '113111', meaning: 'Retain Safe Private Option' },
  'retain-uids': { letter: 'u', code: '113110', meaning: 'Retain UIDs Option' },
  'retain-device-identity': { letter: 'd', code: '113109', meaning: 'Retain Device Identity Option' },
  'retain-institution-identity': { letter: 'i', code: '113112', meaning: 'Retain Institution Identity Option' },
  'retain-patient-characteristics': { letter: 'c', code: '113108', meaning: 'Retain Patient Characteristics Option' },
  'retain-longitudinal-full-dates': { letter: 'f', code: '113106', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' },
  // The dates are shifted per patient by a keyed offset: intervals survive, the real dates do not.
  'retain-longitudinal-dates': { letter: 'm', code: '113107', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' },
  'clean-descriptors': { letter: 's', code: '113105', meaning: 'Clean Descriptors Option' },
  'clean-structured-content': { letter: 't', code: '113104', meaning: 'Clean Structured Content Option' },
  'clean-graphics': { letter: 'g', code: '113103', meaning: 'Clean Graphics Option' },
};
export const BASIC_PROFILE_CODE = { code: '113100', meaning: 'Basic Application Confidentiality Profile' };
export const CLEAN_PIXEL_CODE = { code: '113101', meaning: 'Clean Pixel Data Option' };

export interface TableRow {
  /** Tag pattern as 8 hex digits, `X` for repeating-group digits. */
  pattern: string;
  keyword: string;
  vr: string;
  basic: string;
  /** Option letter → action code. */
  options: Record<string, string>;
}

let rows: TableRow[] | undefined;
let exact: Map<number, TableRow> | undefined;
let masked: { value: number; mask: number; row: TableRow }[] | undefined;

/** Every row of Table E.1-1, parsed once. */
export function tableRows(): readonly TableRow[] {
  if (rows) return rows;
  rows = [];
  exact = new Map();
  masked = [];
  for (const line of TABLE_E1_1.split('\n')) {
    if (!line.trim()) continue;
    const [pattern, keyword, vr, basic, opts] = line.split('|') as [string, string, string, string, string];
    const options: Record<string, string> = {};
    for (const m of (opts ?? '').matchAll(/([a-z])([A-Z])/g)) options[m[1]!] = m[2]!;
    const row: TableRow = { pattern, keyword, vr, basic, options };
    rows.push(row);
    if (pattern.includes('X')) {
      masked.push({
        value: parseInt(pattern.replace(/X/g, '0'), 16) >>> 0,
        mask: parseInt(pattern.replace(/[0-9A-F]/g, 'F').replace(/X/g, '0'), 16) >>> 0,
        row,
      });
    } else exact.set(parseInt(pattern, 16) >>> 0, row);
  }
  return rows;
}

export function tableRow(tag: number): TableRow | undefined {
  tableRows();
  const hit = exact!.get(tag >>> 0);
  if (hit) return hit;
  for (const m of masked!) if (((tag & m.mask) >>> 0) === m.value) return m.row;
  return undefined;
}

/**
 * One action from a combined code. The table's "X/Z", "X/D", "Z/D", "X/Z/D" and "X/Z/U*" depend on
 * the attribute's Type in the IOD, which a file-level tool cannot know for every IOD; we take the
 * least destructive code that is conformant for every Type (Type 1 needs D, Type 2 needs Z), so the
 * output stays a valid instance: X/Z → Z, X/D and X/Z/D and Z/D → D, X/Z/U* → U.
 */
export function settle(code: string): Action {
  if (code.length === 1) return code as Action;
  const parts = code.replace('*', '').split('/');
  if (parts.includes('U')) return 'U';
  if (parts.includes('D')) return 'D';
  if (parts.includes('Z')) return 'Z';
  return 'X';
}

export interface Profile {
  options: ReadonlySet<DeidOption>;
  /** The action for a public tag (undefined: not in the table, kept). */
  action(tag: number): Action | undefined;
}

/**
 * The profile with the given options. Options override the basic code where the table gives them
 * one; "retain full dates" and "retain modified dates" exclude each other.
 * @example makeProfile(['retain-longitudinal-dates']).action(0x00080020) // 'C' (shifted)
 */
export function makeProfile(options: readonly DeidOption[]): Profile {
  const set = new Set(options);
  if (set.has('retain-longitudinal-full-dates') && set.has('retain-longitudinal-dates'))
    throw new InputError('CLI_ARGS', 'choose one of retain-longitudinal-full-dates and retain-longitudinal-dates (modified, shifted dates), not both');
  const letters = [...set].map((o) => OPTION_INFO[o].letter);
  const cache = new Map<number, Action | undefined>();
  return {
    options: set,
    action(tag: number): Action | undefined {
      if (cache.has(tag)) return cache.get(tag);
      const row = tableRow(tag);
      let code: string | undefined = row?.basic;
      if (row) for (const l of letters) if (row.options[l]) code = row.options[l];
      const a = code === undefined ? undefined : settle(code);
      cache.set(tag, a);
      return a;
    },
  };
}

/** Parse a comma-separated option list, naming any unknown option. */
export function parseOptions(text: string | undefined): DeidOption[] {
  if (!text) return [];
  const out: DeidOption[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const r = DeidOptionSchema.safeParse(raw);
    if (!r.success) throw new InputError('CLI_ARGS', `unknown de-identification option "${raw}"; options: ${DEID_OPTIONS.join(', ')}`);
    out.push(r.data);
  }
  return out;
}
