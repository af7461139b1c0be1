/**
 * Processing one study job: list the study's instances, leave alone the ones this model version
 * already scored or refused (dedupe is per SOP Instance, so images that arrive after the study was
 * processed are scored on the next run), refuse the ineligible ones with a reason (from the
 * metadata, then again from each file's header before its pixels are decoded), score the rest, and —
 * unless silent — store an SR and Secondary Captures back into the study, or a short "not analysed"
 * SR when everything new was refused. The returned outcome is recorded by the store in the same
 * transaction that completes the job.
 */
import { createHash } from 'node:crypto';
import type { GreyImage } from '../data/grey-image.js';
import type { Job } from '../store/schema.js';
import type { JobOutcome, Store } from '../store/store.js';
import { errorMessage, RadmlError } from '../util/errors.js';
import type { Selection } from './config.js';
import { eligibility } from './eligibility.js';
import { decodeInput } from './input.js';
import { OrthancClient, PacsError, type InstanceRef } from './orthanc.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { ModelRegistry } from './registry.js';
import type { DecodePool } from './decode-pool.js';
import { buildNotAnalysedReport, buildStructuredReport, resultUids, secondaryCaptures, sourceStudy, type ModelIdentity, type ScoredImage, type SourceStudy } from './results-dicom.js';
import type { ImagePrediction, ModelRunner } from './runner.js';

export interface ProcessorDeps {
  pacs: OrthancClient;
  registry: ModelRegistry;
  /** What this model version already did with the study's instances. */
  store: Pick<Store, 'listPredictions' | 'listSkipped'>;
  selection: Selection;
  /** Silent mode for the whole service. */
  silent: boolean;
  heatmapGrid: number;
  pseudonym: Pseudonymiser;
  /** Store a short "not analysed: <reason>" SR when every new instance was refused (champion only). */
  notAnalysedReport?: boolean;
  /** Secondary Captures: one per positive finding (default) or a labelled grid; most findings per image (default 4). */
  heatmapLayout?: 'per-finding' | 'grid';
  heatmapMaxFindings?: number;
  /** Decode and preprocess off the main thread (absent: on it). */
  decodePool?: DecodePool;
}

export interface StudyResult {
  scored: number;
  skipped: number;
  /** Instances scored or refused by earlier runs of this job, left alone this time. */
  alreadyDone: number;
  /** Instances in the PACS study after this run, radml's own results included: the watcher runs the job again when the PACS has more. */
  instancesSeen: number;
  /** True when SR/SC were stored back into the PACS. */
  stored: boolean;
  silent: boolean;
  srSopUid?: string;
  /** The SR stored was a "not analysed" one. */
  notAnalysed?: boolean;
}

/** A job whose study is gone or whose input is bad will not get better by retrying. */
export class PermanentJobError extends RadmlError {}

/** The study is not in the PACS (yet): the job was queued before its images arrived. The worker waits. */
export class StudyNotArrivedError extends RadmlError {}

/** The patient/study module of an instance, or undefined when it cannot be parsed (a refused, corrupt file). */
function studyOf(bytes: Uint8Array, name: string): SourceStudy | undefined {
  try {
    return sourceStudy(bytes, name);
  } catch {
    return undefined;
  }
}

/** Short stable key of a set of SOP Instance UIDs (for result UIDs). */
function setKey(uids: readonly string[]): string {
  return createHash('sha256').update([...uids].sort().join('\n')).digest('hex').slice(0, 20);
}

function identityOf(model: { name: string; version: number; onnxSha256: string }, runner: ModelRunner): ModelIdentity {
  return {
    name: model.name, version: model.version, onnxSha256: model.onnxSha256, classes: runner.classes,
    thresholds: runner.operatingPoint.thresholds, rule: runner.operatingPoint.rule,
  };
}

export async function processStudyJob(job: Job, deps: ProcessorDeps): Promise<JobOutcome> {
  const model = await deps.registry.get(job.modelName, job.modelVersion);
  const silent = deps.silent || model.status !== 'champion';
  const instances = await deps.pacs.studyInstances(job.studyUid);
  if (!instances || instances.length === 0) throw new StudyNotArrivedError('STUDY_NOT_FOUND', `study ${deps.pseudonym(job.studyUid)} is not in the PACS (yet)`);

  const mv = { studyUid: job.studyUid, modelName: job.modelName, modelVersion: job.modelVersion };
  const previous = await deps.store.listPredictions(mv);
  const done = new Set([...previous.map((p) => p.sopUid), ...(await deps.store.listSkipped(mv)).map((s) => s.sopUid)]);
  const skipped: JobOutcome['skipped'] = [];
  const refusedRefs: (InstanceRef & { reason: string })[] = [];
  const eligible: InstanceRef[] = [];
  let alreadyDone = 0;
  const skip = (ref: InstanceRef, reason: string) => {
    skipped.push({ studyUid: job.studyUid, sopUid: ref.sopUid, modelName: job.modelName, modelVersion: job.modelVersion, reason });
    refusedRefs.push({ ...ref, reason });
  };
  for (const i of instances) {
    const reason = eligibility(i, deps.selection);
    if (reason === 'radml result object (not an input image)') continue;
    if (done.has(i.sopUid)) alreadyDone++;
    else if (reason) skip(i, reason);
    else eligible.push(i);
  }
  const result: StudyResult = { scored: 0, skipped: skipped.length, alreadyDone, instancesSeen: instances.length, stored: false, silent };
  // Nothing new (the study was seen again, e.g. after radml stored its own results): no model needed.
  if (eligible.length === 0 && skipped.length === 0) return { result, predictions: [], skipped: [] };

  const runner = await deps.registry.runner(model);
  const guard = await deps.registry.guard(model);
  const scored: { ref: InstanceRef; img: ScoredImage; pred: ImagePrediction; image: GreyImage; columns: Record<string, string> }[] = [];
  let study: SourceStudy | undefined;
  for (const ref of eligible) {
    const bytes = await deps.pacs.retrieveInstance(ref);
    const name = `instance ${deps.pseudonym(ref.sopUid)}`;
    let decoded;
    try {
      decoded = deps.decodePool
        ? await deps.decodePool.decode(bytes, name, { selection: deps.selection, headerProfile: guard?.headerProfile ?? null, preprocessing: runner.meta.preprocessing, channels: runner.meta.input.channels, wantImage: true, unbounded: true })
        : await decodeInput(bytes, name, deps.selection, guard ? (h) => guard.headerReasons(h) : undefined);
    } catch (e) {
      if (e instanceof PacsError) throw e;
      skip(ref, errorMessage(e));
      study ??= studyOf(bytes, name);
      continue;
    }
    if (guard) {
      const c = await guard.check(decoded.image!, decoded.header);
      if (!c.accepted) {
        skip(ref, `${name}: not scored: out of distribution: ${c.reasons.join('; ')}`);
        study ??= studyOf(bytes, name);
        continue;
      }
    }
    study ??= sourceStudy(bytes, name);
    const [pred] = 'input' in decoded ? await runner.predictInputs(decoded.input, 1) : await runner.predict([decoded.image]);
    scored.push({
      ref,
      pred: pred!,
      image: decoded.image!,
      columns: decoded.columns,
      img: { sopClassUid: ref.sopClassUid, sopUid: ref.sopUid, seriesUid: ref.seriesUid, scores: pred!.scores, decisions: pred!.decisions },
    });
  }

  result.scored = scored.length;
  result.skipped = skipped.length;
  if (!silent) {
    const identity = identityOf(model, runner);
    const files: Uint8Array[] = [];
    if (scored.length > 0 && study) {
      // Images scored by earlier runs go into the new SR too, so its findings cover the whole study.
      const byUid = new Map(instances.map((i) => [i.sopUid, i]));
      const earlier: ScoredImage[] = previous.map((p) => ({
        sopClassUid: byUid.get(p.sopUid)?.sopClassUid ?? '', sopUid: p.sopUid, seriesUid: p.seriesUid, scores: p.scores, decisions: p.decisions,
      })).filter((p) => p.sopClassUid !== '');
      const all = [...earlier, ...scored.map((s) => s.img)];
      const revision = earlier.length > 0 ? `rev/${setKey(all.map((i) => i.sopUid))}` : '';
      files.push(buildStructuredReport(study, identity, all, new Date(), revision));
      result.srSopUid = resultUids('sr', job.studyUid, identity, revision).instance;
      let n = earlier.length + 1;
      for (const s of scored) {
        const scs = await secondaryCaptures(runner, identity, study, s.img, s.image, { grid: deps.heatmapGrid, layout: deps.heatmapLayout ?? 'per-finding', maxFindings: deps.heatmapMaxFindings ?? 4 }, n);
        files.push(...scs);
        n += scs.length;
      }
    } else if (scored.length === 0 && refusedRefs.length > 0 && (deps.notAnalysedReport ?? true)) {
      // The SR needs the study's patient module: from an instance already read, else from the first
      // refused ones that parse (a refused instance may be unreadable).
      for (const ref of refusedRefs.slice(0, 3)) {
        study ??= studyOf(await deps.pacs.retrieveInstance(ref), `instance ${deps.pseudonym(ref.sopUid)}`);
      }
      if (study) {
        const key = setKey(refusedRefs.map((r) => r.sopUid));
        files.push(buildNotAnalysedReport(study, identity, refusedRefs, key));
        result.srSopUid = resultUids('sr', job.studyUid, identity, `not-analysed/${key}`).instance;
        result.notAnalysed = true;
      }
    }
    if (files.length > 0) {
      await deps.pacs.store(job.studyUid, files);
      result.stored = true;
      result.instancesSeen += files.length;
    }
  }
  return {
    result,
    predictions: scored.map((s) => ({
      studyUid: job.studyUid, seriesUid: s.ref.seriesUid, sopUid: s.ref.sopUid, modelName: model.name, modelVersion: model.version,
      scores: s.img.scores, decisions: s.img.decisions, silent, columns: s.columns,
    })),
    skipped,
  };
}
