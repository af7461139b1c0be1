/**
 * labels/ owns everything about where training labels come from and how much to trust them:
 *
 * - report labeller (`lexicon.ts`, `report-labeller.ts`): rule-based, NegEx/NegBio-style mention,
 *   negation and uncertainty detection with scope, configurable JSON lexicon, explanations; scoring
 *   against positive-only reference labels (`scoring.ts`);
 * - several readers (`readers.ts`, `agreement.ts`, `consensus.ts`, `consensus-report.ts`): long/wide
 *   reader tables, Cohen/Fleiss kappa and Krippendorff's alpha with bootstrap CIs, majority,
 *   Dawid–Skene and soft consensus;
 * - uncertainty policies for training (`uncertainty.ts`): U-ignore/zeros/ones, LSR, ε-smoothing,
 *   soft labels → target + mask for masked BCE;
 * - label noise (`confident-learning.ts`, `label-audit.ts`): confident learning on out-of-fold
 *   predictions, ranked review lists;
 * - the `radml demo` labels step (`demo.ts`).
 */
export * from './lexicon.js';
export * from './report-labeller.js';
export * from './scoring.js';
export * from './readers.js';
export * from './agreement.js';
export * from './consensus.js';
export * from './consensus-report.js';
export * from './uncertainty.js';
export * from './confident-learning.js';
export * from './label-audit.js';
export * from './demo.js';
