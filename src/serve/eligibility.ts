/**
 * Which instances of a study the model may score: modality, body part and view from the DICOM
 * header, checked before any pixel is decoded. Every refusal carries a reason that is recorded.
 */
import type { Selection } from './config.js';

export interface InstanceTags {
  modality: string;
  bodyPartExamined: string;
  viewPosition: string;
  hasPixelData?: boolean;
  manufacturer?: string;
}

/** Manufacturer written into radml's own SR/SC so the bridge never scores its own output. */
export const RADML_MANUFACTURER = 'radml';

/**
 * Undefined when eligible, else the reason it is not.
 * @example eligibility({ modality: 'MR', bodyPartExamined: '', viewPosition: '' }, sel) // 'modality MR is not one of CR, DX'
 */
export function eligibility(t: InstanceTags, sel: Selection): string | undefined {
  if (t.manufacturer === RADML_MANUFACTURER) return 'radml result object (not an input image)';
  const modality = t.modality.trim().toUpperCase();
  if (!sel.modalities.map((m) => m.toUpperCase()).includes(modality)) return `modality ${modality || '(missing)'} is not one of ${sel.modalities.join(', ')}`;
  const body = t.bodyPartExamined.trim().toUpperCase();
  if (body === '' ? !sel.allowMissingBodyPart : !sel.bodyParts.map((b) => b.toUpperCase()).includes(body)) {
    return `body part ${body || '(missing)'} is not one of ${sel.bodyParts.join(', ')}`;
  }
  const view = t.viewPosition.trim().toUpperCase();
  if (view === '' ? !sel.allowMissingView : !sel.views.map((v) => v.toUpperCase()).includes(view)) return `view ${view || '(missing)'} is not one of ${sel.views.join(', ')}`;
  if (t.hasPixelData === false) return 'no pixel data';
  return undefined;
}
