/**
 * DICOM header features the monitor watches: acquisition device (manufacturer, model, station),
 * modality, body part, view, photometric interpretation, bits stored, pixel spacing and kVp /
 * exposure in bins (categorical), and image rows / columns (numeric). Read from a DICOM file's
 * header, or from manifest / dataset columns for other images. Never patient identifiers.
 */
import { parseDicomBytes } from '../data/dicom/parse.js';
import { extractHeader } from '../data/dicom/header.js';

export const HEADER_CATEGORICAL = ['manufacturer', 'model', 'station', 'modality', 'body_part', 'view', 'photometric', 'bits_stored', 'pixel_spacing', 'kvp', 'exposure'] as const;
export const HEADER_NUMERIC = ['rows', 'columns'] as const;

export interface HeaderFeatures {
  categorical: Record<string, string>;
  numeric: Record<string, number | null>;
}

const up = (s: string | undefined) => (s ?? '').trim().toUpperCase();

/** kVp in 10 kV bins ("110-119"), blank when unknown. */
export function kvpBin(v: number | null): string {
  if (v === null || !Number.isFinite(v) || v <= 0) return '';
  const lo = Math.floor(v / 10) * 10;
  return `${lo}-${lo + 9}`;
}

/** Exposure (mAs) in doubling bins ("2-4"), blank when unknown. */
export function exposureBin(v: number | null): string {
  if (v === null || !Number.isFinite(v) || v <= 0) return '';
  const lo = 2 ** Math.floor(Math.log2(v));
  return `${lo}-${lo * 2}`;
}

/** Pixel spacing rounded to 0.05 mm ("0.15"), blank when unknown. */
export function spacingBin(v: number | null): string {
  if (v === null || !Number.isFinite(v) || v <= 0) return '';
  return (Math.round(v / 0.05) * 0.05).toFixed(2);
}

const num = (s: string | undefined): number | null => {
  if (s === undefined || s.trim() === '') return null;
  const v = Number(s.split('\\')[0]);
  return Number.isFinite(v) ? v : null;
};

/**
 * Header features from a DICOM file's bytes (header only; pixels are not decoded).
 * @example headerFeaturesFromDicom(readFileSync('a.dcm'), 'a.dcm').categorical.manufacturer
 */
export function headerFeaturesFromDicom(buf: Uint8Array, file: string): HeaderFeatures {
  const parsed = parseDicomBytes(buf, file);
  const h = extractHeader(parsed);
  const ds = parsed.dataSet;
  const s = (tag: string) => { try { return ds.string(tag) ?? ''; } catch { return ''; } };
  return {
    categorical: {
      manufacturer: up(h.manufacturer), model: up(h.manufacturerModelName), station: up(s('x00081010')), modality: up(h.modality),
      body_part: up(h.bodyPartExamined), view: up(h.viewPosition), photometric: up(h.photometricInterpretation),
      bits_stored: h.bitsStored ? String(h.bitsStored) : '', pixel_spacing: spacingBin(h.pixelSpacing ? h.pixelSpacing[0] : null),
      kvp: kvpBin(num(s('x00180060'))), exposure: exposureBin(num(s('x00181152'))),
    },
    numeric: { rows: h.rows || null, columns: h.columns || null },
  };
}

/**
 * Header features from manifest / dataset-index columns (manufacturer, model, station, modality,
 * body_part, view, photometric, bits_stored, pixel_spacing, kvp, exposure, rows, columns).
 * @example headerFeaturesFromColumns({ manufacturer: 'Acme', view: 'PA' }).categorical.view // 'PA'
 */
export function headerFeaturesFromColumns(row: Record<string, string | undefined>, size?: { width: number; height: number }): HeaderFeatures {
  return {
    categorical: {
      manufacturer: up(row['manufacturer']), model: up(row['model'] ?? row['manufacturer_model']), station: up(row['station']), modality: up(row['modality']),
      body_part: up(row['body_part']), view: up(row['view']), photometric: up(row['photometric']), bits_stored: up(row['bits_stored']),
      pixel_spacing: spacingBin(num(row['pixel_spacing'])), kvp: kvpBin(num(row['kvp'])), exposure: exposureBin(num(row['exposure'])),
    },
    numeric: { rows: num(row['rows']) ?? size?.height ?? null, columns: num(row['columns']) ?? size?.width ?? null },
  };
}
