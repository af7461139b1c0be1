/**
 * The dashboard (a Fastify plugin): the built single-page app from web/dist at `/` and `/assets/*`
 * (public, under a strict Content-Security-Policy: no inline script, nothing from another origin),
 * and the few API routes the pages need that the rest of the API does not offer:
 * - `GET /v1/whoami` — the caller's name and role, so the UI shows only what the role may do
 *   (the API still refuses the rest: the UI hiding a button is a convenience, not the control);
 * - `GET /v1/worklist` — one row per study × model version (its job and what it decided), filtered
 *   and paged on the server;
 * - `GET /v1/studies/:studyUid/instances/:sopUid/pixels` — an instance's modality values from the
 *   PACS (WADO-RS), quantised to 16 bits, so the browser applies window/level itself;
 * - `GET /v1/studies/:studyUid/instances/:sopUid/heatmap` — the occlusion map of one finding and
 *   the image rectangle the model's square input covers, for the viewer's overlay.
 * Viewing pixels is recorded in the audit log (pseudonymised study), like every other read of images.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { readDicom, type DicomHeader } from '../data/dicom/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { JOB_STATES, type Job, type ModelVersion, type Prediction, type Role, type SkippedInstance } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { InputError, RadmlError, UnsupportedError } from '../util/errors.js';
import type { ServeConfig } from './config.js';
import { OrthancClient } from './orthanc.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { ModelRegistry } from './registry.js';

export interface DashboardRoutesOptions {
  cfg: ServeConfig;
  store: Store;
  registry: ModelRegistry;
  pseudonym: Pseudonymiser;
  audit: (req: FastifyRequest, action: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;
  /** Folder of the built app (default: web/dist of the package). */
  webDir?: string;
}

/** The policy every dashboard file is served under: only this origin, no inline script or style element, no framing. */
export const DASHBOARD_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ');

/** Longest side of the pixels sent to the viewer (larger images are box-averaged by an integer factor). */
export const VIEWER_MAX_SIDE = 2048;

/** Longest a cached worklist is served without rebuilding. */
export const WORKLIST_CACHE_MS = 5000;

function js(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const uidParam = z.string().regex(/^[0-9.]{1,64}$/, 'a DICOM UID');
const instanceParams = js(z.object({ studyUid: uidParam, sopUid: uidParam }));
const VIEWERS: readonly Role[] = ['admin', 'radiologist'];
const ALL: readonly Role[] = ['admin', 'radiologist', 'service'];

/** The package's web/dist, found from this file in src/serve (tsx) or dist/src/serve (compiled). */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'web', 'dist');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'web', 'dist');
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8', '.woff2': 'font/woff2',
};

// ---------------------------------------------------------------- worklist

export const WORKLIST_STATES = [...JOB_STATES, 'scored'] as const;
export const worklistQuerySchema = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** Substring of the Study Instance UID or the model name. */
  q: z.string().max(128).optional(),
  state: z.enum(JOB_STATES).optional(),
  /** `name@version`. */
  model: z.string().max(80).optional(),
  /** Only rows with a positive decision (`positive`), none (`negative`), or at least one refused instance (`refused`). */
  outcome: z.enum(['positive', 'negative', 'refused']).optional(),
});
export type WorklistQuery = z.infer<typeof worklistQuerySchema>;

const findingRow = z.object({ finding: z.string(), score: z.number(), threshold: z.number().nullable(), positive: z.boolean().nullable() });
export const worklistRowSchema = z.object({
  studyUid: z.string(),
  model: z.string(),
  version: z.number().int(),
  modelStatus: z.string().nullable(),
  jobId: z.number().int().nullable(),
  /** Job state; `scored` for predictions recorded without a job. */
  state: z.string(),
  attempts: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** Epoch ms of the latest event (job update or prediction). */
  time: z.number(),
  instancesScored: z.number().int(),
  /** Highest score per finding over the study's instances, against the operating point. */
  findings: z.array(findingRow),
  refusals: z.array(z.object({ sopUid: z.string(), reason: z.string() })),
  feedback: z.number().int(),
  silent: z.boolean(),
});
export type WorklistRow = z.infer<typeof worklistRowSchema>;

interface Thresholds { [cls: string]: number }

/**
 * Rows of the worklist from jobs, predictions and refusals: one per study × model version, newest first.
 * @example const rows = worklistRows(jobs, preds, skipped, feedback, models, { 'cxr@1': { pneumonia: 0.5 } });
 */
export function worklistRows(jobs: readonly Job[], preds: readonly Prediction[], skipped: readonly SkippedInstance[], feedbackByStudy: ReadonlyMap<string, number>, models: readonly ModelVersion[], thresholds: Readonly<Record<string, Thresholds>>): WorklistRow[] {
  const key = (s: string, m: string, v: number) => `${s}\u0000${m}\u0000${v}`;
  const rows = new Map<string, WorklistRow & { best: Map<string, { score: number; positive: boolean | null }> }>();
  const status = new Map(models.map((m) => [`${m.name}@${m.version}`, m.status]));
  const row = (studyUid: string, model: string, version: number, time: number) => {
    const k = key(studyUid, model, version);
    let r = rows.get(k);
    if (!r) {
      r = { studyUid, model, version, modelStatus: status.get(`${model}@${version}`) ?? null, jobId: null, state: 'scored', attempts: null, lastError: null, time, instancesScored: 0, findings: [], refusals: [], feedback: feedbackByStudy.get(studyUid) ?? 0, silent: false, best: new Map() };
      rows.set(k, r);
    }
    if (time > r.time) r.time = time;
    return r;
  };
  for (const j of jobs) {
    const r = row(j.studyUid, j.modelName, j.modelVersion, j.updatedAt);
    // Several jobs of one study × version (a re-run): the newest one's state is the row's.
    if (r.jobId === null || j.id > r.jobId) Object.assign(r, { jobId: j.id, state: j.state, attempts: j.attempts, lastError: j.lastError });
  }
  for (const p of preds) {
    const r = row(p.studyUid, p.modelName, p.modelVersion, p.createdAt);
    r.instancesScored++;
    r.silent ||= p.silent;
    for (const [cls, score] of Object.entries(p.scores)) {
      const b = r.best.get(cls);
      const positive = cls in p.decisions ? p.decisions[cls]! : null;
      if (!b || score > b.score) r.best.set(cls, { score, positive: b?.positive === true ? true : positive });
      else if (positive === true) b.positive = true;
    }
  }
  for (const s of skipped) row(s.studyUid, s.modelName, s.modelVersion, s.createdAt).refusals.push({ sopUid: s.sopUid, reason: s.reason });
  const out: WorklistRow[] = [];
  for (const r of rows.values()) {
    const t = thresholds[`${r.model}@${r.version}`] ?? {};
    const { best, ...rest } = r;
    rest.findings = [...best].map(([finding, b]) => ({ finding, score: b.score, threshold: t[finding] ?? null, positive: b.positive }));
    out.push(rest);
  }
  return out.sort((a, b) => b.time - a.time || a.studyUid.localeCompare(b.studyUid) || a.version - b.version);
}

/** The rows a query selects. */
export function filterWorklist(rows: readonly WorklistRow[], q: WorklistQuery): WorklistRow[] {
  const needle = q.q?.trim().toLowerCase();
  return rows.filter((r) => {
    if (q.state && r.state !== q.state) return false;
    if (q.model && `${r.model}@${r.version}` !== q.model) return false;
    if (needle && !r.studyUid.includes(needle) && !r.model.toLowerCase().includes(needle)) return false;
    if (q.outcome === 'positive' && !r.findings.some((f) => f.positive === true)) return false;
    if (q.outcome === 'negative' && (r.findings.length === 0 || r.findings.some((f) => f.positive === true))) return false;
    if (q.outcome === 'refused' && r.refusals.length === 0) return false;
    return true;
  });
}

// ---------------------------------------------------------------- pixels

/** What the viewer needs to turn the 16-bit samples back into modality values and display them. */
export interface ViewerImageInfo {
  width: number;
  height: number;
  /** Stored size (before any downsampling). */
  rows: number;
  columns: number;
  /** Integer factor the stored image was box-averaged by (1 = full resolution). */
  factor: number;
  /** modality value = min + sample × (max − min) / 65535. */
  min: number;
  max: number;
  photometric: string;
  windowCenter: number | null;
  windowWidth: number | null;
  voiLutFunction: string;
  modality: string;
  /** The samples are display values in [0, 1] (colour or palette images), not modality values. */
  display: boolean;
}

/**
 * Quantise (and, past `maxSide`, box-average) an image's modality values to 16-bit samples.
 * @example const { info, samples } = viewerPixels(values, 2000, 2000, header, 2048);
 */
export function viewerPixels(values: Float32Array, width: number, height: number, header: Pick<DicomHeader, 'rows' | 'columns' | 'photometricInterpretation' | 'windowCenter' | 'windowWidth' | 'voiLutFunction' | 'modality'>, maxSide = VIEWER_MAX_SIDE, display = false): { info: ViewerImageInfo; samples: Uint16Array } {
  const factor = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  const w = Math.floor(width / factor), h = Math.floor(height / factor);
  let src = values;
  if (factor > 1) {
    src = new Float32Array(w * h);
    const inv = 1 / (factor * factor);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = 0; dy < factor; dy++) {
        const o = (y * factor + dy) * width + x * factor;
        for (let dx = 0; dx < factor; dx++) s += values[o + dx]!;
      }
      src[y * w + x] = s * inv;
    }
  }
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) min = max = 0;
  const scale = max > min ? 65535 / (max - min) : 0;
  const samples = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) samples[i] = Math.round((src[i]! - min) * scale);
  const c = header.windowCenter[0], ww = header.windowWidth[0];
  return {
    info: {
      width: w, height: h, rows: header.rows, columns: header.columns, factor, min, max,
      photometric: display ? 'MONOCHROME2' : header.photometricInterpretation,
      windowCenter: !display && c !== undefined && ww !== undefined && ww > 0 ? c : null,
      windowWidth: !display && c !== undefined && ww !== undefined && ww > 0 ? ww : null,
      voiLutFunction: header.voiLutFunction, modality: header.modality, display,
    },
    samples,
  };
}

/** The image rectangle (in image pixels) that the model's square input covers, per resize mode. */
export function inputRegion(width: number, height: number, mode: 'pad' | 'crop' | 'stretch'): { x: number; y: number; width: number; height: number } {
  if (mode === 'stretch') return { x: 0, y: 0, width, height };
  const side = mode === 'pad' ? Math.max(width, height) : Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), width: side, height: side };
}

interface Decoded { header: DicomHeader; image: GreyImage; values: Float32Array; display: boolean }

/**
 * @example await app.register(dashboardRoutes, { cfg, store, registry, pseudonym, audit });
 */
export async function dashboardRoutes(app: FastifyInstance, opts: DashboardRoutesOptions): Promise<void> {
  const { cfg, store, registry, pseudonym } = opts;
  const webDir = opts.webDir ?? defaultWebDir();
  const pacs = cfg.orthanc ? new OrthancClient(cfg.orthanc) : undefined;

  // ---------------------------------------------------------------- static files
  const secure = (reply: FastifyReply) => reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('x-frame-options', 'DENY');
  const sendFile = (reply: FastifyReply, file: string, cache: string) => {
    if (!existsSync(file) || !statSync(file).isFile()) {
      return secure(reply).code(existsSync(webDir) ? 404 : 503).type('text/plain; charset=utf-8')
        .send(existsSync(webDir) ? 'not found' : 'The dashboard is not built: run `npm run build:web` in the radml folder.');
    }
    const ext = file.slice(file.lastIndexOf('.'));
    return secure(reply).type(CONTENT_TYPES[ext] ?? 'application/octet-stream').header('cache-control', cache).send(readFileSync(file));
  };
  const hidden = { hide: true };
  app.get('/', { config: { roles: 'public' }, schema: { ...hidden, summary: 'The dashboard (single-page app)' } }, async (_req, reply) => sendFile(reply, join(webDir, 'index.html'), 'no-cache'));
  app.get('/assets/:file', {
    config: { roles: 'public' },
    schema: { ...hidden, params: js(z.object({ file: z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/) })) },
  }, async (req, reply) => sendFile(reply, join(webDir, 'assets', (req.params as { file: string }).file), 'no-cache'));

  // ---------------------------------------------------------------- who am I
  app.get('/v1/whoami', {
    config: { roles: ALL },
    schema: { tags: ['dashboard'], summary: 'The caller\'s token name and role', response: { 200: js(z.object({ name: z.string(), role: z.string() })) } },
  }, async (req) => ({ name: req.principal!.name, role: req.principal!.role }));

  // ---------------------------------------------------------------- worklist
  const thresholdsOf = async (models: readonly ModelVersion[]): Promise<Record<string, Thresholds>> => {
    const out: Record<string, Thresholds> = {};
    for (const m of models) {
      if (m.status === 'retired') continue; // no need to load a retired model to show its rows
      try {
        out[`${m.name}@${m.version}`] = (await registry.runner(m)).operatingPoint.thresholds;
      } catch {
        // a model folder that no longer loads: its rows show scores without thresholds
      }
    }
    return out;
  };
  // The joined rows are rebuilt only when something changed: every prediction, refusal, feedback,
  // requeue and status change appends to the audit chain, and job transitions change the counts;
  // WORKLIST_CACHE_MS bounds what a transition that leaves the counts equal can hide.
  interface BuiltWorklist { key: string; at: number; rows: WorklistRow[]; models: string[] }
  let built: BuiltWorklist | undefined;
  let building: { key: string; job: Promise<BuiltWorklist> } | undefined;
  app.get('/v1/worklist', {
    config: { roles: ALL },
    schema: {
      tags: ['dashboard'],
      summary: 'Studies processed, one row per study × model version, newest first: job state, highest score per finding against the threshold, refused instances with the reason, feedback count; filtered and paged',
      querystring: js(worklistQuerySchema),
      response: { 200: js(z.object({ total: z.number().int(), offset: z.number().int(), limit: z.number().int(), rows: z.array(worklistRowSchema), models: z.array(z.string()), counts: z.record(z.string(), z.number()) })) },
    },
  }, async (req) => {
    const q = worklistQuerySchema.parse(req.query);
    const counts = await store.jobCounts();
    const key = `${(await store.auditHead())?.seq ?? 0}/${JSON.stringify(counts)}`;
    if (!built || built.key !== key || Date.now() - built.at > WORKLIST_CACHE_MS) {
      const build = async (): Promise<BuiltWorklist> => {
        const [jobs, preds, skipped, feedback, models] = await Promise.all([
          store.listJobs({ limit: 1_000_000 }), store.listPredictions(), store.listSkipped(), store.listFeedback(), store.listModelVersions(),
        ]);
        const fb = new Map<string, number>();
        for (const f of feedback) fb.set(f.studyUid, (fb.get(f.studyUid) ?? 0) + 1);
        return { key, at: Date.now(), rows: worklistRows(jobs, preds, skipped, fb, models, await thresholdsOf(models)), models: models.map((m) => `${m.name}@${m.version}`) };
      };
      // Concurrent callers share one build.
      if (!building || building.key !== key) {
        const job = build();
        const entry = { key, job };
        building = entry;
        void job.finally(() => { if (building === entry) building = undefined; }).catch(() => undefined);
      }
      built = await building.job;
    }
    const rows = filterWorklist(built.rows, q);
    return { total: rows.length, offset: q.offset, limit: q.limit, rows: rows.slice(q.offset, q.offset + q.limit), models: built.models, counts };
  });

  // ---------------------------------------------------------------- pixels and heatmaps
  // The last few decoded instances: the viewer asks for the pixels and then the heatmap of the same one.
  const cache = new Map<string, Promise<Decoded>>();
  const decoded = (studyUid: string, sopUid: string): Promise<Decoded> => {
    const k = `${studyUid}/${sopUid}`;
    const hit = cache.get(k);
    if (hit) {
      cache.delete(k);
      cache.set(k, hit);
      return hit;
    }
    const p = (async (): Promise<Decoded> => {
      if (!pacs) throw new UnsupportedError('NO_PACS', 'no PACS is configured (orthanc in the config), so the service has no images to show');
      let seriesUid = (await store.listPredictions({ studyUid })).find((x) => x.sopUid === sopUid)?.seriesUid;
      if (!seriesUid) seriesUid = (await pacs.studyInstances(studyUid))?.find((i) => i.sopUid === sopUid)?.seriesUid;
      if (!seriesUid) throw new RadmlError('INSTANCE_NOT_FOUND', `instance ${pseudonym(sopUid)} is not in study ${pseudonym(studyUid)}`);
      const bytes = await pacs.retrieveInstance({ studyUid, seriesUid, sopUid });
      const d = await readDicom(bytes, `instance ${pseudonym(sopUid)}`, { maxInflatedBytes: cfg.limits.dicomInflatedBytes });
      const display = d.modalityValues.length !== d.image.width * d.image.height;
      return { header: d.header, image: d.image, values: display ? d.image.data : d.modalityValues, display };
    })();
    cache.set(k, p);
    p.catch(() => cache.delete(k));
    while (cache.size > 2) cache.delete(cache.keys().next().value!); // a 2k × 2k image holds ~32 MB decoded
    return p;
  };

  app.get('/v1/studies/:studyUid/instances/:sopUid/pixels', {
    config: { roles: VIEWERS },
    schema: {
      tags: ['dashboard'],
      summary: 'An instance\'s modality values for the viewer, retrieved from the PACS: little-endian 16-bit samples, row-major; the header x-radml-image (JSON) gives the size, the scale back to modality values, the photometric interpretation and the stored window',
      params: instanceParams,
    },
  }, async (req, reply) => {
    const { studyUid, sopUid } = req.params as { studyUid: string; sopUid: string };
    const d = await decoded(studyUid, sopUid);
    const { info, samples } = viewerPixels(d.values, d.image.width, d.image.height, d.header, VIEWER_MAX_SIDE, d.display);
    await opts.audit(req, 'study.view', pseudonym(studyUid), { instance: pseudonym(sopUid) });
    return reply.type('application/octet-stream').header('cache-control', 'private, no-store').header('x-radml-image', JSON.stringify(info))
      .send(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });

  app.get('/v1/studies/:studyUid/instances/:sopUid/heatmap', {
    config: { roles: VIEWERS },
    schema: {
      tags: ['dashboard'],
      summary: 'Occlusion heatmap of one finding on an instance (grid × grid, row-major, ≥ 0) and the image rectangle the model\'s square input covers',
      params: instanceParams,
      querystring: js(z.object({ model: z.string().max(64), version: z.coerce.number().int().min(1), finding: z.string().min(1).max(64) })),
      response: { 200: js(z.object({ finding: z.string(), method: z.literal('occlusion'), grid: z.number().int(), values: z.array(z.number()), region: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }) })) },
    },
  }, async (req) => {
    const { studyUid, sopUid } = req.params as { studyUid: string; sopUid: string };
    const q = req.query as { model: string; version: number; finding: string };
    if (cfg.heatmapGrid === 0) throw new UnsupportedError('HEATMAP_OFF', 'heatmaps are switched off on this service (config heatmapGrid is 0)');
    const mv = await registry.get(q.model, q.version);
    const runner = await registry.runner(mv);
    if (!runner.classes.includes(q.finding)) throw new InputError('HEATMAP_CLASS', `heatmap: "${q.finding}" is not a finding of ${mv.name} v${mv.version} (${runner.classes.join(', ')})`);
    const d = await decoded(studyUid, sopUid);
    const values = await runner.occlusionHeatmap(d.image, q.finding, cfg.heatmapGrid);
    await opts.audit(req, 'study.heatmap', pseudonym(studyUid), { instance: pseudonym(sopUid), model: mv.name, version: mv.version, finding: q.finding });
    return { finding: q.finding, method: 'occlusion' as const, grid: cfg.heatmapGrid, values: Array.from(values), region: inputRegion(d.image.width, d.image.height, runner.meta.preprocessing.resize) };
  });
}
