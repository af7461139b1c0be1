/**
 * deid/ owns de-identification before data leaves the hospital:
 *
 * - DICOM by DICOM PS3.15 Annex E (`profile.ts` over the data of Table E.1-1 in `table-e1-1.ts`;
 *   `dicom.ts` applies it to one file through the byte-faithful Part 10 tree of `part10.ts`, which
 *   needs the PS3.6 VRs of `vr.ts` for implicit-VR files);
 * - keyed pseudonyms (`pseudonyms.ts`): UIDs, patients and per-patient date shifts that are the same
 *   at every site holding the key;
 * - burned-in text (`burned-in.ts`): the Burned In Annotation tag, a pixel check near the borders,
 *   blackout of configured regions;
 * - free text (`text.ts`): reports and descriptors, rule-based with a user lexicon;
 * - manifests and dataset indexes with the same pseudonyms (`manifest.ts`);
 * - batch runs over folders and manifests with a change log and review list (`run.ts`).
 */
export * from './profile.js';
export * from './pseudonyms.js';
export * from './dicom.js';
export * from './burned-in.js';
export * from './text.js';
export * from './run.js';
export * from './manifest.js';
export { parsePart10, writePart10, tagString, type Element, type Part10File } from './part10.js';
export { TABLE_E1_1_EDITION } from './table-e1-1.js';
