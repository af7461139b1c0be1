/**
 * Worker thread of generateCohort: renders and writes the studies it is given, reporting each one
 * back. Every study's files depend only on its spec, so splitting the work changes no byte.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SiteProfile, StudySpec } from './types.js';
import { writeStudyFiles } from './write-study.js';

export interface WorkerJob {
  studies: StudySpec[];
  sites: SiteProfile[];
  size: number;
  seed: number;
  dir: string;
}

export type WorkerMessage = { type: 'study'; files: string[] } | { type: 'error'; message: string };

const job = workerData as WorkerJob | undefined;
if (parentPort && job) {
  const port = parentPort;
  try {
    for (const study of job.studies) {
      const files = writeStudyFiles(study, job.sites[study.siteIndex]!, job.size, job.seed, job.dir);
      port.postMessage({ type: 'study', files } satisfies WorkerMessage);
    }
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies WorkerMessage);
  }
}
