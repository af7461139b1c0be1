/**
 * Small synthetic chest CR instances for the PACS reliability tests (a few KB each, so a test can put
 * 1,200 studies into Orthanc quickly), written with the project's DICOM writer.
 */
import { uidFromName, writeDicom, type DicomElement } from '../../src/data/dicom/writer.js';

export interface TinyInstance {
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  bytes: Uint8Array;
}

const CR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.1';

/**
 * A 16-bit MONOCHROME2 chest PA CR of `size`² pixels: a smooth body outline plus seeded texture.
 * @example const inst = tinyChestCr('outage', 3, 0); await orthanc.upload(inst.bytes);
 */
export function tinyChestCr(name: string, study: number, image = 0, opts: { size?: number; modality?: string } = {}): TinyInstance {
  const size = opts.size ?? 32;
  const studyUid = uidFromName(`radml-test/${name}/study/${study}`);
  const seriesUid = uidFromName(`radml-test/${name}/series/${study}`);
  const sopUid = uidFromName(`radml-test/${name}/instance/${study}/${image}`);
  const px = new Uint16Array(size * size);
  let s = (study * 7919 + image * 104729 + 1) >>> 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const r = Math.hypot((x - size / 2) / (size * 0.4), (y - size / 2) / (size * 0.45));
      px[y * size + x] = Math.round((r < 1 ? 2500 - 1200 * r * r : 300) + (s % 400));
    }
  }
  const elements: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: CR_IMAGE_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: sopUid },
    { tag: 0x00080020, vr: 'DA', value: '20260101' },
    { tag: 0x00080030, vr: 'TM', value: '120000' },
    { tag: 0x00080050, vr: 'SH', value: `A${study}` },
    { tag: 0x00080060, vr: 'CS', value: opts.modality ?? 'CR' },
    { tag: 0x00080070, vr: 'LO', value: 'SYNTH' },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00100010, vr: 'PN', value: `SYNTH^${study}` },
    { tag: 0x00100020, vr: 'LO', value: `P${study}` },
    { tag: 0x00100030, vr: 'DA', value: '' },
    { tag: 0x00100040, vr: 'CS', value: study % 2 ? 'F' : 'M' },
    { tag: 0x00180015, vr: 'CS', value: 'CHEST' },
    { tag: 0x00185101, vr: 'CS', value: 'PA' },
    { tag: 0x0020000d, vr: 'UI', value: studyUid },
    { tag: 0x0020000e, vr: 'UI', value: seriesUid },
    { tag: 0x00200010, vr: 'SH', value: String(study) },
    { tag: 0x00200011, vr: 'IS', value: 1 },
    { tag: 0x00200013, vr: 'IS', value: image + 1 },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: size },
    { tag: 0x00280011, vr: 'US', value: size },
    { tag: 0x00280100, vr: 'US', value: 16 },
    { tag: 0x00280101, vr: 'US', value: 12 },
    { tag: 0x00280102, vr: 'US', value: 11 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x7fe00010, vr: 'OW', value: px },
  ];
  return { studyUid, seriesUid, sopUid, bytes: writeDicom(elements) };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000, every = 100): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
