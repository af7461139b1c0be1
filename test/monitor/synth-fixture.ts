/**
 * Scenario fixtures on the synthetic cohort, rendered in memory at 32 px: a small multi-label
 * model trained on sites A–C, and streams whose sites, acquisition or case mix change at a known
 * row, turned into monitor observations by the same code the CLI uses (observeImages).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset, U16_SCALE, writeDataset } from '../../src/data/dataset.js';
import { FINDINGS, renderStudy, sampleCohort, siteProfiles, type SiteProfile, type StudySpec } from '../../src/data/synth/index.js';
import { LoadedModel } from '../../src/explain/loaded-model.js';
import { headerFeaturesFromColumns, type HeaderFeatures } from '../../src/monitor/headers.js';
import { observeImages } from '../../src/monitor/observe.js';
import type { Observation } from '../../src/monitor/observation.js';
import { ImageClassifier } from '../../src/train/classifier.js';

export const SIZE = 32;
export const SITES = siteProfiles(4, 1);
/** Sites the model and reference know: A, B, C (D is the "new site"). */
export const KNOWN = SITES.slice(0, 3);

export interface Rendered {
  images: Float32Array;
  headers: HeaderFeatures[];
  labels: Observation['labels'][];
  n: number;
}

function header(site: SiteProfile, s: StudySpec): HeaderFeatures {
  return headerFeaturesFromColumns({ manufacturer: site.manufacturer, model: site.model, modality: site.modality, photometric: site.photometric, bits_stored: String(site.bitsStored), view: s.view, body_part: 'CHEST', kvp: String(site.kvp), rows: '2048', columns: '2048' });
}

/** Render studies, each with the site profile `siteOf` gives (which may be altered per row). */
export function render(studies: StudySpec[], siteOf: (s: StudySpec, i: number) => SiteProfile): Rendered {
  const px = SIZE * SIZE;
  const images = new Float32Array(studies.length * px);
  const headers: HeaderFeatures[] = [], labels: Observation['labels'][] = [];
  studies.forEach((s, i) => {
    const site = siteOf(s, i);
    images.set(renderStudy(s, site, SIZE).image.data, i * px);
    headers.push(header(site, s));
    labels.push(FINDINGS.map((f) => s.labels[f]));
  });
  return { images, headers, labels, n: studies.length };
}

export const studies = (n: number, seed: number, sites: SiteProfile[]) => sampleCohort({ n, seed, sites });

/** Train the scenario model (≈ 10 s on 2 cores) and open it. */
export async function trainScenarioModel(): Promise<{ model: LoadedModel; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'radml-monitor-'));
  const train = studies(500, 11, KNOWN);
  const r = render(train, (s) => KNOWN[s.siteIndex]!);
  const pixels = Uint16Array.from(r.images, (v) => Math.round(Math.min(1, Math.max(0, v)) * U16_SCALE));
  const rows = train.map((s, i) => ({ path: `${s.studyId}.png`, patient_id: s.patientId, split: i % 5 === 0 ? 'val' : 'train', site: s.site, ...Object.fromEntries(FINDINGS.map((f) => [f, String(s.labels[f])])) }));
  const dsDir = join(dir, 'dataset');
  writeDataset(dsDir, { meta: { imageSize: SIZE, dtype: 'uint16', labelKind: 'multilabel', classes: [...FINDINGS], preprocessing: { resize: 'pad', intensity: 'synthetic' }, hasMasks: false, source: 'synth' }, header: ['path', 'patient_id', 'split', 'site', ...FINDINGS], rows, pixels });
  const ds = readDataset(dsDir);
  const modelDir = join(dir, 'model');
  const clf = new ImageClassifier({ imageSize: SIZE, epochs: 8, width: 8, batch: 32, threads: 2, seed: 1, lr: 0.01, patience: 8 });
  await clf.fit(ds, { outDir: modelDir });
  clf.save(modelDir, { source: 'synth', kind: 'dataset', sha256: ds.meta.imagesSha256, skipped: [] });
  return { model: await LoadedModel.open(modelDir, { threads: 2 }), dir };
}

export async function observe(model: LoadedModel, r: Rendered): Promise<Observation[]> {
  return observeImages(model, r.images, r.n, r.headers, r.labels);
}
