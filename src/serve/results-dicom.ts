/**
 * The DICOM objects radml sends back to the PACS for a scored study, written with the project's
 * Part 10 writer: a Comprehensive SR (findings, per-class scores, operating-point decisions, model
 * name/version/SHA-256, references to every scored image) and Secondary Captures per scored image
 * (one per positive finding with its occlusion heatmap, or a labelled grid; scores, legend and
 * model in a side panel added to the canvas, so no text covers the image). Both carry the source Study
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

/** Type 2 patient and study attributes the source did not have: present and empty, as the IODs ask. */
function withType2(study: SourceStudy, elements: DicomElement[]): DicomElement[] {
  for (const t of [0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00200010]) {
    if (!study.copied.some((e) => e.tag === t)) elements.push({ tag: t, vr: COPIED.find((c) => c.tag === t)!.vr, value: '' });
  }
  return elements;
}

/** A Comprehensive SR document of radml's: one header, the given content tree and its evidence. */
function srDocument(study: SourceStudy, model: ModelIdentity, uids: ReturnType<typeof resultUids>, now: Date, what: string, instanceNumber: number, content: DicomItem[], images: readonly Pick<ScoredImage, 'seriesUid' | 'sopClassUid' | 'sopUid'>[]): DicomElement[] {
  return [
    ...resultInstanceHeader(study, COMPREHENSIVE_SR, uids, now, 'SR', `radml ${model.name} v${model.version} ${what}`),
    { tag: 0x00081090, vr: 'LO', value: `${model.name} v${model.version}`.slice(0, 64) },
    { tag: 0x00200011, vr: 'IS', value: 9901 },
    { tag: 0x00200013, vr: 'IS', value: instanceNumber },
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
}


function evidence(study: SourceStudy, images: readonly Pick<ScoredImage, 'seriesUid' | 'sopClassUid' | 'sopUid'>[]): DicomElement {
  const bySeries = new Map<string, Pick<ScoredImage, 'seriesUid' | 'sopClassUid' | 'sopUid'>[]>();
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
 * Comprehensive SR with the model's findings for the scored images of one study. `revision` is set
 * when images arrived after the first report: the new SR (covering every scored image) gets its own
 * UID, derived from the revision, instead of silently replacing the first one.
 * @example const bytes = buildStructuredReport(study, model, images, new Date());
 */
export function buildStructuredReport(study: SourceStudy, model: ModelIdentity, images: readonly ScoredImage[], now = new Date(), revision = ''): Uint8Array {
  const uids = resultUids('sr', study.studyUid, model, revision);
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
  return writeDicom(withType2(study, srDocument(study, model, uids, now, 'findings', 1, content, images)));
}

/** Blue → cyan → yellow → red ramp for v in [0, 1]. */
export function heatColour(v: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, v));
  const r = Math.min(1, Math.max(0, 1.5 * x * 2 - 1));
  const g = Math.min(1, Math.max(0, x < 0.5 ? 2 * x : 2 - 2 * x + 0.4));
  const b = Math.min(1, Math.max(0, 1 - 2 * x));
  return [r * 255, g * 255, b * 255];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where the source image's own pixels sit in a `size` × `size` resize (resize.ts's arithmetic): the
 * whole square for crop/stretch, the centred letterbox for pad. Outside it is padding, not anatomy.
 * @example contentRect({ width: 400, height: 200 }, 512, 'pad') // { x: 0, y: 128, width: 512, height: 256 }
 */
export function contentRect(img: { width: number; height: number }, size: number, mode: ResizeMode): Rect {
  if (mode !== 'pad') return { x: 0, y: 0, width: size, height: size };
  const long = Math.max(img.width, img.height);
  const nw = img.width === long ? size : Math.max(1, Math.round((img.width * size) / long));
  const nh = img.height === long ? size : Math.max(1, Math.round((img.height * size) / long));
  return { x: (size - nw) >> 1, y: (size - nh) >> 1, width: nw, height: nh };
}

/** An occlusion map (grid × grid, row-major, any scale ≥ 0) and the finding it explains. */
export interface Heat {
  grid: number;
  values: Float32Array;
  /** Finding name shown with the map (a grid tile's label). */
  label?: string;
}

export interface RenderedResult {
  width: number;
  height: number;
  rgb: Uint8Array;
  /** The image tiles (each the model's square view of the image); text never enters them. */
  imageAreas: Rect[];
  /** The source pixels inside each tile (padding excluded): the only place heat is drawn. */
  contentAreas: Rect[];
  /** The text panel beside the image(s). */
  panel: Rect;
}

/** Grey image tile with heat blended in over the content rectangle only. */
function drawTile(out: Uint8Array, stride: number, ox: number, oy: number, base: GreyImage, size: number, content: Rect, heat: Heat | undefined): void {
  let hmax = 0;
  if (heat) for (const v of heat.values) hmax = Math.max(hmax, v);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const grey = Math.max(0, Math.min(1, base.data[y * size + x]!)) * 255;
      let r = grey, g = grey, b = grey;
      const inside = x >= content.x && x < content.x + content.width && y >= content.y && y < content.y + content.height;
      if (heat && hmax > 0 && inside) {
        // Bilinear over cell centres so the overlay has no blocky edges.
        const gx = Math.min(heat.grid - 1, Math.max(0, ((x + 0.5) * heat.grid) / size - 0.5));
        const gy = Math.min(heat.grid - 1, Math.max(0, ((y + 0.5) * heat.grid) / size - 0.5));
        const x0 = Math.floor(gx), y0 = Math.floor(gy);
        const x1 = Math.min(heat.grid - 1, x0 + 1), y1 = Math.min(heat.grid - 1, y0 + 1);
        const fx = gx - x0, fy = gy - y0;
        const at = (yy: number, xx: number) => heat.values[yy * heat.grid + xx]!;
        const v = ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1))) / hmax;
        // Weak evidence leaves the anatomy untinted; strong evidence is at most half opaque.
        const a = v < 0.15 ? 0 : 0.5 * v;
        const [hr, hg, hb] = heatColour(v);
        r = (1 - a) * grey + a * hr;
        g = (1 - a) * grey + a * hg;
        b = (1 - a) * grey + a * hb;
      }
      const o = ((oy + y) * stride + ox + x) * 3;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
}

/** Words of `s` in lines of at most `max` characters (long words are cut). */
function wrap(s: string, max: number): string[] {
  if (s.trim() === '') return ['']; // a spacer line
  const out: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/)) {
    for (let w = word; w.length > 0; w = w.slice(max)) {
      const piece = w.slice(0, max);
      if (line === '') line = piece;
      else if (line.length + 1 + piece.length <= max) line += ' ' + piece;
      else {
        out.push(line);
        line = piece;
      }
    }
  }
  if (line) out.push(line);
  return out;
}

/**
 * The image (resized like the model input, so heatmap cells line up) as RGB, with each heatmap
 * blended over the image's own pixels only (never over the padding of a letterboxed image), and the
 * text and a colour legend in a panel to the right of the image: the panel is added to the canvas,
 * so no text ever covers anatomy. One heatmap gives one tile; several (labelled) give a grid of
 * tiles, each with its finding's name in a strip above it.
 * @example const pic = await renderResultImage(img, 'pad', bannerLines(model, scored, 'pneumonia'), { grid: 8, values, label: 'pneumonia' });
 */
export async function renderResultImage(img: GreyImage, resizeMode: ResizeMode, lines: readonly string[], heatmap?: Heat | readonly Heat[], size = 512): Promise<RenderedResult> {
  const heats: (Heat | undefined)[] = heatmap === undefined ? [undefined] : Array.isArray(heatmap) ? (heatmap.length ? [...heatmap] : [undefined]) : [heatmap as Heat];
  const base = resizeImage(img, size, resizeMode);
  const content = contentRect(img, size, resizeMode);
  const n = heats.length;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const lineH = Math.max(14, Math.round(size / 28));
  const font = Math.round(lineH * 0.75);
  const labelH = n > 1 ? lineH + 6 : 0;
  const tilesW = cols * size;
  const tilesH = rows * (size + labelH);
  const panelW = Math.max(260, Math.round(size * 0.8));
  const maxChars = Math.floor((panelW - lineH) / (font * 0.6));
  const text = lines.flatMap((l, i) => wrap(l, maxChars).map((w, j) => ({ text: j > 0 ? '  ' + w : w, first: i === 0, positive: /POSITIVE/.test(l) })));
  const legendH = heats[0] ? lineH * 4 : 0;
  const panelContentH = (text.length + 1) * lineH + legendH;
  const height = Math.max(tilesH, panelContentH);
  const width = tilesW + panelW;
  const rgb = new Uint8Array(width * height * 3);
  const imageAreas: Rect[] = [];
  const contentAreas: Rect[] = [];
  const labels: string[] = [];
  heats.forEach((h, i) => {
    const ox = (i % cols) * size;
    const oy = Math.floor(i / cols) * (size + labelH) + labelH;
    drawTile(rgb, width, ox, oy, base, size, content, h);
    imageAreas.push({ x: ox, y: oy, width: size, height: size });
    contentAreas.push({ x: ox + content.x, y: oy + content.y, width: content.width, height: content.height });
    if (n > 1 && h?.label) labels.push(`<text x="${ox + 6}" y="${oy - 6}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#ffd24d">${escapeXml(h.label)}</text>`);
  });
  const panel: Rect = { x: tilesW, y: 0, width: panelW, height };
  // The legend matches drawTile: no tint below 15 % of the image's largest drop, then the ramp.
  const stops = '<stop offset="0%" stop-color="#808080"/><stop offset="15%" stop-color="#808080"/>' + Array.from({ length: 11 }, (_, i) => {
    const v = 0.15 + (0.85 * i) / 10;
    const [r, g, b] = heatColour(v);
    const a = 0.5 * v; // blended over mid grey, as on the image
    const mix = (c: number) => Math.round((1 - a) * 128 + a * c);
    return `<stop offset="${(v * 100).toFixed(0)}%" stop-color="rgb(${mix(r)},${mix(g)},${mix(b)})"/>`;
  }).join('');
  const legendY = (text.length + 1) * lineH;
  const legend = heats[0]
    ? `<text x="${tilesW + lineH / 2}" y="${legendY + lineH}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="white">colour: score drop when a region is hidden</text>
<rect x="${tilesW + lineH / 2}" y="${legendY + lineH * 1.4}" width="${panelW - lineH}" height="${lineH}" fill="url(#ramp)"/>
<text x="${tilesW + lineH / 2}" y="${legendY + lineH * 3.2}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="white">none (untinted)</text>
<text x="${tilesW + panelW - lineH / 2}" y="${legendY + lineH * 3.2}" text-anchor="end" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="white">largest in image</text>`
    : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="ramp" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>
<rect x="${tilesW}" y="0" width="${panelW}" height="${height}" fill="#101010"/>
${text.map((l, i) => `<text x="${tilesW + lineH / 2}" y="${(i + 1) * lineH}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="${l.first ? '#ffd24d' : l.positive ? '#ff8a5c' : 'white'}">${escapeXml(l.text)}</text>`).join('\n')}
${legend}
${labels.join('\n')}
</svg>`;
  const out = await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: out.info.width, height: out.info.height, rgb: new Uint8Array(out.data), imageAreas, contentAreas, panel };
}

/**
 * Secondary Capture (RGB, burnt-in annotation) of one scored image; `finding` (the heatmap's
 * finding, one SC per positive finding) is part of the instance UID, so each finding's SC is its
 * own instance and re-storing replaces rather than duplicates it.
 * @example buildSecondaryCapture(study, model, img, await renderResultImage(...), 1, new Date(), 'pneumonia')
 */
export function buildSecondaryCapture(study: SourceStudy, model: ModelIdentity, source: ScoredImage, picture: { width: number; height: number; rgb: Uint8Array }, instanceNumber: number, now = new Date(), finding?: string): Uint8Array {
  const uids = resultUids('sc', study.studyUid, model, finding ? `${source.sopUid}/${finding}` : source.sopUid);
  const elements: DicomElement[] = [
    ...resultInstanceHeader(study, SECONDARY_CAPTURE, uids, now, 'OT', `radml ${model.name} v${model.version} heatmap`),
    { tag: 0x00080008, vr: 'CS', value: ['DERIVED', 'SECONDARY'] },
    { tag: 0x00080064, vr: 'CS', value: 'WSD' },
    { tag: 0x00082111, vr: 'ST', value: `Occlusion-sensitivity heatmap${finding ? ` for ${finding}` : ''} and scores from ${model.name} v${model.version}` },
    { tag: 0x00082112, vr: 'SQ', value: [[{ tag: 0x00081150, vr: 'UI', value: source.sopClassUid }, { tag: 0x00081155, vr: 'UI', value: source.sopUid }]] },
    { tag: 0x00200011, vr: 'IS', value: 9902 },
    { tag: 0x00200013, vr: 'IS', value: instanceNumber },
    { tag: 0x00200020, vr: 'CS', value: ['', ''] },
    { tag: 0x00204000, vr: 'LT', value: finding ? `heatmap: ${finding}` : 'scores (no heatmap)' },
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
  return writeDicom(withType2(study, elements));
}

/** Panel lines for the Secondary Capture: model, one line per finding, what the heatmap shows. */
export function bannerLines(model: ModelIdentity, img: ScoredImage, heatmapClass: string | readonly string[] | undefined): string[] {
  const shown = heatmapClass === undefined ? [] : typeof heatmapClass === 'string' ? [heatmapClass] : [...heatmapClass];
  return [
    `radml ${model.name} v${model.version}`,
    'decision support, not a diagnosis',
    '',
    ...model.classes.map((c) => formatDecision(c, img, model)),
    '',
    shown.length ? `heatmap: occlusion sensitivity for ${shown.join(', ')}` : 'no heatmap: no finding is positive at its operating point',
  ];
}

/** What secondaryCaptures needs of a model runner. */
export interface HeatmapSource {
  heatmapTargets(pred: { scores: Record<string, number>; decisions: Record<string, boolean> }, max: number): string[];
  occlusionHeatmap(img: GreyImage, cls: string, grid: number): Promise<Float32Array>;
  readonly meta: { preprocessing: { resize: ResizeMode } };
}

export interface HeatmapOptions {
  /** Occlusion grid (0 = no heatmaps). */
  grid: number;
  /** One SC per positive finding, or one SC with a labelled grid of them. */
  layout: 'per-finding' | 'grid';
  /** Most findings with a heatmap per image. */
  maxFindings: number;
}

/**
 * The Secondary Captures of one scored image: one per positive finding (layout "per-finding"), or
 * one with a labelled grid of the positive findings' heatmaps ("grid"); with no positive finding,
 * one SC with the scores and no heatmap. Instance numbers count up from `firstInstance`.
 * @example const scs = await secondaryCaptures(runner, identity, study, scored, image, { grid: 8, layout: 'per-finding', maxFindings: 4 }, 1);
 */
export async function secondaryCaptures(runner: HeatmapSource, model: ModelIdentity, study: SourceStudy, scored: ScoredImage, image: GreyImage, opts: HeatmapOptions, firstInstance: number, now = new Date()): Promise<Uint8Array[]> {
  const resize = runner.meta.preprocessing.resize;
  const targets = opts.grid > 0 ? runner.heatmapTargets(scored, opts.maxFindings) : [];
  if (targets.length === 0) {
    return [buildSecondaryCapture(study, model, scored, await renderResultImage(image, resize, bannerLines(model, scored, undefined)), firstInstance, now)];
  }
  const heats: Heat[] = [];
  for (const cls of targets) heats.push({ grid: opts.grid, values: await runner.occlusionHeatmap(image, cls, opts.grid), label: `${cls} (score ${scored.scores[cls]!.toFixed(3)})` });
  if (opts.layout === 'grid') {
    return [buildSecondaryCapture(study, model, scored, await renderResultImage(image, resize, bannerLines(model, scored, targets), heats), firstInstance, now, targets.length === 1 ? targets[0] : 'grid')];
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < targets.length; i++) {
    out.push(buildSecondaryCapture(study, model, scored, await renderResultImage(image, resize, bannerLines(model, scored, targets[i]), heats[i]), firstInstance + i, now, targets[i]));
  }
  return out;
}

/**
 * A short SR for a study the model saw but did not analyse ("not analysed: <reason>" per refused
 * instance: modality, body part, view, out of distribution, unreadable pixels), so a reader can tell
 * "refused" from "still pending". `key` makes the UID (the same refusals give the same UID).
 * @example buildNotAnalysedReport(study, model, [{ sopClassUid, sopUid, seriesUid, reason: 'modality MR is not one of CR, DX' }], 'k1')
 */
export function buildNotAnalysedReport(study: SourceStudy, model: ModelIdentity, refused: readonly (Pick<ScoredImage, 'seriesUid' | 'sopClassUid' | 'sopUid'> & { reason: string })[], key: string, now = new Date()): Uint8Array {
  const uids = resultUids('sr', study.studyUid, model, `not-analysed/${key}`);
  const reasons = [...new Set(refused.map((r) => r.reason))];
  const content: DicomItem[] = [
    textItem('HAS OBS CONTEXT', code('111001', 'DCM', 'Algorithm Name'), model.name),
    textItem('HAS OBS CONTEXT', code('111003', 'DCM', 'Algorithm Version'), String(model.version)),
    ...reasons.slice(0, 20).map((r) => textItem('CONTAINS', code('121071', 'DCM', 'Finding'), `not analysed: ${r}`)),
    textItem('CONTAINS', code('121106', 'DCM', 'Comment'),
      `radml did not analyse ${refused.length === 1 ? 'this image' : `these ${refused.length} images`}: no scores were produced. Read the study without decision support.`),
  ];
  return writeDicom(withType2(study, srDocument(study, model, uids, now, 'not analysed', 2, content, refused)));
}
