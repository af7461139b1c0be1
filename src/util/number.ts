/**
 * Strict decimal numbers for user data (CSV cells, DICOM IS/DS strings). `Number()` also accepts
 * `0x1F`, `0b1`, `0o7`, `Infinity` and whitespace-only strings (as 0), so a hex-looking score or a
 * typo silently becomes a different number; these helpers accept plain decimal notation only.
 */

/** Optional sign, digits with an optional fraction (or a fraction alone), optional exponent. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The value of a decimal number written as text (surrounding whitespace allowed), or null when the
 * text is not one — including hexadecimal/binary/octal literals, `Infinity`, `NaN` and the empty string.
 * @example
 * parseDecimal(' 0.25 ') // 0.25
 * parseDecimal('1e-3')   // 0.001
 * parseDecimal('0x1F')   // null
 */
export function parseDecimal(text: string): number | null {
  const t = text.trim();
  if (!DECIMAL.test(t)) return null;
  const v = Number(t);
  // A decimal with a huge exponent ("1e999") overflows to Infinity: not a usable number.
  return Number.isFinite(v) ? v : null;
}

/** True when the text is a decimal number that `parseDecimal` accepts. */
export function isDecimal(text: string): boolean {
  return parseDecimal(text) !== null;
}

/**
 * Texts that mean "no value" in exported tables (pandas, R, spreadsheets), compared case-insensitively:
 * a missing number rather than a malformed one.
 */
const MISSING = new Set(['', 'nan', 'na', 'n/a', 'null', 'none']);

/**
 * Classify a cell: a number, missing (blank or a missing-value marker such as `NaN`/`NA`), or invalid.
 * @example
 * readDecimalCell('0.7')  // { kind: 'number', value: 0.7 }
 * readDecimalCell('NaN')  // { kind: 'missing' }
 * readDecimalCell('0b1')  // { kind: 'invalid' }
 */
export function readDecimalCell(text: string): { kind: 'number'; value: number } | { kind: 'missing' } | { kind: 'invalid' } {
  const t = text.trim();
  if (DECIMAL.test(t)) {
    const v = Number(t);
    return Number.isFinite(v) ? { kind: 'number', value: v } : { kind: 'invalid' };
  }
  return MISSING.has(t.toLowerCase()) ? { kind: 'missing' } : { kind: 'invalid' };
}
