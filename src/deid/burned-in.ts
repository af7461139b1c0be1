/**
 * Burned-in text: finding pixels that likely carry text (names, dates, IDs stamped by the modality
 * or a secondary-capture step) so a person reviews the image before it leaves, and blacking out
 * configured regions per manufacturer/model.
 *
 * The image check looks near the borders, where modalities stamp annotations, for rows of small,
 * glyph-sized, high-contrast connected components — text is many similar blobs on one baseline,
 * while anatomy, collimation edges and a single lead marker are not.
 */
import { z } from 'zod';
import type { GreyImage } from '../data/grey-image.js';
import { InputError, UnsupportedError } from '../util/errors.js';
import { readJsonWithSchema } from '../util/json.js';
import { elementText, findElement, type Element, type Part10File } from './part10.js';

export interface TextRegion {
  /** Bounding box in the image's pixel coordinates. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Glyph-like components on this line. */
  glyphs: number;
}

export interface BurnedInCheck {
  likely: boolean;
  regions: TextRegion[];
}

export interface BurnedInOptions {
  /** Fraction of each side searched (default 0.2: the outer fifth, where annotations are stamped). */
  border?: number;
  /** Glyphs on one line needed to call it text (default 4). */
  minGlyphs?: number;
}

/** Box-filtered local mean with an integral image (radius r). */
function localMean(img: Float32Array, w: number, h: number, r: number): Float32Array {
  const ii = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += img[y * w + x]!;
      ii[(y + 1) * (w + 1) + x + 1] = ii[y * (w + 1) + x + 1]! + row;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const s = ii[y1 * (w + 1) + x1]! - ii[y0 * (w + 1) + x1]! - ii[y1 * (w + 1) + x0]! + ii[y0 * (w + 1) + x0]!;
      out[y * w + x] = s / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

function downscale(img: GreyImage, maxSide: number): { data: Float32Array; w: number; h: number; scale: number } {
  const scale = Math.max(1, Math.ceil(Math.max(img.width, img.height) / maxSide));
  if (scale === 1) return { data: img.data, w: img.width, h: img.height, scale };
  const w = Math.floor(img.width / scale);
  const h = Math.floor(img.height / scale);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) s += img.data[(y * scale + dy) * img.width + x * scale + dx]!;
      out[y * w + x] = s / (scale * scale);
    }
  return { data: out, w, h, scale };
}

interface Blob {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  area: number;
}

function components(mask: Uint8Array, w: number, h: number): Blob[] {
  const seen = new Uint8Array(w * h);
  const blobs: Blob[] = [];
  const stack: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || seen[start]) continue;
    const b: Blob = { x0: w, y0: h, x1: 0, y1: 0, area: 0 };
    stack.push(start);
    seen[start] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w;
      const y = (p - x) / w;
      b.area++;
      if (x < b.x0) b.x0 = x;
      if (x > b.x1) b.x1 = x;
      if (y < b.y0) b.y0 = y;
      if (y > b.y1) b.y1 = y;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          const q = ny * w + nx;
          if (mask[q] && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
    }
    blobs.push(b);
  }
  return blobs;
}

/**
 * Look for text-like regions near the image borders.
 * @example const { likely, regions } = detectBurnedInText((await readDicom(bytes, f)).image);
 */
export function detectBurnedInText(img: GreyImage, opts: BurnedInOptions = {}): BurnedInCheck {
  const border = opts.border ?? 0.2;
  const minGlyphs = opts.minGlyphs ?? 4;
  const { data, w, h, scale } = downscale(img, 768);
  const mean = localMean(data, w, h, 6);
  const bw = Math.ceil(w * border);
  const bh = Math.ceil(h * border);
  // Bright text on dark and dark text on bright are searched apart: in one mask the dark gaps
  // between bright letters would join the letters into one blob.
  const regions = [...textLines(data, mean, w, h, bw, bh, 1, minGlyphs, scale), ...textLines(data, mean, w, h, bw, bh, -1, minGlyphs, scale)];
  return { likely: regions.length > 0, regions };
}

function textLines(data: Float32Array, mean: Float32Array, w: number, h: number, bw: number, bh: number, polarity: 1 | -1, minGlyphs: number, scale: number): TextRegion[] {
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (x >= bw && x < w - bw && y >= bh && y < h - bh) continue;
      const v = data[y * w + x]!;
      const d = (v - mean[y * w + x]!) * polarity;
      // Stamped text is near full white (or black) and stands out from what surrounds it.
      if ((polarity > 0 ? v > 0.75 : v < 0.25) && d > 0.25) mask[y * w + x] = 1;
    }
  const maxGlyph = Math.max(6, Math.round(Math.min(w, h) * 0.06));
  const glyphs = components(mask, w, h).filter((b) => {
    const bwid = b.x1 - b.x0 + 1;
    const bhgt = b.y1 - b.y0 + 1;
    const fill = b.area / (bwid * bhgt);
    return bhgt >= 3 && bhgt <= maxGlyph && bwid <= maxGlyph && b.area >= 4 && fill >= 0.12 && fill <= 0.9;
  });
  glyphs.sort((a, b) => a.x0 - b.x0);
  // Chain glyphs of similar height on one baseline with letter-sized gaps.
  const used = new Uint8Array(glyphs.length);
  const regions: TextRegion[] = [];
  for (let i = 0; i < glyphs.length; i++) {
    if (used[i]) continue;
    const line = [glyphs[i]!];
    used[i] = 1;
    let last = glyphs[i]!;
    for (let j = i + 1; j < glyphs.length; j++) {
      if (used[j]) continue;
      const g = glyphs[j]!;
      const hl = last.y1 - last.y0 + 1;
      const hg = g.y1 - g.y0 + 1;
      const sameLine = Math.abs((g.y0 + g.y1) / 2 - (last.y0 + last.y1) / 2) <= Math.max(hl, hg) * 0.5;
      const similar = hg <= hl * 2 && hl <= hg * 2;
      const gap = g.x0 - last.x1;
      if (sameLine && similar && gap >= 0 && gap <= Math.max(hl, hg) * 1.6) {
        line.push(g);
        used[j] = 1;
        last = g;
      }
    }
    if (line.length >= minGlyphs) {
      const x0 = Math.min(...line.map((b) => b.x0));
      const y0 = Math.min(...line.map((b) => b.y0));
      const x1 = Math.max(...line.map((b) => b.x1));
      const y1 = Math.max(...line.map((b) => b.y1));
      regions.push({ x: x0 * scale, y: y0 * scale, width: (x1 - x0 + 1) * scale, height: (y1 - y0 + 1) * scale, glyphs: line.length });
    }
  }
  return regions;
}

export const BlackoutConfigSchema = z
  .object({
    rules: z.array(
      z
        .object({
          /** Matched against Manufacturer (0008,0070), case-insensitive, exactly. */
          manufacturer: z.string().min(1),
          /** Optional: Manufacturer's Model Name (0008,1090). */
          model: z.string().min(1).optional(),
          /** Optional: only images of this size (Columns × Rows). */
          columns: z.number().int().positive().optional(),
          rows: z.number().int().positive().optional(),
          /** Boxes to black out, in pixels: [x, y, width, height]. */
          boxes: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0), z.number().int().positive(), z.number().int().positive()])).min(1),
        })
        .strict(),
    ),
  })
  .strict();
export type BlackoutConfig = z.infer<typeof BlackoutConfigSchema>;

export function readBlackoutConfig(path: string): BlackoutConfig {
  return readJsonWithSchema(path, BlackoutConfigSchema, 'DEID_BLACKOUT_CONFIG', 'see README, "De-identification"');
}

function num(ds: readonly Element[], tag: number, littleEndian: boolean): number | undefined {
  const e = findElement(ds, tag);
  if (!e?.value || e.value.byteLength < 2) return undefined;
  if (e.vr === 'US' || e.vr === 'UN' || e.vr === 'OB') return new DataView(e.value.buffer, e.value.byteOffset, 2).getUint16(0, littleEndian);
  const t = elementText(e);
  return t && /^\s*\d+\s*$/.test(t) ? Number(t) : undefined;
}

/**
 * Black out the boxes of the first matching rule in native (uncompressed) Pixel Data, every frame.
 * Returns whether anything was changed. Encapsulated (compressed) pixels are refused: blacking them
 * out would need re-encoding, and a lossy re-encode is not ours to make silently.
 */
export function blackoutPixels(f: Part10File, config: BlackoutConfig, file: string): boolean {
  const ds = f.dataset;
  const le = f.encoding.littleEndian;
  const manufacturer = (elementText(findElement(ds, 0x00080070)) ?? '').toLowerCase();
  const model = (elementText(findElement(ds, 0x00081090)) ?? '').toLowerCase();
  const rows = num(ds, 0x00280010, le);
  const cols = num(ds, 0x00280011, le);
  const rule = config.rules.find(
    (r) =>
      r.manufacturer.toLowerCase() === manufacturer &&
      (r.model === undefined || r.model.toLowerCase() === model) &&
      (r.columns === undefined || r.columns === cols) &&
      (r.rows === undefined || r.rows === rows),
  );
  if (!rule) return false;
  const px = findElement(ds, 0x7fe00010);
  if (!px) return false;
  if (px.encapsulated)
    throw new UnsupportedError('DEID_PIXELS_COMPRESSED', `${file}: pixel regions cannot be blacked out in compressed Pixel Data without re-encoding; decompress it first (e.g. dcmdjpeg / gdcmconv --raw)`, { file });
  const bits = num(ds, 0x00280100, le);
  const spp = num(ds, 0x00280002, le) ?? 1;
  const planar = num(ds, 0x00280006, le) ?? 0;
  const frames = Number(elementText(findElement(ds, 0x00280008)) ?? '1') || 1;
  if (!rows || !cols || (bits !== 8 && bits !== 16) || !px.value)
    throw new InputError('DICOM_CORRUPT', `${file}: cannot black out pixels: Rows, Columns or Bits Allocated (8 or 16) missing`, { file });
  const bytesPer = bits / 8;
  const photometric = (elementText(findElement(ds, 0x00280004)) ?? '').toUpperCase();
  const signed = num(ds, 0x00280103, le) === 1;
  const stored = num(ds, 0x00280101, le) ?? bits;
  // "Black" is the darkest displayed value: the stored maximum for MONOCHROME1.
  const black = photometric === 'MONOCHROME1' ? (signed ? 2 ** (stored - 1) - 1 : 2 ** stored - 1) : signed ? -(2 ** (stored - 1)) : 0;
  const out = new Uint8Array(px.value);
  const view = new DataView(out.buffer);
  const frameSamples = rows * cols * spp;
  for (let fi = 0; fi < frames; fi++)
    for (const [bx, by, bwid, bhgt] of rule.boxes)
      for (let y = by; y < Math.min(rows, by + bhgt); y++)
        for (let x = bx; x < Math.min(cols, bx + bwid); x++)
          for (let s = 0; s < spp; s++) {
            const idx = fi * frameSamples + (planar === 1 ? s * rows * cols + y * cols + x : (y * cols + x) * spp + s);
            const at = idx * bytesPer;
            if (at + bytesPer > out.byteLength) continue;
            const value = spp === 3 ? 0 : black;
            if (bytesPer === 1) out[at] = value & 0xff;
            else view.setUint16(at, value & 0xffff, le);
          }
  px.value = out;
  return true;
}
