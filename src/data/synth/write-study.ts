/** Render one study and write its DICOM, PNG and mask files (shared by the main thread and workers). */
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { studyDicom } from './dicom.js';
import { encodeGreyPng } from './png.js';
import { renderStudy } from './render.js';
import { FINDINGS, type SiteProfile, type StudySpec } from './types.js';

/** 8-bit mask PNG: 255 inside, 0 outside. */
function pngMask(mask: Uint8Array, size: number): Buffer {
  const u8 = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) u8[i] = mask[i] ? 255 : 0;
  return encodeGreyPng(u8, size, size);
}

/**
 * Write `dicom/<id>.dcm`, `png/<id>.png`, `masks/<id>.png` and `masks/<id>_<Finding>.png` of one
 * study under `dir` (atomically); returns the paths written, relative to `dir`.
 *
 * @example writeStudyFiles(study, sites[study.siteIndex]!, 256, 1, '/tmp/synth') // ['dicom/ST00001.dcm', …]
 */
export function writeStudyFiles(study: StudySpec, site: SiteProfile, size: number, seed: number, dir: string): string[] {
  const r = renderStudy(study, site, size);
  const id = study.studyId;
  const png16 = new Uint16Array(r.acquired.mono2.length);
  const scale = 65535 / r.acquired.maxValue;
  for (let i = 0; i < png16.length; i++) png16[i] = Math.round(r.acquired.mono2[i]! * scale);
  const files: [string, Uint8Array][] = [
    [`dicom/${id}.dcm`, studyDicom(study, site, r.acquired, size, seed)],
    [`png/${id}.png`, encodeGreyPng(png16, size, size)],
    [`masks/${id}.png`, pngMask(r.union, size)],
  ];
  for (const f of FINDINGS) {
    const m = r.masks[f];
    if (m && study.labels[f] === 1) files.push([`masks/${id}_${f}.png`, pngMask(m, size)]);
  }
  for (const [rel, bytes] of files) writeFileAtomic(join(dir, rel), bytes);
  return files.map(([rel]) => rel);
}
