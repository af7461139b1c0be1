/**
 * Synthetic multi-site chest-radiograph cohort: radml's built-in data set for the demo and tests.
 *
 * Owns the generator end to end — population and labels (population.ts), site acquisition profiles
 * (sites.ts), the phantom and its finding masks (phantom.ts), acquisition (acquisition.ts), DICOM
 * encoding (dicom.ts, through src/data/dicom/writer.ts), PNG encoding (png.ts), reports (reports.ts)
 * and simulated readers (readers.ts); write-study.ts writes one study's files, worker.ts does the same
 * in worker threads — and writes the folder `radml synth` produces:
 *
 *   dicom/<study_id>.dcm            DICOM Part 10, CR or DX, explicit VR little endian
 *   png/<study_id>.png              16-bit grey PNG, MONOCHROME2
 *   masks/<study_id>.png            8-bit, 255 inside the union of the finding masks
 *   masks/<study_id>_<Finding>.png  one per present finding
 *   manifest.csv, manifest-png.csv  the manifest contract, paths to the DICOM / PNG files
 *   reports.csv                     id,findings,impression
 *   readers.csv                     id,reader,<findings>: every simulated reader reads every study
 *   cohort.json                     seed, sites, prevalences, reader truth, counts, generator version
 *
 * Everything follows from the seed: the same options give byte-identical files, whatever the number
 * of worker threads. A smaller n with the same seed gives the first studies of a larger one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import { formatCsv, type CsvCell } from '../../util/csv.js';
import { InputError, RadmlError } from '../../util/errors.js';
import { noProgress, type ProgressCallback } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { LABEL_MODEL, PERSISTENCE, sampleCohort } from './population.js';
import { READERS, simulateReads } from './readers.js';
import { generateReport } from './reports.js';
import { siteProfiles } from './sites.js';
import type { WorkerJob, WorkerMessage } from './worker.js';
import { writeStudyFiles } from './write-study.js';
import { FINDINGS, type Finding, type ReaderProfile, type SiteProfile, type StudySpec } from './types.js';

export { FINDINGS, type Finding, type Labels, type SiteProfile, type StudySpec, type ReaderProfile } from './types.js';
export { renderStudy, type RenderedStudy } from './render.js';
export { sampleCohort } from './population.js';
export { siteProfiles, distinctSiteIndex } from './sites.js';
export { READERS, simulateReads } from './readers.js';
export { generateReport } from './reports.js';
export { studyElements, studyUids } from './dicom.js';
export { writeStudyFiles } from './write-study.js';

/** A sensible worker count for this machine: one per core, at most 8. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

export const GENERATOR = 'radml-synth';
export const GENERATOR_VERSION = '1.0.0';
/** Written first into the output folder, so an interrupted run is still recognised as ours. */
export const MARKER_FILE = '.radml-synth';

export interface CohortOptions {
  out: string;
  n: number;
  sites: number;
  seed: number;
  /** Image side in pixels (default 256). */
  size?: number;
  /** Write DICOM, PNG and mask files (default true). Without them only the CSVs and cohort.json are written. */
  images?: boolean;
  /** Worker threads rendering images (default 1 = this thread). The output is identical for any count. */
  workers?: number;
  onProgress?: ProgressCallback;
}

export interface SiteSummary extends SiteProfile {
  studies: number;
  patients: number;
  prevalence: Record<Finding, number>;
}

export interface CohortSummary {
  generator: string;
  version: string;
  seed: number;
  n: number;
  size: number;
  images: boolean;
  patients: number;
  counts: {
    studies: number;
    normal: number;
    views: Record<string, number>;
    sex: Record<string, number>;
    findings: Record<Finding, number>;
  };
  prevalence: Record<Finding, number>;
  prevalenceBySite: Record<string, Record<Finding, number>>;
  prevalenceBySex: Record<string, Record<Finding, number>>;
  sites: SiteSummary[];
  distinctSite: string | null;
  labelModel: typeof LABEL_MODEL;
  persistence: Record<Finding, number>;
  readers: (ReaderProfile & { observedSensitivity: Record<Finding, number | null>; observedSpecificity: Record<Finding, number | null> })[];
  reports: { errorRate: number; hedgeRate: number; errors: Record<Finding, number>; hedged: Record<Finding, number> };
  files: { manifest: string; manifestPng: string; reports: string; readers: string; dicom: string; png: string; masks: string };
}

export interface GenerateResult extends CohortSummary {
  /** Absolute output folder. */
  dir: string;
  /** Wall-clock seconds the generation took (not written to cohort.json, which stays deterministic). */
  seconds: number;
}

const REPORT_ERROR_RATE = 0.02;
const REPORT_HEDGE_RATE = 0.15;
const STUDY_FILE = /^ST\d+(_[A-Za-z]+)?\.(dcm|png)$/;

function validate(opts: CohortOptions): Required<Omit<CohortOptions, 'onProgress'>> {
  const { n, sites, seed } = opts;
  const size = opts.size ?? 256;
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new InputError('SYNTH_OPTIONS', `n must be a whole number from 1 to 1,000,000, got ${n}`);
  if (!Number.isInteger(sites) || sites < 1 || sites > 26) throw new InputError('SYNTH_OPTIONS', `sites must be a whole number from 1 to 26, got ${sites}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError('SYNTH_OPTIONS', `seed must be a whole number from 0 to 4294967295, got ${seed}`);
  if (!Number.isInteger(size) || size < 64 || size > 2048) throw new InputError('SYNTH_OPTIONS', `size must be a whole number of pixels from 64 to 2048, got ${size}`);
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new InputError('SYNTH_OPTIONS', `workers must be a whole number from 1 to 64, got ${workers}`);
  if (!opts.out) throw new InputError('SYNTH_OPTIONS', 'an output folder is required');
  return { out: opts.out, n, sites, seed, size, images: opts.images ?? true, workers };
}

/** Refuse a non-empty folder unless an earlier synth run wrote it. */
function prepareOut(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InputError('SYNTH_OUT_NOT_DIR', `${dir}: exists and is not a folder`, { file: dir });
    const entries = readdirSync(dir);
    if (entries.length > 0 && !isSynthOutput(dir)) {
      throw new InputError(
        'SYNTH_OUT_NOT_EMPTY',
        `${dir}: the folder is not empty and is not an earlier \`radml synth\` output (no ${MARKER_FILE} or cohort.json from ${GENERATOR}); choose an empty or new folder`,
        { file: dir },
      );
    }
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, MARKER_FILE), `${GENERATOR} ${GENERATOR_VERSION}\n`);
}

function isSynthOutput(dir: string): boolean {
  if (existsSync(join(dir, MARKER_FILE))) return true;
  try {
    const c = JSON.parse(readFileSync(join(dir, 'cohort.json'), 'utf8')) as { generator?: unknown };
    return c.generator === GENERATOR;
  } catch {
    return false;
  }
}

/** Remove study files of an earlier, larger run that this run did not write. */
function pruneStale(dir: string, written: Set<string>): void {
  for (const sub of ['dicom', 'png', 'masks']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (STUDY_FILE.test(f) && !written.has(`${sub}/${f}`)) rmSync(join(d, f), { force: true });
    }
  }
}

/** Split the studies over worker threads (contiguous blocks) and collect what they wrote. */
async function renderInWorkers(
  studies: StudySpec[],
  sites: SiteProfile[],
  size: number,
  seed: number,
  dir: string,
  workers: number,
  written: Set<string>,
  onProgress: ProgressCallback,
): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`./worker${ext}`, import.meta.url);
  const per = Math.ceil(studies.length / workers);
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, (_, k) => {
      const job: WorkerJob = { studies: studies.slice(k * per, (k + 1) * per), sites, size, seed, dir };
      return new Promise<void>((resolveJob, reject) => {
        // Running from TypeScript sources (tests, `node --import tsx`): loader hooks do not reach
        // worker threads, so the worker registers tsx itself before importing its module.
        const w =
          ext === '.ts'
            ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); }).catch((e) => { throw e; });`, { eval: true, workerData: job })
            : new Worker(url, { workerData: job });
        let failed = false;
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'error') {
            failed = true;
            reject(new RadmlError('SYNTH_WORKER', `synthetic image worker failed: ${m.message}`));
            return;
          }
          for (const rel of m.files) written.add(rel);
          done++;
          onProgress({ stage: 'synth images', done, total: studies.length });
        });
        w.on('error', (e) => {
          failed = true;
          reject(new RadmlError('SYNTH_WORKER', `synthetic image worker failed: ${e.message}`, { cause: e }));
        });
        w.on('exit', (code) => {
          if (failed) return;
          if (code !== 0) reject(new RadmlError('SYNTH_WORKER', `synthetic image worker exited with code ${code}`));
          else resolveJob();
        });
      });
    }),
  );
}

const rate = (num: number, den: number): number => (den > 0 ? Math.round((num / den) * 1e4) / 1e4 : 0);

function prevalenceOf(studies: readonly StudySpec[]): Record<Finding, number> {
  const out = {} as Record<Finding, number>;
  for (const f of FINDINGS) out[f] = rate(studies.filter((s) => s.labels[f] === 1).length, studies.length);
  return out;
}

/**
 * Generate the cohort into `opts.out`.
 *
 * @example
 * const summary = await generateCohort({ out: 'synth', n: 2000, sites: 4, seed: 1 });
 * summary.prevalenceBySite.site_D.Effusion; // clearly higher than at the other sites
 */
export async function generateCohort(opts: CohortOptions): Promise<GenerateResult> {
  const started = Date.now();
  const o = validate(opts);
  const onProgress = opts.onProgress ?? noProgress;
  const dir = resolve(o.out);
  prepareOut(dir);

  const sites = siteProfiles(o.sites, o.seed);
  const studies = sampleCohort({ n: o.n, seed: o.seed, sites });

  const written = new Set<string>();
  if (o.images) {
    for (const sub of ['dicom', 'png', 'masks']) mkdirSync(join(dir, sub), { recursive: true });
    onProgress({ stage: 'synth images', done: 0, total: studies.length });
    const workers = Math.min(o.workers, Math.floor(studies.length / 8));
    if (workers > 1) {
      await renderInWorkers(studies, sites, o.size, o.seed, dir, workers, written, onProgress);
    } else {
      let done = 0;
      for (const study of studies) {
        for (const rel of writeStudyFiles(study, sites[study.siteIndex]!, o.size, o.seed, dir)) written.add(rel);
        done++;
        onProgress({ stage: 'synth images', done, total: studies.length });
        // Let the event loop breathe (progress bar, signals) without slowing the loop down.
        if (done % 16 === 0) await new Promise<void>((res) => setImmediate(res));
      }
    }
  }

  onProgress({ stage: 'synth tables', done: 0, total: 4 });
  const header = ['path', 'patient_id', 'study_id', 'site', 'sex', 'age', 'view', 'manufacturer', 'mask_path', ...FINDINGS];
  const rows = studies.map((s) => {
    const row: Record<string, CsvCell> = {
      path: `dicom/${s.studyId}.dcm`,
      patient_id: s.patientId,
      study_id: s.studyId,
      site: s.site,
      sex: s.sex,
      age: s.age,
      view: s.view,
      manufacturer: sites[s.siteIndex]!.manufacturer,
      mask_path: `masks/${s.studyId}.png`,
    };
    for (const f of FINDINGS) row[f] = s.labels[f];
    return row;
  });
  writeFileAtomic(join(dir, 'manifest.csv'), formatCsv(header, rows));
  writeFileAtomic(join(dir, 'manifest-png.csv'), formatCsv(header, rows.map((r) => ({ ...r, path: `png/${r.study_id}.png` }))));
  onProgress({ stage: 'synth tables', done: 1, total: 4 });

  const reportErrors = Object.fromEntries(FINDINGS.map((f) => [f, 0])) as Record<Finding, number>;
  const hedged = Object.fromEntries(FINDINGS.map((f) => [f, 0])) as Record<Finding, number>;
  const reportRows = studies.map((s) => {
    const rep = generateReport(s.labels, s.lesions, new Rng(`synth-report:${o.seed}:${s.studyId}`), { errorRate: REPORT_ERROR_RATE, hedgeRate: REPORT_HEDGE_RATE });
    for (const f of rep.errors) reportErrors[f]++;
    for (const f of FINDINGS) if (rep.stated[f] === -1) hedged[f]++;
    return { id: s.studyId, findings: rep.findings, impression: rep.impression };
  });
  writeFileAtomic(join(dir, 'reports.csv'), formatCsv(['id', 'findings', 'impression'], reportRows));
  onProgress({ stage: 'synth tables', done: 2, total: 4 });

  const reads = simulateReads(studies, READERS, o.seed);
  writeFileAtomic(join(dir, 'readers.csv'), formatCsv(['id', 'reader', ...FINDINGS], reads.map((r) => ({ id: r.id, reader: r.reader, ...r.labels }))));
  onProgress({ stage: 'synth tables', done: 3, total: 4 });

  const truthById = new Map(studies.map((s) => [s.studyId, s.labels]));
  const readers = READERS.map((r) => {
    const observedSensitivity = {} as Record<Finding, number | null>;
    const observedSpecificity = {} as Record<Finding, number | null>;
    const mine = reads.filter((x) => x.reader === r.reader);
    for (const f of FINDINGS) {
      let tp = 0, p = 0, tn = 0, q = 0;
      for (const x of mine) {
        if (truthById.get(x.id)![f] === 1) { p++; if (x.labels[f] === 1) tp++; }
        else { q++; if (x.labels[f] === 0) tn++; }
      }
      observedSensitivity[f] = p ? rate(tp, p) : null;
      observedSpecificity[f] = q ? rate(tn, q) : null;
    }
    return { ...r, observedSensitivity, observedSpecificity };
  });

  const count = (pred: (s: StudySpec) => boolean) => studies.filter(pred).length;
  const siteSummaries: SiteSummary[] = sites.map((site) => {
    const mine = studies.filter((s) => s.site === site.name);
    return { ...site, studies: mine.length, patients: new Set(mine.map((s) => s.patientId)).size, prevalence: prevalenceOf(mine) };
  });
  const summary: CohortSummary = {
    generator: GENERATOR,
    version: GENERATOR_VERSION,
    seed: o.seed,
    n: o.n,
    size: o.size,
    images: o.images,
    patients: new Set(studies.map((s) => s.patientId)).size,
    counts: {
      studies: studies.length,
      normal: count((s) => FINDINGS.every((f) => s.labels[f] === 0)),
      views: { PA: count((s) => s.view === 'PA'), AP: count((s) => s.view === 'AP') },
      sex: { F: count((s) => s.sex === 'F'), M: count((s) => s.sex === 'M') },
      findings: Object.fromEntries(FINDINGS.map((f) => [f, count((s) => s.labels[f] === 1)])) as Record<Finding, number>,
    },
    prevalence: prevalenceOf(studies),
    prevalenceBySite: Object.fromEntries(siteSummaries.map((s) => [s.name, s.prevalence])),
    prevalenceBySex: { F: prevalenceOf(studies.filter((s) => s.sex === 'F')), M: prevalenceOf(studies.filter((s) => s.sex === 'M')) },
    sites: siteSummaries,
    distinctSite: sites.find((s) => s.distinctPrevalence)?.name ?? null,
    labelModel: LABEL_MODEL,
    persistence: PERSISTENCE,
    readers,
    reports: { errorRate: REPORT_ERROR_RATE, hedgeRate: REPORT_HEDGE_RATE, errors: reportErrors, hedged },
    files: { manifest: 'manifest.csv', manifestPng: 'manifest-png.csv', reports: 'reports.csv', readers: 'readers.csv', dicom: 'dicom/', png: 'png/', masks: 'masks/' },
  };
  if (o.images) pruneStale(dir, written);
  else pruneStale(dir, new Set());
  writeJsonAtomic(join(dir, 'cohort.json'), summary);
  onProgress({ stage: 'synth tables', done: 4, total: 4 });
  return { ...summary, dir, seconds: (Date.now() - started) / 1000 };
}
