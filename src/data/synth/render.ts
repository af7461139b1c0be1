/** One study from spec to pixels: phantom, then the site's acquisition. Pure and deterministic. */
import type { GreyImage } from '../grey-image.js';
import { acquire, type Acquired } from './acquisition.js';
import { renderPhantom } from './phantom.js';
import type { Finding, SiteProfile, StudySpec } from './types.js';
import { FINDINGS } from './types.js';

export interface RenderedStudy {
  size: number;
  /** MONOCHROME2 intensities in [0, 1], as the PNG shows them. */
  image: GreyImage;
  acquired: Acquired;
  /** 1 inside each present localised finding (every present finding has one). */
  masks: Partial<Record<Finding, Uint8Array>>;
  /** 1 inside the union of the finding masks. */
  union: Uint8Array;
}

/**
 * Render one study at `size`×`size` pixels as its site acquires it.
 *
 * @example
 * const [study] = sampleCohort({ n: 1, seed: 1, sites });
 * const r = renderStudy(study!, sites[study!.siteIndex]!, 256); // r.image.data, r.masks.Nodule
 */
export function renderStudy(study: StudySpec, site: SiteProfile, size = 256): RenderedStudy {
  const phantom = renderPhantom({ anatomy: study.anatomy, lesions: study.lesions, view: study.view, cardiomegaly: study.labels.Cardiomegaly === 1 }, size);
  const acquired = acquire(phantom.attenuation, size, site, study.noiseSeed);
  const n = size * size;
  const data = new Float32Array(n);
  const inv = 1 / acquired.maxValue;
  for (let i = 0; i < n; i++) data[i] = acquired.mono2[i]! * inv;
  const union = new Uint8Array(n);
  for (const f of FINDINGS) {
    const m = phantom.masks[f];
    if (!m) continue;
    for (let i = 0; i < n; i++) if (m[i]) union[i] = 1;
  }
  return { size, image: { width: size, height: size, data }, acquired, masks: phantom.masks, union };
}
