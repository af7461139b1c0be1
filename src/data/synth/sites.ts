/**
 * Acquisition and population profiles of the synthetic sites. The first four are fixed presets
 * chosen to differ in every way a real multi-site cohort does (vendor, CR vs DX, MONOCHROME1 vs 2,
 * 12 vs 16 bits stored, gamma, noise, blur, AP share); more sites are drawn from the seed. Exactly one
 * site (site_D with four or more sites, else the last) has a clearly different case mix: an older,
 * inpatient-like population with more effusion, consolidation and cardiomegaly and more AP films.
 */
import { Rng } from '../../util/rng.js';
import type { Finding, SiteProfile } from './types.js';

const zeroShift = (): Record<Finding, number> => ({ Cardiomegaly: 0, Effusion: 0, Consolidation: 0, Nodule: 0, Pneumothorax: 0 });

/** Population shift of the distinct site: clearly sicker, so prevalence differs visibly. */
const DISTINCT_SHIFT: Record<Finding, number> = { Cardiomegaly: 0.6, Effusion: 1.1, Consolidation: 1.1, Nodule: -0.4, Pneumothorax: -0.3 };

const PRESETS: Omit<SiteProfile, 'name' | 'logitShift' | 'distinctPrevalence'>[] = [
  { manufacturer: 'Northwind Imaging', model: 'NW-DR 500', modality: 'DX', photometric: 'MONOCHROME2', bitsStored: 12, gamma: 1.0, contrast: 1.0, noise: 0.012, blurSigma: 0.5, rescaleSlope: 1, rescaleIntercept: 0, kvp: 120, apFraction: 0.12, weight: 0.34, ageMean: 54, ageSd: 17 },
  { manufacturer: 'Helix Radiography', model: 'HX CR-2', modality: 'CR', photometric: 'MONOCHROME1', bitsStored: 12, gamma: 0.8, contrast: 0.9, noise: 0.022, blurSigma: 1.1, rescaleSlope: 1, rescaleIntercept: 0, kvp: 110, apFraction: 0.15, weight: 0.26, ageMean: 52, ageSd: 18 },
  { manufacturer: 'Orion Medical Systems', model: 'Orion DX Vision', modality: 'DX', photometric: 'MONOCHROME2', bitsStored: 16, gamma: 1.25, contrast: 1.15, noise: 0.007, blurSigma: 0.3, rescaleSlope: 1, rescaleIntercept: 0, kvp: 125, apFraction: 0.1, weight: 0.22, ageMean: 50, ageSd: 16 },
  { manufacturer: 'Kestrel Medical', model: 'KM Portable 3', modality: 'CR', photometric: 'MONOCHROME1', bitsStored: 16, gamma: 0.9, contrast: 0.85, noise: 0.03, blurSigma: 1.6, rescaleSlope: 0.5, rescaleIntercept: 0, kvp: 100, apFraction: 0.55, weight: 0.18, ageMean: 67, ageSd: 14 },
];

const VENDORS = ['Northwind Imaging', 'Helix Radiography', 'Orion Medical Systems', 'Kestrel Medical', 'Arcadia X-Ray', 'Boreal Diagnostics'];

export function siteName(i: number): string {
  if (i < 26) return `site_${String.fromCharCode(65 + i)}`;
  return `site_${String.fromCharCode(65 + Math.floor(i / 26) - 1)}${String.fromCharCode(65 + (i % 26))}`;
}

/** Index of the site with the distinct case mix, or -1 with a single site. */
export function distinctSiteIndex(sites: number): number {
  if (sites < 2) return -1;
  return sites >= 4 ? 3 : sites - 1;
}

/**
 * Site profiles for a cohort of `sites` sites.
 *
 * @example siteProfiles(4, 1).map((s) => s.name) // ['site_A', 'site_B', 'site_C', 'site_D']
 */
export function siteProfiles(sites: number, seed: number): SiteProfile[] {
  const rng = new Rng(`synth-sites:${seed}`);
  const odd = distinctSiteIndex(sites);
  const out: SiteProfile[] = [];
  for (let i = 0; i < sites; i++) {
    const base =
      i < PRESETS.length
        ? { ...PRESETS[i]! }
        : {
            manufacturer: rng.pick(VENDORS),
            model: `Model ${1 + rng.int(9)}`,
            modality: rng.bernoulli(0.5) ? ('CR' as const) : ('DX' as const),
            photometric: rng.bernoulli(0.4) ? ('MONOCHROME1' as const) : ('MONOCHROME2' as const),
            bitsStored: rng.pick([12, 14, 16]),
            gamma: round(rng.uniform(0.8, 1.25)),
            contrast: round(rng.uniform(0.85, 1.15)),
            noise: round(rng.uniform(0.006, 0.03), 4),
            blurSigma: round(rng.uniform(0.3, 1.5)),
            rescaleSlope: 1,
            rescaleIntercept: 0,
            kvp: rng.pick([100, 110, 120, 125]),
            apFraction: round(rng.uniform(0.08, 0.2)),
            weight: round(rng.uniform(0.1, 0.25)),
            ageMean: round(rng.uniform(48, 58), 1),
            ageSd: 17,
          };
    if (i === odd && i >= PRESETS.length) {
      base.apFraction = 0.55;
      base.ageMean = 67;
    }
    // With fewer than four sites the distinct one still gets the distinct population.
    if (i === odd && i < 3) {
      base.apFraction = 0.55;
      base.ageMean = 67;
      base.ageSd = 14;
    }
    out.push({ ...base, name: siteName(i), logitShift: i === odd ? { ...DISTINCT_SHIFT } : zeroShift(), distinctPrevalence: i === odd });
  }
  return out;
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
