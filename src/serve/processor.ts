/**
 * Processing one study job: list the study's instances, refuse the ineligible ones with a reason
 * (from the metadata, then again from each file's header before its pixels are decoded), score the
 * rest with the job's model version, and — unless silent — store an SR and Secondary Captures back
 * into the study. The returned outcome is recorded by the store in the same transaction that
 * completes the job.
 */
import type { GreyImage } from '../data/grey-image.js';
import type { Job } from '../store/schema.js';
import type { JobOutcome } from '../store/store.js';
import { errorMessage, RadmlError } from '../util/errors.js';
import type { Selection } from './config.js';
import { eligibility } from './eligibility.js';
import { decodeInput } from './input.js';
import { OrthancClient, PacsError, type InstanceRef } from './orthanc.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { ModelRegistry } from './registry.js';
import { bannerLines, buildSecondaryCapture, buildStructuredReport, renderResultImage, resultUids, sourceStudy, type ModelIdentity, type ScoredImage, type SourceStudy } from './results-dicom.js';

export interface ProcessorDeps {
  pacs: OrthancClient;
  registry: ModelRegistry;
  selection: Selection;
  /** Silent mode for the whole service. */
  silent: boolean;
  heatmapGrid: number;
  pseudonym: Pseudonymiser;
}

export interface StudyResult {
  scored: number;
  skipped: number;
  /** True when SR/SC were stored back into the PACS. */
  stored: boolean;
  silent: boolean;
  srSopUid?: string;
}

/** A job whose study is gone or whose input is bad will not get better by retrying. */
export class PermanentJobError extends RadmlError {}

export async function processStudyJob(job: Job, deps: ProcessorDeps): Promise<JobOutcome> {
  const model = await deps.registry.get(job.modelName, job.modelVersion);
  const runner = await deps.registry.runner(model);
  const guard = await deps.registry.guard(model);
  const silent = deps.silent || model.status !== 'champion';
  const instances = await deps.pacs.studyInstances(job.studyUid);
  if (!instances) throw new PermanentJobError('STUDY_NOT_FOUND', `study ${deps.pseudonym(job.studyUid)} is not in the PACS`);

  const skipped: JobOutcome['skipped'] = [];
  const eligible: InstanceRef[] = [];
  for (const i of instances) {
    const reason = eligibility(i, deps.selection);
    if (reason === 'radml result object (not an input image)') continue;
    if (reason) skipped.push({ studyUid: job.studyUid, sopUid: i.sopUid, reason });
    else eligible.push(i);
  }

  const scored: { ref: InstanceRef; img: ScoredImage; image: GreyImage; columns: Record<string, string> }[] = [];
  let study: SourceStudy | undefined;
  for (const ref of eligible) {
    const bytes = await deps.pacs.retrieveInstance(ref);
    const name = `instance ${deps.pseudonym(ref.sopUid)}`;
    let decoded;
    try {
      decoded = await decodeInput(bytes, name, deps.selection, guard ? (h) => guard.headerReasons(h) : undefined);
    } catch (e) {
      if (e instanceof PacsError) throw e;
      skipped.push({ studyUid: job.studyUid, sopUid: ref.sopUid, reason: errorMessage(e) });
      continue;
    }
    if (guard) {
      const c = await guard.check(decoded.image, decoded.header);
      if (!c.accepted) {
        skipped.push({ studyUid: job.studyUid, sopUid: ref.sopUid, reason: `${name}: not scored: out of distribution: ${c.reasons.join('; ')}` });
        continue;
      }
    }
    study ??= sourceStudy(bytes, name);
    const [pred] = await runner.predict([decoded.image]);
    scored.push({
      ref,
      image: decoded.image,
      columns: decoded.columns,
      img: { sopClassUid: ref.sopClassUid, sopUid: ref.sopUid, seriesUid: ref.seriesUid, scores: pred!.scores, decisions: pred!.decisions },
    });
  }

  const result: StudyResult = { scored: scored.length, skipped: skipped.length, stored: false, silent };
  if (!silent && scored.length > 0 && study) {
    const identity: ModelIdentity = {
      name: model.name, version: model.version, onnxSha256: model.onnxSha256, classes: runner.classes,
      thresholds: runner.operatingPoint.thresholds, rule: runner.operatingPoint.rule,
    };
    const files: Uint8Array[] = [buildStructuredReport(study, identity, scored.map((s) => s.img))];
    let n = 1;
    for (const s of scored) {
      let heat: { grid: number; values: Float32Array } | undefined;
      let cls: string | undefined;
      if (deps.heatmapGrid > 0) {
        cls = runner.targetClass(s.img);
        heat = { grid: deps.heatmapGrid, values: await runner.occlusionHeatmap(s.image, cls, deps.heatmapGrid) };
      }
      const pic = await renderResultImage(s.image, runner.meta.preprocessing.resize, bannerLines(identity, s.img, cls), heat);
      files.push(buildSecondaryCapture(study, identity, s.img, pic, n++));
    }
    await deps.pacs.store(job.studyUid, files);
    result.stored = true;
    result.srSopUid = resultUids('sr', job.studyUid, identity).instance;
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
