/**
 * Geometric augmentation as ONE inverse-mapped bilinear warp: rotation, scale, shift and flip are
 * folded into a single affine matrix, so every output pixel is resampled once (chaining separate
 * resamples would blur the image once per step).
 */
import type { GreyImage } from '../grey-image.js';

/** Output → input mapping in pixel-centre coordinates: xin = a·x + b·y + c, yin = d·x + e·y + f. */
export interface Affine {
  a: number; b: number; c: number;
  d: number; e: number; f: number;
}

export type FillMode = 'zero' | 'edge';

export interface GeometricParams {
  /** Degrees, positive = counter-clockwise as displayed (y axis pointing down). */
  rotationDeg: number;
  /** Zoom factor; > 1 enlarges the content. */
  scale: number;
  /** Translation of the content in pixels (+x right, +y down). */
  shiftX: number;
  shiftY: number;
  /** Mirror left–right before the other steps. */
  flip: boolean;
}

export const IDENTITY_GEOMETRY: GeometricParams = { rotationDeg: 0, scale: 1, shiftX: 0, shiftY: 0, flip: false };

export function isIdentityGeometry(g: GeometricParams): boolean {
  return g.rotationDeg === 0 && g.scale === 1 && g.shiftX === 0 && g.shiftY === 0 && !g.flip;
}

/**
 * The inverse (output → input) affine for flip, then rotation and scale about the image centre,
 * then shift. Forward: p_out = c + s·R(θ)·F·(p_in − c) + t, so p_in = c + F·R(−θ)·(p_out − c − t)/s.
 */
export function inverseAffine(width: number, height: number, g: GeometricParams): Affine {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const th = (g.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  // Forward rotation of content counter-clockwise on screen (y down): [cos, sin; −sin, cos].
  // Its inverse is the transpose: [cos, −sin; sin, cos].
  const inv = 1 / g.scale;
  let a = cos * inv, b = -sin * inv;
  let d = sin * inv, e = cos * inv;
  if (g.flip) {
    a = -a;
    b = -b;
  }
  // p_in = c + M·(p_out − c − t)  ⇒  offset = c − M·(c + t)
  const ox = cx + g.shiftX;
  const oy = cy + g.shiftY;
  const c = cx - (a * ox + b * oy);
  const f = cy - (d * ox + e * oy);
  return { a, b, c, d, e, f };
}

/**
 * Resample `img` through the inverse affine `m` with bilinear interpolation. Samples outside the
 * image read 0 (`zero`, like the black bars of pad-resizing) or the nearest edge pixel (`edge`).
 * @example warpAffine(img, inverseAffine(128, 128, { ...IDENTITY_GEOMETRY, rotationDeg: 5 }))
 */
export function warpAffine(img: GreyImage, m: Affine, fill: FillMode = 'zero', out?: Float32Array): GreyImage {
  const { width: w, height: h, data: src } = img;
  const dst = out ?? new Float32Array(w * h);
  const edge = fill === 'edge';
  for (let y = 0; y < h; y++) {
    let xin = m.b * y + m.c;
    let yin = m.e * y + m.f;
    const row = y * w;
    for (let x = 0; x < w; x++, xin += m.a, yin += m.d) {
      let sx = xin;
      let sy = yin;
      if (edge) {
        sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
        sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
      } else if (sx <= -1 || sy <= -1 || sx >= w || sy >= h) {
        dst[row + x] = 0;
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const x1 = x0 + 1;
      const y1 = y0 + 1;
      // Taps outside the image contribute 0 (zero fill); with edge fill they are never outside
      // except x1/y1 at the last pixel, where their weight is 0.
      const inX0 = x0 >= 0, inX1 = x1 < w, inY0 = y0 >= 0, inY1 = y1 < h;
      const p00 = inX0 && inY0 ? src[y0 * w + x0]! : 0;
      const p01 = inX1 && inY0 ? src[y0 * w + x1]! : 0;
      const p10 = inX0 && inY1 ? src[y1 * w + x0]! : 0;
      const p11 = inX1 && inY1 ? src[y1 * w + x1]! : 0;
      dst[row + x] = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy;
    }
  }
  return { width: w, height: h, data: dst };
}
