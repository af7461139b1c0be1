/**
 * The DICOM data set of one synthetic study: a CR or Digital X-Ray (for presentation) image with the
 * patient, study, series, equipment and image-pixel modules filled from the study spec and its site.
 * UIDs are derived from the seed and study id, so the same cohort gets the same UIDs every time.
 */
import { type DicomElement, uidFromName, writeDicom } from '../dicom/writer.js';
import type { Acquired } from './acquisition.js';
import type { SiteProfile, StudySpec } from './types.js';

export const CR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.1';
export const DX_IMAGE_STORAGE_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';

/** Physical field of view of the detector, mm; pixel spacing = field / size. */
const FIELD_MM = 430;

export interface StudyUids {
  study: string;
  series: string;
  instance: string;
}

/** Deterministic UIDs of a study of the cohort with this seed. @example studyUids(1, 'ST00001').study // '2.25.…' */
export function studyUids(seed: number, studyId: string): StudyUids {
  const base = `radml-synth/seed=${seed}/${studyId}`;
  return { study: uidFromName(`${base}/study`), series: uidFromName(`${base}/series`), instance: uidFromName(`${base}/instance`) };
}

function ds(v: number): string {
  return String(Math.round(v * 1e4) / 1e4);
}

/**
 * Element list of one study's image (patient, study, series, equipment, image-pixel, VOI/rescale).
 *
 * @example writeDicom(studyElements(study, site, renderStudy(study, site, 256).acquired, 256, 1))
 */
export function studyElements(study: StudySpec, site: SiteProfile, acquired: Acquired, size: number, seed: number): DicomElement[] {
  const uids = studyUids(seed, study.studyId);
  const sopClass = site.modality === 'DX' ? DX_IMAGE_STORAGE_FOR_PRESENTATION : CR_IMAGE_STORAGE;
  const spacing = ds(FIELD_MM / size);
  const elements: DicomElement[] = [
    { tag: 0x00080008, vr: 'CS', value: ['ORIGINAL', 'PRIMARY'] },
    { tag: 0x00080016, vr: 'UI', value: sopClass },
    { tag: 0x00080018, vr: 'UI', value: uids.instance },
    { tag: 0x00080020, vr: 'DA', value: study.date },
    { tag: 0x00080023, vr: 'DA', value: study.date },
    { tag: 0x00080030, vr: 'TM', value: study.time },
    { tag: 0x00080033, vr: 'TM', value: study.time },
    { tag: 0x00080050, vr: 'SH', value: `A${study.studyId}`.slice(0, 16) },
    { tag: 0x00080060, vr: 'CS', value: site.modality },
    { tag: 0x00080070, vr: 'LO', value: site.manufacturer },
    { tag: 0x00080080, vr: 'LO', value: site.name },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00081030, vr: 'LO', value: `CHEST ${study.view}` },
    { tag: 0x0008103e, vr: 'LO', value: `CHEST ${study.view}` },
    { tag: 0x00081090, vr: 'LO', value: site.model },
    { tag: 0x00100010, vr: 'PN', value: `SYNTH^${study.patientNumber}` },
    { tag: 0x00100020, vr: 'LO', value: study.patientId },
    { tag: 0x00100030, vr: 'DA', value: '' },
    { tag: 0x00100040, vr: 'CS', value: study.sex },
    { tag: 0x00101010, vr: 'AS', value: `${String(study.age).padStart(3, '0')}Y` },
    { tag: 0x00120062, vr: 'CS', value: 'YES' },
    { tag: 0x00120063, vr: 'LO', value: 'radml synthetic phantom, no real patient' },
    { tag: 0x00180015, vr: 'CS', value: 'CHEST' },
    { tag: 0x00180060, vr: 'DS', value: site.kvp },
    { tag: 0x00181164, vr: 'DS', value: [spacing, spacing] },
    { tag: 0x00185101, vr: 'CS', value: study.view },
    { tag: 0x0020000d, vr: 'UI', value: uids.study },
    { tag: 0x0020000e, vr: 'UI', value: uids.series },
    { tag: 0x00200010, vr: 'SH', value: study.studyId.slice(0, 16) },
    { tag: 0x00200011, vr: 'IS', value: 1 },
    { tag: 0x00200013, vr: 'IS', value: 1 },
    { tag: 0x00200020, vr: 'CS', value: ['L', 'F'] },
    { tag: 0x00200060, vr: 'CS', value: '' },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: site.photometric },
    { tag: 0x00280010, vr: 'US', value: size },
    { tag: 0x00280011, vr: 'US', value: size },
    { tag: 0x00280030, vr: 'DS', value: [spacing, spacing] },
    { tag: 0x00280100, vr: 'US', value: 16 },
    { tag: 0x00280101, vr: 'US', value: site.bitsStored },
    { tag: 0x00280102, vr: 'US', value: site.bitsStored - 1 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x00281050, vr: 'DS', value: ds(acquired.windowCenter) },
    { tag: 0x00281051, vr: 'DS', value: ds(acquired.windowWidth) },
    { tag: 0x00281052, vr: 'DS', value: ds(site.rescaleIntercept) },
    { tag: 0x00281053, vr: 'DS', value: ds(site.rescaleSlope) },
    { tag: 0x00281054, vr: 'LO', value: 'US' },
    { tag: 0x00282110, vr: 'CS', value: '00' },
    { tag: 0x7fe00010, vr: 'OW', value: acquired.stored },
  ];
  if (site.modality === 'DX') {
    elements.push({ tag: 0x00080068, vr: 'CS', value: 'FOR PRESENTATION' });
    elements.push({ tag: 0x00281040, vr: 'CS', value: 'LIN' }); // PixelIntensityRelationship
    // Sign +1: lower stored values mean less X-ray beam intensity. MONOCHROME1 stores inverted
    // values (low = dense = little beam), MONOCHROME2 the other way round.
    elements.push({ tag: 0x00281041, vr: 'SS', value: site.photometric === 'MONOCHROME1' ? 1 : -1 });
  }
  return elements;
}

/** The Part 10 bytes of one study's image. @example writeFileSync('ST00001.dcm', studyDicom(study, site, acquired, 256, 1)) */
export function studyDicom(study: StudySpec, site: SiteProfile, acquired: Acquired, size: number, seed: number): Uint8Array {
  return writeDicom(studyElements(study, site, acquired, size, seed));
}
