/**
 * Patient-level splits: stratified train/val/test hold-out, stratified group k-fold and
 * leave-one-site-out, reproducible from a seed, never putting one patient on two sides; plus
 * writing the result back as a manifest column and counting it per split × class × site.
 */
export { type PatientGroup, patientGroups, patientKey, recordStrata, existingPatientSplits, NO_FINDING, UNLABELLED } from './groups.js';
export { allocateGroups } from './allocate.js';
export {
  type SplitAssignment, type HoldoutOptions, type FoldOptions, holdoutSplit, kFoldSplit, leaveOneSiteOut,
  SPLIT_NAMES, DEFAULT_FRACTIONS,
} from './methods.js';
export { manifestWithAssignment, writeSplitManifest, summariseSplit, formatCountTable, type SplitSummary, NO_SITE } from './output.js';
