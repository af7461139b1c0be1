/** The PS3.6 VR of a tag, for implicit-VR data sets (which carry none). */
import { PS3_6_VRS } from './vr-dictionary.js';

let exact: Map<number, string> | undefined;
let masked: { value: number; mask: number; vr: string }[] | undefined;

function load(): void {
  exact = new Map();
  masked = [];
  for (const token of PS3_6_VRS.split(/\s+/)) {
    if (token.length !== 10) continue;
    const hex = token.slice(0, 8);
    const vr = token.slice(8);
    if (hex.includes('X')) {
      const value = parseInt(hex.replace(/X/g, '0'), 16) >>> 0;
      const mask = parseInt(hex.replace(/[0-9A-F]/g, 'F').replace(/X/g, '0'), 16) >>> 0;
      masked.push({ value, mask, vr });
    } else exact.set(parseInt(hex, 16) >>> 0, vr);
  }
}

/**
 * The dictionary VR of a public tag; `UN` for private and unknown tags. Group-length elements
 * (gggg,0000) are UL and private creators (gggg,0010–00FF, odd gggg) are LO, as PS3.5 defines.
 * @example dictionaryVr(0x00100010) // 'PN'
 */
export function dictionaryVr(tag: number): string {
  if (!exact) load();
  if ((tag & 0xffff) === 0) return 'UL';
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (group & 1) return element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  const hit = exact!.get(tag >>> 0);
  if (hit) return hit;
  for (const m of masked!) if (((tag & m.mask) >>> 0) === m.value) return m.vr;
  return 'UN';
}
