/** The detectors a monitor runs by default, in report order. A new detector is one file plus one line here. */
import { chiSquareDetector, gTestDetector } from './chi-square.js';
import { jensenShannonDetector } from './jensen-shannon.js';
import { ksDetector } from './ks.js';
import { mmdDetector } from './mmd.js';
import { oodRateDetector } from './ood-rate.js';
import { performanceDetector } from './performance.js';
import { predictionDetector } from './prediction.js';
import { priorDetector } from './prior.js';
import { psiDetector } from './psi.js';
import { realizedDetector } from './realized.js';
import type { Detector } from './types.js';
import { wassersteinDetector } from './wasserstein.js';

export const DEFAULT_DETECTORS: Detector[] = [
  chiSquareDetector, jensenShannonDetector, psiDetector, ksDetector, wassersteinDetector, mmdDetector,
  predictionDetector, oodRateDetector, priorDetector, performanceDetector, realizedDetector,
];

/** Every detector by name (including ones not on by default, such as the G-test). */
export const DETECTORS: Record<string, Detector> = Object.fromEntries([...DEFAULT_DETECTORS, gTestDetector].map((d) => [d.name, d]));
