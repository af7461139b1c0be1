/**
 * The DICOM objects radml sends back to the PACS for a scored study, written with the project's
 * Part 10 writer: a Comprehensive SR (findings, per-class scores, operating-point decisions, model
 * name/version/SHA-256, references to every scored image) and one Secondary Capture per scored image
 * (the image with the occlusion heatmap and a score banner burnt in). Both carry the source Study
 * Instance UID and patient module so the PACS files them in the same study, in new series.
 *
 * UIDs are derived from (study, model version, source image), so storing the same result twice
 * replaces rather than duplicates it: the PACS side of "processed exactly once".
 */
import sharp from 'sharp';
import { parseDicomBytes } from '../data/dicom/parse.js';
import { type DicomElement, type DicomItem, uidFromName, writeDicom } from '../data/dicom/writer.js';
import { resizeImage, type ResizeMode } from '../data/preprocess/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { RADML_MANUFACTURER } from './eligibility.js';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/** Patient/study attributes copied from the source so the results land in the same PACS study. */
const COPIED: readonly { tag: number; vr: 'PN' | 'LO' | 'DA' | 'TM' | 'CS' | 'SH' }[] = [
  { tag: 0x00100010, vr: 'PN' }, // Patient's Name
  { tag: 0x00100020, vr: 'LO' }, // Patient ID
  { tag: 0x00100021, vr: 'LO' }, // Issuer of Patient ID
  { tag: 0x00100030, vr: 'DA' }, // Patient's Birth Date
  { tag: 0x00100040, vr: 'CS' }, // Patient's Sex
  { tag: 0x00080020, vr: 'DA' }, // Study Date
  { tag: 0x00080030, vr: 'TM' }, // Study Time
  { tag: 0x00080050, vr: 'SH' }, // Accession Number
  { tag: 0x00080090, vr: 'PN' }, // Referring Physician's Name
  { tag: 0x00200010, vr: 'SH' }, // Study ID
  { tag: 0x00081030, vr: 'LO' }, // Study Description
];

export interface SourceStudy {
  studyUid: string;
  /** Patient/study module elements (and the character set) copied from one source instance. */
  copied: DicomElement[];
}

export interface ScoredImage {
  sopClassUid: string;
  sopUid: string;
  seriesUid: string;
  scores: Record<string, number>;
  decisions: Record<string, boolean>;
}

export interface ModelIdentity {
  name: string;
  version: number;
  onnxSha256: string;
  classes: string[];
  thresholds: Record<string, number>;
  rule?: string | undefined;
}

/** Read the patient/study module of a source instance, decoding text with its character set. */
export function sourceStudy(bytes: Uint8Array, file: string): SourceStudy {
  const { dataSet } = parseDicomBytes(bytes, file);
  const charsetEl = dataSet.elements['x00080005'];
  const charset = charsetEl ? (dataSet.string('x00080005') ?? '').trim() : '';
  const utf8 = charset.includes('ISO_IR 192');
  const text = (tag: number): string | undefined => {
    const key = 'x' + tag.toString(16).padStart(8, '0');
    const el = dataSet.elements[key];
    if (!el) return undefined;
    const raw = Buffer.from(dataSet.byteArray.subarray(el.dataOffset, el.dataOffset + el.length));
    return (utf8 ? raw.toString('utf8') : raw.toString('latin1')).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  };
  const copied: DicomElement[] = [];
  if (charset) copied.push({ tag: 0x00080005, vr: 'CS', value: charset.split('\\') });
  for (const c of COPIED) {
    const v = text(c.tag);
    if (v !== undefined) copied.push({ tag: c.tag, vr: c.vr, value: v });
  }
  return { studyUid: (dataSet.string('x0020000d') ?? '').replace(/\0/g, '').trim(), copied };
}

function code(value: string, scheme: string, meaning: string): DicomItem {
  return [
    { tag: 0x00080100, vr: 'SH', value },
    { tag: 0x00080102, vr: 'SH', value: scheme },
    { tag: 0x00080104, vr: 'LO', value: meaning.slice(0, 64) },
  ];
}

/** A code for a class name in radml's private scheme (code values are at most 16 characters). */
function classCode(cls: string): DicomItem {
  const v = cls.length <= 16 && /^[A-Za-z0-9_.-]+$/.test(cls) ? cls : uidFromName(cls).slice(5, 21);
  return code(v, '99RADML', cls);
}

function textItem(rel: string, concept: DicomItem, value: string): DicomItem {
  return [
    { tag: 0x0040a010, vr: 'CS', value: rel },
    { tag: 0x0040a040, vr: 'CS', value: 'TEXT' },
    { tag: 0x0040a043, vr: 'SQ', value: [concept] },
    { tag: 0x0040a160, vr: 'UT', value },
  ];
}

function numItem(concept: DicomItem, value: number): DicomItem {
  return [
    { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
    { tag: 0x0040a040, vr: 'CS', value: 'NUM' },
    { tag: 0x0040a043, vr: 'SQ', value: [concept] },
    {
      tag: 0x0040a300, vr: 'SQ', value: [[
        { tag: 0x004008ea, vr: 'SQ', value: [code('1', 'UCUM', 'no units')] },
        { tag: 0x0040a30a, vr: 'DS', value: Number(value.toFixed(6)) },
      ]],
    },
  ];
}

function imageItem(img: ScoredImage): DicomItem {
  return [
    { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
    { tag: 0x0040a040, vr: 'CS', value: 'IMAGE' },
    { tag: 0x0040a043, vr: 'SQ', value: [code('121112', 'DCM', 'Source of Measurement')] },
    { tag: 0x00081199, vr: 'SQ', value: [[{ tag: 0x00081150, vr: 'UI', value: img.sopClassUid }, { tag: 0x00081155, vr: 'UI', value: img.sopUid }]] },
  ];
}

function dateTime(now: Date): { da: string; tm: string } {
  const iso = now.toISOString();
  return { da: iso.slice(0, 10).replace(/-/g, ''), tm: iso.slice(11, 19).replace(/:/g, '') };
}

export function resultUids(kind: 'sr' | 'sc', studyUid: string, model: ModelIdentity, sourceSop = ''): { series: string; instance: string } {
  const base = `radml/${kind}/${model.name}@${model.version}/${studyUid}`;
  return { series: uidFromName(base + '/series'), instance: uidFromName(base + '/' + sourceSop) };
}

/**
 * What every result instance shares: the source patient/study attributes, SOP class and instance,
 * creation and content date/time, modality, radml as manufacturer, the study and the new series.
 */
function resultInstanceHeader(study: SourceStudy, sopClass: string, uids: { series: string; instance: string }, now: Date, modality: string, seriesDescription: string): DicomElement[] {
  const { da, tm } = dateTime(now);
  return [
    ...study.copied,
    { tag: 0x00080016, vr: 'UI', value: sopClass },
    { tag: 0x00080018, vr: 'UI', value: uids.instance },
    { tag: 0x00080012, vr: 'DA', value: da },
    { tag: 0x00080013, vr: 'TM', value: tm },
    { tag: 0x00080023, vr: 'DA', value: da },
    { tag: 0x00080033, vr: 'TM', value: tm },
    { tag: 0x00080060, vr: 'CS', value: modality },
    { tag: 0x00080070, vr: 'LO', value: RADML_MANUFACTURER },
    { tag: 0x0008103e, vr: 'LO', value: seriesDescription.slice(0, 64) },
    { tag: 0x0020000d, vr: 'UI', value: study.studyUid },
    { tag: 0x0020000e, vr: 'UI', value: uids.series },
  ];
}

function formatDecision(cls: string, img: ScoredImage, model: ModelIdentity): string {
  const t = model.thresholds[cls];
  if (t === undefined) return `${cls}: score ${img.scores[cls]!.toFixed(3)} (no operating point set)`;
  return `${cls}: ${img.decisions[cls] ? 'POSITIVE' : 'negative'} (score ${img.scores[cls]!.toFixed(3)}, threshold ${t}${model.rule ? `, ${model.rule}` : ''})`;
}

function evidence(study: SourceStudy, images: readonly ScoredImage[]): DicomElement {
  const bySeries = new Map<string, ScoredImage[]>();
  for (const i of images) bySeries.set(i.seriesUid, [...(bySeries.get(i.seriesUid) ?? []), i]);
  return {
    tag: 0x0040a375, vr: 'SQ', value: [[
      { tag: 0x0020000d, vr: 'UI', value: study.studyUid },
      {
        tag: 0x00081115, vr: 'SQ', value: [...bySeries].map(([series, imgs]): DicomItem => [
          { tag: 0x0020000e, vr: 'UI', value: series },
          { tag: 0x00081199, vr: 'SQ', value: imgs.map((i): DicomItem => [{ tag: 0x00081150, vr: 'UI', value: i.sopClassUid }, { tag: 0x00081155, vr: 'UI', value: i.sopUid }]) },
        ]),
      },
    ]],
  };
}

/**
 * Comprehensive SR with the model's findings for the scored images of one study.
 * @example const bytes = buildStructuredReport(study, model, images, new Date());
 */
export function buildStructuredReport(study: SourceStudy, model: ModelIdentity, images: readonly ScoredImage[], now = new Date()): Uint8Array {
  const uids = resultUids('sr', study.studyUid, model);
  const content: DicomItem[] = [
    textItem('HAS OBS CONTEXT', code('111001', 'DCM', 'Algorithm Name'), model.name),
    textItem('HAS OBS CONTEXT', code('111003', 'DCM', 'Algorithm Version'), String(model.version)),
    textItem('HAS OBS CONTEXT', code('111002', 'DCM', 'Algorithm Parameters'),
      `model.onnx SHA-256 ${model.onnxSha256}; operating point: ${Object.keys(model.thresholds).length ? Object.entries(model.thresholds).map(([c, t]) => `${c} >= ${t}`).join(', ') + (model.rule ? ` (${model.rule})` : '') : 'none'}`),
  ];
  for (const img of images) {
    const container: DicomItem = [
      { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
      { tag: 0x0040a040, vr: 'CS', value: 'CONTAINER' },
      { tag: 0x0040a050, vr: 'CS', value: 'SEPARATE' },
      { tag: 0x0040a043, vr: 'SQ', value: [code('121071', 'DCM', 'Finding')] },
      {
        tag: 0x0040a730, vr: 'SQ', value: [
          imageItem(img),
          ...model.classes.map((c) => numItem(classCode(c), img.scores[c] ?? 0)),
          ...model.classes.map((c) => textItem('CONTAINS', code('121071', 'DCM', 'Finding'), formatDecision(c, img, model))),
        ],
      },
    ];
    content.push(container);
  }
  content.push(textItem('CONTAINS', code('121106', 'DCM', 'Comment'),
    'Generated automatically by radml. Scores are model outputs for decision support, to be read by a radiologist; not a diagnosis.'));
  const elements: DicomElement[] = [
    ...resultInstanceHeader(study, COMPREHENSIVE_SR, uids, now, 'SR', `radml ${model.name} v${model.version} findings`),
    { tag: 0x00081090, vr: 'LO', value: `${model.name} v${model.version}`.slice(0, 64) },
    { tag: 0x00200011, vr: 'IS', value: 9901 },
    { tag: 0x00200013, vr: 'IS', value: 1 },
    { tag: 0x00081111, vr: 'SQ', value: [] },
    { tag: 0x0040a372, vr: 'SQ', value: [] },
    { tag: 0x0040a040, vr: 'CS', value: 'CONTAINER' },
    { tag: 0x0040a043, vr: 'SQ', value: [code('18748-4', 'LN', 'Diagnostic imaging report')] },
    { tag: 0x0040a050, vr: 'CS', value: 'SEPARATE' },
    { tag: 0x0040a491, vr: 'CS', value: 'COMPLETE' },
    { tag: 0x0040a493, vr: 'CS', value: 'UNVERIFIED' },
    { tag: 0x0040a730, vr: 'SQ', value: content },
    evidence(study, images),
  ];
  if (!study.copied.some((e) => e.tag === 0x00080020)) elements.push({ tag: 0x00080020, vr: 'DA', value: '' });
  for (const t of [0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00080030, 0x00080050, 0x00080090, 0x00200010]) {
    if (!study.copied.some((e) => e.tag === t)) elements.push({ tag: t, vr: COPIED.find((c) => c.tag === t)!.vr, value: '' });
  }
  return writeDicom(elements);
}

/** Blue → cyan → yellow → red ramp for v in [0, 1]. */
function heatColour(v: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, v));
  const r = Math.min(1, Math.max(0, 1.5 * x * 2 - 1));
  const g = Math.min(1, Math.max(0, x < 0.5 ? 2 * x : 2 - 2 * x + 0.4));
  const b = Math.min(1, Math.max(0, 1 - 2 * x));
  return [r * 255, g * 255, b * 255];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * The image (resized like the model input, so heatmap cells line up) as RGB with the heatmap
 * blended in and a banner of scores on top. `heatmap` is grid × grid, row-major, any scale ≥ 0.
 */
export async function renderResultImage(img: GreyImage, resizeMode: ResizeMode, lines: readonly string[], heatmap?: { grid: number; values: Float32Array }, size = 512): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const base = resizeImage(img, size, resizeMode);
  const rgb = new Uint8Array(size * size * 3);
  let hmax = 0;
  if (heatmap) for (const v of heatmap.values) hmax = Math.max(hmax, v);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const grey = Math.max(0, Math.min(1, base.data[i]!)) * 255;
      let r = grey, g = grey, b = grey;
      if (heatmap && hmax > 0) {
        // Bilinear over cell centres so the overlay has no blocky edges.
        const gx = Math.min(heatmap.grid - 1, Math.max(0, ((x + 0.5) * heatmap.grid) / size - 0.5));
        const gy = Math.min(heatmap.grid - 1, Math.max(0, ((y + 0.5) * heatmap.grid) / size - 0.5));
        const x0 = Math.floor(gx), y0 = Math.floor(gy);
        const x1 = Math.min(heatmap.grid - 1, x0 + 1), y1 = Math.min(heatmap.grid - 1, y0 + 1);
        const fx = gx - x0, fy = gy - y0;
        const at = (yy: number, xx: number) => heatmap.values[yy * heatmap.grid + xx]!;
        const v = ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1))) / hmax;
        const a = 0.45 * v;
        const [hr, hg, hb] = heatColour(v);
        r = (1 - a) * grey + a * hr;
        g = (1 - a) * grey + a * hg;
        b = (1 - a) * grey + a * hb;
      }
      rgb[i * 3] = r;
      rgb[i * 3 + 1] = g;
      rgb[i * 3 + 2] = b;
    }
  }
  const lineH = Math.round(size / 26);
  const bannerH = lineH * (lines.length + 1);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${bannerH}">
<rect width="100%" height="100%" fill="black" fill-opacity="0.75"/>
${lines.map((l, i) => `<text x="${lineH / 2}" y="${(i + 1) * lineH + 2}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(lineH * 0.8)}" fill="${i === 0 ? '#ffd24d' : 'white'}">${escapeXml(l)}</text>`).join('\n')}
</svg>`;
  const out = await sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: out.info.width, height: out.info.height, rgb: new Uint8Array(out.data) };
}

/**
 * Secondary Capture (RGB, burnt-in annotation) of one scored image.
 * @example buildSecondaryCapture(study, model, img, await renderResultImage(...))
 */
export function buildSecondaryCapture(study: SourceStudy, model: ModelIdentity, source: ScoredImage, picture: { width: number; height: number; rgb: Uint8Array }, instanceNumber: number, now = new Date()): Uint8Array {
  const uids = resultUids('sc', study.studyUid, model, source.sopUid);
  const elements: DicomElement[] = [
    ...resultInstanceHeader(study, SECONDARY_CAPTURE, uids, now, 'OT', `radml ${model.name} v${model.version} heatmap`),
    { tag: 0x00080008, vr: 'CS', value: ['DERIVED', 'SECONDARY'] },
    { tag: 0x00080064, vr: 'CS', value: 'WSD' },
    { tag: 0x00082111, vr: 'ST', value: `Occlusion-sensitivity heatmap and scores from ${model.name} v${model.version}` },
    { tag: 0x00082112, vr: 'SQ', value: [[{ tag: 0x00081150, vr: 'UI', value: source.sopClassUid }, { tag: 0x00081155, vr: 'UI', value: source.sopUid }]] },
    { tag: 0x00200011, vr: 'IS', value: 9902 },
    { tag: 0x00200013, vr: 'IS', value: instanceNumber },
    { tag: 0x00200020, vr: 'CS', value: ['', ''] },
    { tag: 0x00280002, vr: 'US', value: 3 },
    { tag: 0x00280004, vr: 'CS', value: 'RGB' },
    { tag: 0x00280006, vr: 'US', value: 0 },
    { tag: 0x00280010, vr: 'US', value: picture.height },
    { tag: 0x00280011, vr: 'US', value: picture.width },
    { tag: 0x00280100, vr: 'US', value: 8 },
    { tag: 0x00280101, vr: 'US', value: 8 },
    { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x00280301, vr: 'CS', value: 'YES' },
    { tag: 0x7fe00010, vr: 'OB', value: picture.rgb },
  ];
  for (const t of [0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00200010]) {
    if (!study.copied.some((e) => e.tag === t)) elements.push({ tag: t, vr: COPIED.find((c) => c.tag === t)!.vr, value: '' });
  }
  return writeDicom(elements);
}

/** Banner lines for the Secondary Capture. */
export function bannerLines(model: ModelIdentity, img: ScoredImage, heatmapClass: string | undefined): string[] {
  return [
    `radml ${model.name} v${model.version} - decision support, not a diagnosis`,
    ...model.classes.map((c) => formatDecision(c, img, model)),
    heatmapClass ? `heatmap: occlusion sensitivity for ${heatmapClass}` : 'heatmap: not available for this model',
  ];
}
