/**
 * The chest-radiograph phantom: an attenuation-like map (0 = air, larger = denser, MONOCHROME2
 * brightness before the site's display curve) of a frontal chest film, and the ground-truth masks of
 * the findings drawn into it. Geometry is analytic (soft-edged shapes in image-normalised
 * coordinates), so every mask is exact and the same spec gives the same pixels at any size.
 *
 * Image conventions: the patient's right is on the image left (u small), head at the top (v small).
 */
import { Rng } from '../../util/rng.js';
import type { Anatomy, Finding, LesionParams, Side, View } from './types.js';

export interface PhantomInput {
  anatomy: Anatomy;
  lesions: LesionParams;
  view: View;
  /** Cardiomegaly label: the heart's outline is its mask when present. */
  cardiomegaly: boolean;
}

export interface Phantom {
  size: number;
  /** Row-major size×size attenuation, roughly 0..0.85. */
  attenuation: Float32Array;
  /** 1 inside each present localised finding. */
  masks: Partial<Record<Finding, Uint8Array>>;
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);
function smooth(e0: number, e1: number, x: number): number {
  const t = clamp((x - e0) / (e1 - e0), 0, 1);
  return t * t * (3 - 2 * t);
}

/** Smooth value noise on a coarse grid, bilinear with smoothstep weights, range about −1..1. */
class ValueNoise {
  private g: Float32Array;
  constructor(rng: Rng, private n: number) {
    this.g = new Float32Array((n + 1) * (n + 1));
    for (let i = 0; i < this.g.length; i++) this.g[i] = rng.random() * 2 - 1;
  }
  at(u: number, v: number): number {
    const n = this.n;
    const x = clamp(u, 0, 0.99999) * n;
    const y = clamp(v, 0, 0.99999) * n;
    const i = Math.floor(x);
    const j = Math.floor(y);
    let fx = x - i;
    let fy = y - j;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    const r = n + 1;
    const a = this.g[j * r + i]!;
    const b = this.g[j * r + i + 1]!;
    const c = this.g[(j + 1) * r + i]!;
    const d = this.g[(j + 1) * r + i + 1]!;
    return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  }
}

/** Tilt of the heart's long axis below the horizontal, radians (apex down and to the patient's left). */
const HEART_TILT = 0.45;
const TILT_COS = Math.cos(HEART_TILT);
const TILT_SIN = Math.sin(HEART_TILT);

/** Geometry derived once per image: lung outlines, heart, domes, as functions of position. */
class Chest {
  readonly a: Anatomy;
  readonly top: number;
  readonly lat: number;
  readonly heartW: number;
  readonly heartCx: number;
  readonly heartCy: number;
  /** Vertical half-extent of the heart ellipse. */
  readonly heartHh: number;
  private readonly heartA: number;
  private readonly heartB: number;
  /** Below this row the heart merges with the diaphragm and abdomen. */
  readonly heartBottom: number;
  readonly view: View;
  private readonly size: number;
  private readonly rowCache: Float64Array;
  private readonly colCache: Float64Array;
  constructor(a: Anatomy, view: View, size: number) {
    this.a = a;
    this.view = view;
    this.size = size;
    this.top = a.lungTop;
    this.lat = a.thoraxHalfWidth;
    // AP films magnify the heart (it is farther from the detector) by about 10–15 %.
    this.heartW = a.ctr * 2 * a.thoraxHalfWidth * (view === 'AP' ? 1.13 : 1);
    this.heartCx = a.cx + 0.15 * this.heartW;
    // The heart is an ellipse whose long axis runs from the base (upper right of the patient) down to
    // the apex (lower left), tilted by HEART_TILT; its semi-axes are chosen so the horizontal extent
    // is exactly heartW, which keeps the drawn cardiothoracic ratio equal to the anatomy's.
    const c = TILT_COS, s = TILT_SIN;
    const ratio = a.heartHeightRatio;
    this.heartA = (0.5 * this.heartW) / Math.sqrt(c * c + ratio * ratio * s * s);
    this.heartB = ratio * this.heartA;
    this.heartHh = Math.sqrt(this.heartA * this.heartA * s * s + this.heartB * this.heartB * c * c);
    // The heart rests on the left dome; its lower part is hidden in the abdominal density.
    this.heartCy = a.domeLeft - 0.35 * this.heartHh;
    this.heartBottom = a.domeLeft + 0.25 * a.domeHeight;
    // Per-row medial/lateral borders and per-column dome heights, for both sides, at pixel centres.
    this.rowCache = new Float64Array(size * 4);
    this.colCache = new Float64Array(size * 2);
    for (let y = 0; y < size; y++) {
      const v = (y + 0.5) / size;
      this.rowCache[y * 4] = this.medialAt(v, 'right');
      this.rowCache[y * 4 + 1] = this.medialAt(v, 'left');
      this.rowCache[y * 4 + 2] = this.lateralAt(v, 'right');
      this.rowCache[y * 4 + 3] = this.lateralAt(v, 'left');
    }
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) / size;
      this.colCache[x * 2] = this.domeAt(u, 'right');
      this.colCache[x * 2 + 1] = this.domeAt(u, 'left');
    }
  }
  private row(v: number): number {
    const y = v * this.size - 0.5;
    const r = Math.round(y);
    return Math.abs(y - r) < 1e-6 && r >= 0 && r < this.size ? r : -1;
  }
  domeTop(side: Side): number {
    return side === 'right' ? this.a.domeRight : this.a.domeLeft;
  }
  /** Level of the costophrenic angle of a side. */
  base(side: Side): number {
    return this.domeTop(side) + this.a.domeHeight;
  }
  /** Diaphragm dome height at horizontal position u (lung above, abdomen below). */
  dome(u: number, side: Side): number {
    const x = this.row(u);
    return x >= 0 ? this.colCache[x * 2 + (side === 'right' ? 0 : 1)]! : this.domeAt(u, side);
  }
  private domeAt(u: number, side: Side): number {
    const s = side === 'right' ? -1 : 1;
    const c = this.a.cx + s * 0.5 * this.lat;
    const t = (u - c) / (0.5 * this.lat);
    return this.domeTop(side) + this.a.domeHeight * t * t;
  }
  /** Inner rib-cage half-width at row v. */
  lateral(v: number, side: Side): number {
    const y = this.row(v);
    return y >= 0 ? this.rowCache[y * 4 + (side === 'right' ? 2 : 3)]! : this.lateralAt(v, side);
  }
  private lateralAt(v: number, side: Side): number {
    const t = clamp((v - this.top) / (this.base(side) - this.top), 0, 1);
    return this.lat * (0.8 + 0.2 * Math.sqrt(t));
  }
  /** Heart half-span at row v as [minU, maxU], or null above/below it. */
  heartSpan(v: number): [number, number] | null {
    // Solve the tilted ellipse for u at this row: A·du² + B·du + C = 0.
    const c = TILT_COS, s = TILT_SIN;
    const ia = 1 / (this.heartA * this.heartA), ib = 1 / (this.heartB * this.heartB);
    const dv = v - this.heartCy;
    const A = c * c * ia + s * s * ib;
    const B = 2 * dv * c * s * (ia - ib);
    const C = dv * dv * (s * s * ia + c * c * ib) - 1;
    const disc = B * B - 4 * A * C;
    if (disc <= 0) return null;
    const r = Math.sqrt(disc);
    return [this.heartCx + (-B - r) / (2 * A), this.heartCx + (-B + r) / (2 * A)];
  }
  /** Distance from the midline to the mediastinal (or cardiac) border on a side at row v. */
  medial(v: number, side: Side): number {
    const y = this.row(v);
    return y >= 0 ? this.rowCache[y * 4 + (side === 'right' ? 0 : 1)]! : this.medialAt(v, side);
  }
  private medialAt(v: number, side: Side): number {
    let m = this.a.mediastinumHalfWidth;
    if (side === 'left') m += 0.022 * Math.exp(-(((v - (this.top + 0.17)) / 0.028) ** 2)); // aortic knob
    const h = this.heartSpan(v);
    if (h) m = Math.max(m, side === 'right' ? this.a.cx - h[0] : h[1] - this.a.cx);
    return m;
  }
  /**
   * Signed distance-like value (normalised units, > 0 inside) of the lung of a side at (u, v).
   * `shrinkLateral(v)` pulls the lateral edge in and `dropApex` lowers the apex (pneumothorax).
   */
  lung(u: number, v: number, side: Side, shrinkLateral = 0, dropApex = 0): number {
    const s = side === 'right' ? -1 : 1;
    return lungDistance(s * (u - this.a.cx), v, this.medial(v, side), this.lateral(v, side) - shrinkLateral, this.dome(u, side), this.top + dropApex);
  }
  /** Dome heights per pixel column, right then left. */
  domeColumns(): [Float64Array, Float64Array] {
    const r = new Float64Array(this.size);
    const l = new Float64Array(this.size);
    for (let x = 0; x < this.size; x++) {
      r[x] = this.colCache[x * 2]!;
      l[x] = this.colCache[x * 2 + 1]!;
    }
    return [r, l];
  }
  heartInside(u: number, v: number): number {
    const c = TILT_COS, s = TILT_SIN;
    const du = u - this.heartCx, dv = v - this.heartCy;
    const x = (c * du + s * dv) / this.heartA;
    const y = (-s * du + c * dv) / this.heartB;
    return 1 - Math.sqrt(x * x + y * y);
  }
  /** Point in a lung from (fy: 0 apex..1 base, fx: 0 medial..1 lateral). */
  place(side: Side, fy: number, fx: number): [number, number] {
    // A big heart can fill the medial lower lung; move up until there is lung to hold the finding.
    for (let f = clamp(fy, 0.03, 0.97); ; f -= 0.04) {
      const v = this.top + f * (this.base(side) - 0.6 * this.a.domeHeight - this.top);
      const med = this.medial(v, side);
      const lat = this.lateral(v, side);
      const s = side === 'right' ? -1 : 1;
      const w = 1 - clamp((v - this.top) / 0.17, 0, 1);
      const mid = 0.5 * (med + lat);
      const half = 0.5 * (lat - med) * Math.sqrt(1 - w * w * w) * 0.85;
      if (half >= 0.035 || f <= 0.15) return [this.a.cx + s * (mid + (clamp(fx, 0, 1) * 2 - 1) * half), v];
    }
  }
}

/**
 * Signed distance-like value (normalised units, > 0 inside) of a lung at distance `du` from the
 * midline (towards its own side) and row v, given that row's mediastinal and lateral borders, the
 * dome height of the column and the apex level.
 */
function lungDistance(du: number, v: number, med: number, lat: number, dome: number, top: number): number {
  if (v < top - 0.02 || du < 0 || du > lat + 0.05) return -1;
  const mid = 0.5 * (med + lat);
  const half = 0.5 * (lat - med);
  const w = 1 - clamp((v - top) / 0.17, 0, 1);
  const span = half * Math.sqrt(1 - w * w * w);
  const dh = Math.min(du - (mid - span), mid + span - du);
  if (dh < -0.05) return dh;
  return Math.min(dh, dome - v, v - top);
}

/** Branching pulmonary vessels from each hilum, drawn as tapered lines into `map`. */
function drawVessels(map: Float32Array, size: number, chest: Chest, rng: Rng): void {
  const stamp = (u: number, v: number, radiusPx: number, value: number) => {
    const cx = u * size - 0.5;
    const cy = v * size - 0.5;
    const r = Math.max(0.6, radiusPx);
    const R = Math.ceil(r * 1.5);
    const x0 = Math.max(0, Math.floor(cx) - R), x1 = Math.min(size - 1, Math.ceil(cx) + R);
    const y0 = Math.max(0, Math.floor(cy) - R), y1 = Math.min(size - 1, Math.ceil(cy) + R);
    const inv = 1 / (2.25 * r * r);
    for (let y = y0; y <= y1; y++) {
      const dy2 = (y - cy) * (y - cy);
      for (let x = x0; x <= x1; x++) {
        // Compact bump (1 − d²/R²)², cheaper than a Gaussian and just as smooth at this scale.
        const q = 1 - ((x - cx) * (x - cx) + dy2) * inv;
        if (q <= 0) continue;
        const w = value * q * q;
        const i = y * size + x;
        if (w > map[i]!) map[i] = w;
      }
    }
  };
  const branch = (u: number, v: number, angle: number, length: number, width: number, value: number, depth: number) => {
    const step = 0.9 / size;
    const steps = Math.max(2, Math.round(length / step));
    let a = angle;
    for (let k = 0; k < steps; k++) {
      const t = k / steps;
      u += Math.cos(a) * step;
      v += Math.sin(a) * step;
      a += rng.normal(0, 0.07);
      stamp(u, v, width * size * (1 - 0.6 * t), value * (1 - 0.5 * t));
      if (depth < 2 && k > 4 && rng.random() < 0.027 * (3 - depth)) {
        branch(u, v, a + (rng.bernoulli(0.5) ? 1 : -1) * rng.uniform(0.35, 0.8), length * (1 - t) * rng.uniform(0.5, 0.8), width * 0.6, value * 0.8, depth + 1);
      }
    }
  };
  for (const side of ['right', 'left'] as const) {
    const s = side === 'right' ? -1 : 1;
    const vh = chest.top + 0.4 * (chest.base(side) - chest.top);
    const uh = chest.a.cx + s * (chest.medial(vh, side) + 0.008);
    const count = 9 + rng.int(4);
    for (let i = 0; i < count; i++) {
      // Fan from steeply up through lateral to steeply down, more branches to the lower lobes.
      const frac = (i + rng.uniform(-0.3, 0.3)) / (count - 1);
      const down = -1.25 + 2.7 * frac; // radians from horizontal, negative = upwards
      const angle = s > 0 ? down : Math.PI - down;
      const length = rng.uniform(0.16, 0.26) * (frac < 0.3 ? 1.1 : 1);
      branch(uh, vh, angle, length, rng.uniform(0.005, 0.008), rng.uniform(0.06, 0.085), 0);
    }
  }
}

/** Per column, add a curved bone band (centre v(d), thickness th, d = distance from midline). */
function drawBand(
  att: Float32Array,
  size: number,
  cx: number,
  side: Side,
  dFrom: number,
  dTo: number,
  centre: (d: number) => number,
  thickness: number,
  value: number,
  clip: (x: number, y: number) => number,
): void {
  const s = side === 'right' ? -1 : 1;
  const px = 1 / size;
  for (let x = 0; x < size; x++) {
    const u = (x + 0.5) * px;
    const d = s * (u - cx);
    if (d < dFrom || d > dTo) continue;
    const vc = centre(d);
    const slope = (centre(d + px) - centre(d - px)) / (2 * px);
    const ht = 0.5 * thickness * Math.sqrt(1 + slope * slope);
    // Fade in and out at the band's ends instead of a hard cut.
    const endFade = smooth(0, 0.02, d - dFrom) * smooth(0, 0.02, dTo - d);
    const y0 = Math.max(0, Math.floor((vc - ht) * size - 1));
    const y1 = Math.min(size - 1, Math.ceil((vc + ht) * size + 1));
    for (let y = y0; y <= y1; y++) {
      const v = (y + 0.5) * px;
      const t = Math.abs(v - vc) / ht;
      const edge = smooth(1 + px / ht, 1 - px / ht, t);
      if (edge <= 0) continue;
      const cortex = 0.65 + 0.35 * t * t; // cortical rims are denser than the marrow
      att[y * size + x]! += value * edge * cortex * endFade * clip(x, y);
    }
  }
}

/**
 * Render the phantom of one study at `size`×`size`.
 *
 * @example const p = renderPhantom({ anatomy, lesions, view: 'PA', cardiomegaly: false }, 256);
 */
export function renderPhantom(input: PhantomInput, size: number): Phantom {
  const { anatomy: a, lesions, view } = input;
  const chest = new Chest(a, view, size);
  const n = size * size;
  const px = 1 / size;
  const rng = new Rng(a.textureSeed);
  const broad = new ValueNoise(rng.fork('broad'), 6);
  const fine = new ValueNoise(rng.fork('fine'), 24);
  const finer = new ValueNoise(rng.fork('finer'), 56);
  const vessels = new Float32Array(n);
  drawVessels(vessels, size, chest, rng.fork('vessels'));

  const att = new Float32Array(n);
  const masks: Partial<Record<Finding, Uint8Array>> = {};
  const mConsolidation = lesions.consolidation ? (masks.Consolidation = new Uint8Array(n)) : undefined;
  const mNodule = lesions.nodule ? (masks.Nodule = new Uint8Array(n)) : undefined;
  const mEffusion = lesions.effusion ? (masks.Effusion = new Uint8Array(n)) : undefined;
  const mPneumothorax = lesions.pneumothorax ? (masks.Pneumothorax = new Uint8Array(n)) : undefined;
  const mCardio = input.cardiomegaly ? (masks.Cardiomegaly = new Uint8Array(n)) : undefined;

  // Finding geometry in image coordinates.
  const cons = lesions.consolidation;
  const consBlobs = cons
    ? (() => {
        const [cu, cv] = chest.place(cons.side, cons.fy, cons.fx);
        return cons.blobs.map((b) => ({ u: cu + b.dx * cons.radius, v: cv + b.dy * cons.radius, s: b.r * cons.radius, w: b.w }));
      })()
    : [];
  // Bounding box (centre u, centre v, half-size) outside which the consolidation is negligible.
  const consBox: [number, number, number] = [0, 0, 0];
  if (cons) {
    const [cu, cv] = chest.place(cons.side, cons.fy, cons.fx);
    const reach = Math.max(...consBlobs.map((b) => Math.max(Math.abs(b.u - cu), Math.abs(b.v - cv)) + 3.5 * b.s));
    consBox.splice(0, 3, cu, cv, reach);
  }
  const nod = lesions.nodule;
  const nodC = nod ? chest.place(nod.side, nod.fy, nod.fx) : [0, 0];
  const eff = lesions.effusion;
  const ptx = lesions.pneumothorax;
  const ptxShrink = (v: number): number => {
    if (!ptx) return 0;
    const fy = (v - chest.top) / (chest.base(ptx.side) - chest.top);
    return ptx.gap * (1 - smooth(ptx.extent * 0.5, ptx.extent, fy));
  };
  const bubble = rng.bernoulli(0.75);
  const bubbleU = a.cx + 0.5 * a.thoraxHalfWidth + rng.normal(0, 0.02);
  const bubbleV = a.domeLeft + a.domeHeight * 0.4 + 0.045;
  const carina = chest.top + 0.15;
  const [domeRight, domeLeft] = chest.domeColumns();

  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    const shrinkR = ptx && ptx.side === 'right' ? ptxShrink(v) : 0;
    const shrinkL = ptx && ptx.side === 'left' ? ptxShrink(v) : 0;
    const inHeartRows = Math.abs(v - chest.heartCy) < chest.heartHh * 1.1;
    const platePerRow = Math.cos(((v - chest.top) / 0.046) * Math.PI * 2);
    const medR = chest.medial(v, 'right'), medL = chest.medial(v, 'left');
    const latR = chest.lateral(v, 'right'), latL = chest.lateral(v, 'left');
    // Body: neck, rounded shoulders, torso running off the bottom of the film (per row).
    const ts = clamp((v - 0.015) / 0.11, 0, 1);
    const halfW = Math.max(0.085, a.bodyHalfWidth * Math.sqrt(1 - (1 - ts) * (1 - ts)) * (1 - 0.05 * clamp((v - 0.8) / 0.2, 0, 1)));
    const x0 = Math.max(0, Math.floor((a.cx - halfW - 0.012) * size));
    const x1 = Math.min(size - 1, Math.ceil((a.cx + halfW + 0.012) * size));
    for (let x = x0; x <= x1; x++) {
      const u = (x + 0.5) * px;
      const i = y * size + x;
      const du = u - a.cx;
      const adu = Math.abs(du);
      const side: Side = du < 0 ? 'right' : 'left';
      const isRight = du < 0;
      const med = isRight ? medR : medL;
      const lat = isRight ? latR : latL;
      const domeV = isRight ? domeRight[x]! : domeLeft[x]!;

      const inBody = smooth(0.01, -0.004, adu - halfW);
      if (inBody <= 0) continue;
      const thick = Math.sqrt(clamp(1 - (adu / (halfW + px)) ** 2, 0, 1));
      let A = inBody * a.softTissue * (0.2 + 0.26 * thick);
      A *= 1 + 0.06 * broad.at(u, v);

      // Breast shadows over the lower zones.
      if (a.breast > 0) {
        const bu = (adu - 0.62 * a.thoraxHalfWidth) / 0.19;
        const bv = (v - (chest.domeTop(side) - 0.01)) / 0.13;
        const r = bu * bu + bv * bv;
        if (r < 1.2) A += 0.07 * a.breast * smooth(1.2, 0.7, r) * (bv > -0.3 ? 1 : smooth(-1, -0.3, bv));
      }

      // Lungs: air removes attenuation, most where the lung is thickest.
      const lungD = lungDistance(adu, v, med, lat, domeV, chest.top);
      const lungMask = lungD <= -px ? 0 : smooth(-px, px, lungD);
      let air = lungMask > 0 ? lungMask * (0.16 + 0.11 * Math.sqrt(clamp(lungD / 0.07, 0, 1))) : 0;
      let markings = 1;
      let ptxRegion = 0;
      if (ptx && lungMask > 0 && side === ptx.side) {
        const collapsed = lungDistance(adu, v, med, lat - (isRight ? shrinkR : shrinkL), domeV, chest.top + ptx.gap * 0.6);
        ptxRegion = lungMask * smooth(px, -px, collapsed);
        // No lung markings beyond the visceral pleural line, and the space is more lucent.
        markings = 1 - ptxRegion;
        air += ptxRegion * 0.07;
        A += 0.09 * smooth(1.2 * px, 0, Math.abs(collapsed)) * lungMask; // the pleural line
        if (mPneumothorax && ptxRegion > 0.5) mPneumothorax[i] = 1;
      }
      // Effusion: fluid fills the base, meniscus higher laterally, hides the costophrenic angle.
      let fluid = 0;
      if (eff && side === eff.side) {
        const latFrac = clamp((adu - med) / Math.max(1e-3, lat - med), 0, 1);
        const surface = chest.base(side) - eff.height * (chest.base(side) - chest.top) - eff.meniscus * latFrac * latFrac;
        const inHemi = smooth(px, -px, adu - lat) * smooth(-px, px, adu - med * 0.97);
        fluid = smooth(surface - 1.5 * px, surface + 2.5 * px, v) * inHemi * smooth(px, -px, v - (domeV + 0.03));
        if (mEffusion && fluid > 0.5 && lungMask > 0.5) mEffusion[i] = 1;
      }
      air *= 1 - fluid;
      A += eff ? fluid * eff.density * 0.25 : 0;
      A -= air;

      // Lung texture and vessels, only where there is aerated lung with markings.
      const aerated = lungMask * markings * (1 - fluid);
      if (aerated > 0) A += aerated * (0.03 * fine.at(u, v) + 0.018 * finer.at(u, v) + vessels[i]!);

      // Consolidation: patchy airspace opacity within the lung.
      if (cons && lungMask > 0 && Math.abs(u - consBox[0]) < consBox[2] && Math.abs(v - consBox[1]) < consBox[2]) {
        let D = 0;
        for (const b of consBlobs) {
          const d2 = (u - b.u) ** 2 + (v - b.v) ** 2;
          D += b.w * Math.exp(-d2 / (2 * b.s * b.s));
        }
        D = Math.min(1, D) * lungMask * (0.7 + 0.3 * finer.at(u * 1.7, v * 1.7));
        A += D * cons.density;
        if (mConsolidation && D > 0.4 && lungMask > 0.5) mConsolidation[i] = 1;
      }
      // Nodule: a small dense sphere.
      if (nod) {
        const dist = Math.sqrt((u - nodC[0]!) ** 2 + (v - nodC[1]!) ** 2);
        if (dist < nod.radius + 2 * px) {
          const r = nod.radius;
          A += nod.density * smooth(r + px, r - px, dist) * Math.sqrt(clamp(1 - (dist / r) ** 2, 0.05, 1));
          if (mNodule && dist <= r + 0.5 * px) mNodule[i] = 1;
        }
      }
      // Heart: denser than the superior mediastinum; its silhouette is the cardiomegaly mask.
      const hIn = inHeartRows ? chest.heartInside(u, v) : -1;
      if (hIn > -0.1) {
        const above = smooth(chest.heartBottom + 0.01, chest.heartBottom - 0.004, v);
        A += 0.05 * smooth(-0.02, 0.05, hIn) * above;
        if (mCardio && hIn > 0 && above > 0.5) mCardio[i] = 1;
      }
      // Spine behind the mediastinum, with vertebral end plates.
      if (adu < 0.05) {
        const sp = smooth(0.042, 0.032, adu);
        const plate = platePerRow;
        A += sp * (0.05 + 0.014 * plate * plate) * (v > 0.02 ? 1 : 0);
      }
      // Trachea: an air column down to the carina.
      if (adu < 0.02 && v < carina) A -= 0.07 * smooth(0.016, 0.01, adu) * smooth(carina, carina - 0.03, v);
      // Gastric bubble under the left dome.
      if (bubble && side === 'left') {
        const r = ((u - bubbleU) / 0.045) ** 2 + ((v - bubbleV) / 0.022) ** 2;
        if (r < 1.3 && v > domeV + 0.005) A -= 0.12 * smooth(1.2, 0.8, r) * (v < bubbleV ? 1 : smooth(1.3, 0.2, r));
      }
      att[i] = A;
    }
  }

  // Bones. Posterior ribs arc from the spine up-and-out then down the lateral wall; the anterior
  // ribs run down-and-in from the lateral wall and are fainter.
  // Where ribs show: inside the rib cage, above the domes, fainter over the mediastinum.
  const rowMed = new Float64Array(size * 2), rowLat = new Float64Array(size * 2);
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * px;
    rowMed[2 * y] = chest.medial(v, 'right');
    rowMed[2 * y + 1] = chest.medial(v, 'left');
    rowLat[2 * y] = chest.lateral(v, 'right');
    rowLat[2 * y + 1] = chest.lateral(v, 'left');
  }
  const inChest = (x: number, y: number) => {
    const u = (x + 0.5) * px, v = (y + 0.5) * px;
    const k = u < a.cx ? 0 : 1;
    const d = Math.abs(u - a.cx);
    const med = rowMed[2 * y + k]!, dome = k === 0 ? domeRight[x]! : domeLeft[x]!;
    const overMediastinum = 0.4 + 0.6 * smooth(med - 0.01, med + 0.01, d);
    return overMediastinum * smooth(0.02, -0.02, d - rowLat[2 * y + k]! - 0.015) * smooth(dome + 0.04, dome - 0.01, v);
  };
  const baseAvg = 0.5 * (chest.base('right') + chest.base('left'));
  const spacing = ((baseAvg - chest.top) / 9.2) * a.ribSpacing;
  for (const side of ['right', 'left'] as const) {
    const L = chest.lat + 0.015;
    for (let k = 0; k < 10; k++) {
      const yk = chest.top - 0.012 + k * spacing;
      const th = (0.016 + 0.0014 * k) * a.ribThickness;
      drawBand(att, size, a.cx, side, 0.035, L, (d) => { const t = d / L; return yk - 0.035 * t + 0.13 * t * t * t * Math.sqrt(Math.max(t, 0)); }, th, 0.05 + 0.03 * (k / 9), inChest);
      if (k < 7) drawBand(att, size, a.cx, side, 0.32 * L, 0.97 * L, (d) => { const t = 1 - d / L; return yk + 0.075 + 0.2 * t * Math.sqrt(Math.sqrt(Math.max(t, 0))); }, th * 1.3, 0.03, inChest);
    }
    // Clavicle: medial end by the sternal notch, lateral end up at the shoulder (higher on AP).
    const clTop = chest.top + 0.03 - (view === 'AP' ? 0.035 : 0);
    drawBand(att, size, a.cx, side, 0.025, 0.33, (d) => clTop - 0.07 * ((d - 0.025) / 0.3) + 0.012 * Math.sin((2 * Math.PI * (d - 0.025)) / 0.3), 0.024, 0.12, () => 1);
    // Scapula over the lateral upper lung on AP films (rotated off the lungs on PA).
    if (view === 'AP') {
      const s = side === 'right' ? -1 : 1;
      for (let y = 0; y < size; y++) {
        const v = (y + 0.5) * px;
        if (v < chest.top - 0.02 || v > chest.top + 0.33) continue;
        const border = 0.25 + 0.07 * ((v - chest.top) / 0.33);
        for (let x = 0; x < size; x++) {
          const d = s * ((x + 0.5) * px - a.cx);
          if (d > border - 0.01 && d < chest.lat + 0.06) att[y * size + x]! += 0.04 * smooth(border - 0.005, border + 0.005, d) * smooth(chest.top + 0.33, chest.top + 0.25, v);
        }
      }
    }
  }
  return { size, attenuation: att, masks };
}
