/**
 * Scores for saliency maps: Spearman rank correlation (randomisation sanity test) and localisation
 * against ground-truth masks (pointing game, IoU of the top-k% pixels, energy inside the mask).
 * Maps and masks are one image each, row-major, same size; a mask value > 0 means "inside".
 */
import { InputError } from '../util/errors.js';

/** Mid-ranks (1-based, ties averaged). */
export function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    const mid = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) r[idx[t]!] = mid;
    i = j + 1;
  }
  return r;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new InputError('LENGTH_MISMATCH', `pearson needs two equal-length series (got ${a.length}, ${b.length})`);
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) { ma += a[i]!; mb += b[i]!; }
  ma /= a.length; mb /= b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma, db = b[i]! - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/**
 * Spearman rank correlation (Pearson on mid-ranks; NaN when a series is constant).
 * @example spearman([1, 2, 3], [10, 20, 15]) // 0.5
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

function check(map: ArrayLike<number>, mask: ArrayLike<number>): void {
  if (map.length !== mask.length) throw new InputError('LENGTH_MISMATCH', `map has ${map.length} pixels, mask ${mask.length}`);
}

/** Fraction of pixels inside the mask: the chance hit rate of the pointing game. */
export function maskArea(mask: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]! > 0) s++;
  return mask.length ? s / mask.length : 0;
}

/**
 * Pointing game (Zhang et al. 2016): is the map's maximum inside the mask (or within `tolerance`
 * pixels of it)? Ties for the maximum count as a hit only if all tied pixels hit.
 */
export function pointingGame(map: ArrayLike<number>, mask: ArrayLike<number>, width: number, tolerance = 0): boolean {
  check(map, mask);
  let best = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i]! > best) best = map[i]!;
  const height = map.length / width;
  const near = (p: number) => {
    if (mask[p]! > 0) return true;
    if (tolerance <= 0) return false;
    const y = Math.floor(p / width), x = p % width;
    for (let dy = -tolerance; dy <= tolerance; dy++) for (let dx = -tolerance; dx <= tolerance; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy < 0 || xx < 0 || yy >= height || xx >= width || dx * dx + dy * dy > tolerance * tolerance) continue;
      if (mask[yy * width + xx]! > 0) return true;
    }
    return false;
  };
  for (let i = 0; i < map.length; i++) if (map[i] === best && !near(i)) return false;
  return Number.isFinite(best);
}

/** IoU between the mask and the `fraction` (0..1) highest-valued pixels of the map. */
export function topFractionIoU(map: ArrayLike<number>, mask: ArrayLike<number>, fraction: number): number {
  check(map, mask);
  if (!(fraction > 0 && fraction <= 1)) throw new InputError('FRACTION_INVALID', `fraction must be in (0, 1], got ${fraction}`);
  const k = Math.max(1, Math.round(fraction * map.length));
  const order = Array.from({ length: map.length }, (_, i) => i).sort((a, b) => map[b]! - map[a]!);
  const top = new Uint8Array(map.length);
  for (let i = 0; i < k; i++) top[order[i]!] = 1;
  let inter = 0, union = 0;
  for (let i = 0; i < map.length; i++) {
    const m = mask[i]! > 0 ? 1 : 0;
    if (m && top[i]) inter++;
    if (m || top[i]) union++;
  }
  return union ? inter / union : 0;
}

/** Share of the map's positive mass that lies inside the mask (NaN for an all-non-positive map). */
export function energyInMask(map: ArrayLike<number>, mask: ArrayLike<number>): number {
  check(map, mask);
  let inside = 0, total = 0;
  for (let i = 0; i < map.length; i++) {
    const v = Math.max(0, map[i]!);
    total += v;
    if (mask[i]! > 0) inside += v;
  }
  return total > 0 ? inside / total : NaN;
}

/**
 * A map that says nothing: constant (e.g. all zero, when occluding no patch changes the score) or
 * not finite. Its maximum is everywhere, so pointing-game and top-k scores would be artefacts of
 * pixel order; such maps are counted apart and left out of the localisation scores.
 * @example isDegenerateMap(new Float32Array(64)) // true
 */
export function isDegenerateMap(map: ArrayLike<number>): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (!Number.isFinite(v)) return true;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return !(hi - lo > 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo)));
}

export interface LocalisationSummary {
  /** Images scored: a non-empty mask and a non-degenerate map. */
  images: number;
  /** Images with a mask whose map was degenerate (constant), left out of every score. Absent in old files. */
  degenerate?: number;
  pointingHitRate: number;
  /** Mean mask area fraction: the pointing game's hit rate by chance. */
  chanceHitRate: number;
  meanIoU: number;
  meanEnergyInMask: number;
  /** Mean mask area fraction: the energy-in-mask of a uniform map. */
  chanceEnergy: number;
  topFraction: number;
}

/**
 * Localisation over many images; images whose mask is empty are skipped (nothing to point at), and
 * degenerate (constant) maps are counted in `degenerate` and not scored.
 * @example const s = localisationSummary(maps, masks, 64, 64, { topFraction: 0.1 });
 */
export function localisationSummary(maps: Float32Array, masks: ArrayLike<number>, width: number, height: number, opts: { topFraction?: number; tolerance?: number } = {}): LocalisationSummary {
  const per = width * height;
  const frac = opts.topFraction ?? 0.1;
  let n = 0, hits = 0, chance = 0, iou = 0, energy = 0, energyN = 0, degenerate = 0;
  for (let i = 0; i * per < maps.length; i++) {
    const map = maps.subarray(i * per, (i + 1) * per);
    const mask = Array.prototype.slice.call(masks, i * per, (i + 1) * per) as number[];
    const area = maskArea(mask);
    if (area === 0) continue;
    if (isDegenerateMap(map)) {
      degenerate++;
      continue;
    }
    n++;
    chance += area;
    if (pointingGame(map, mask, width, opts.tolerance ?? 0)) hits++;
    iou += topFractionIoU(map, mask, frac);
    const e = energyInMask(map, mask);
    if (Number.isFinite(e)) { energy += e; energyN++; }
  }
  return {
    images: n,
    degenerate,
    pointingHitRate: n ? hits / n : NaN,
    chanceHitRate: n ? chance / n : NaN,
    meanIoU: n ? iou / n : NaN,
    meanEnergyInMask: energyN ? energy / energyN : NaN,
    chanceEnergy: n ? chance / n : NaN,
    topFraction: frac,
  };
}
