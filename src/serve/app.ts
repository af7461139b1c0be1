/**
 * The HTTP API (Fastify): every route declares the roles allowed to call it (or `public`), and an
 * onRequest hook refuses the rest before any body is read — a route without a declaration is
 * refused too, so forgetting one fails closed. Request and response shapes are zod schemas turned
 * into JSON Schema, which Fastify validates and @fastify/swagger publishes at /openapi.json.
 * Request logs carry the route pattern, never the URL (which can hold study UIDs).
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { z } from 'zod';
import { QueueFullError, type Store } from '../store/store.js';
import { type Role, ROLES, VERDICTS, MODEL_STATUSES } from '../store/schema.js';
import { verifyAuditPaged, type AuditKey } from '../store/audit-chain.js';
import { RadmlError, InputError, UnsupportedError, errorMessage } from '../util/errors.js';
import { bearerToken, type Principal, type TokenVerifier } from './auth.js';
import type { ServeConfig } from './config.js';
import { decodeInput } from './input.js';
import type { DecodePool } from './decode-pool.js';
import type { ImagePrediction } from './runner.js';
import type { GreyImage } from '../data/grey-image.js';
import type { DicomHeader } from '../data/dicom/index.js';
import type { Metrics } from './metrics.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { ModelRegistry } from './registry.js';
import { exportPredictionsCsv } from './export.js';
import { makePseudonymiser as makeDeidPseudonymiser, readKeyFile } from '../deid/pseudonyms.js';
import { jobRoutes } from './jobs-routes.js';
import { monitorRoutes } from './monitor-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import type { QueueResult } from './watcher.js';
import { boundedBytes, UploadLimitError } from './tar.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed to call the route, or 'public' for health probes. */
    roles?: readonly Role[] | 'public';
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface RouteInfo {
  method: string;
  url: string;
  roles: readonly Role[] | 'public' | undefined;
}

export interface AppContext {
  cfg: ServeConfig;
  store: Store;
  registry: ModelRegistry;
  tokens: TokenVerifier;
  metrics: Metrics;
  pseudonym: Pseudonymiser;
  /** Readiness beyond the store: PACS reachable when configured. */
  ready: () => Promise<{ ready: boolean; checks: Record<string, string> }>;
  /** Queue a study for every active model version; says per version what happened (throws QueueFullError). */
  queueStudy?: (studyUid: string) => Promise<QueueResult[]>;
  /** Wake the local job worker (after an admin requeue). */
  poke?: () => void;
  log?: (line: Record<string, unknown>) => void;
  /** Decode/preprocess off the main thread (absent: on the main thread). */
  decodePool?: DecodePool;
  /** Key of the audit chain's HMACs, for /v1/audit/verify (absent: only unkeyed entries verify). */
  auditKey?: AuditKey;
}

/** JSON Schema (draft-07) of a zod schema, for Fastify validation and the OpenAPI document. */
function js(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const errorBody = z.object({ error: z.string(), code: z.string() });
const modelVersionBody = z.object({
  name: z.string(), version: z.number().int(), onnxSha256: z.string(), dir: z.string(),
  status: z.enum(MODEL_STATUSES), classes: z.array(z.string()), createdAt: z.number(), createdBy: z.string(),
});
const uidParam = z.string().regex(/^[0-9.]{1,64}$/, 'a DICOM UID');

const BINARY_TYPES = ['multipart/form-data', 'application/dicom', 'image/png', 'image/jpeg', 'application/octet-stream', 'application/x-tar', 'application/gzip', 'application/x-gzip'];

function httpStatusOf(e: unknown): number {
  if (e instanceof QueueFullError) return 503;
  if (e instanceof RadmlError && /NOT_FOUND$/.test(e.code)) return 404;
  if (e instanceof RadmlError && e.code === 'MODEL_NOT_ACTIVE') return 409;
  if (e instanceof UnsupportedError) return 422;
  if (e instanceof InputError) return e.code === 'MODEL_TAMPERED' ? 422 : 400;
  return 500;
}

/**
 * Build the Fastify app (not listening yet).
 * @example const { app, routes } = await buildApp(ctx); await app.listen({ host: '127.0.0.1', port: 0 });
 */
export async function buildApp(ctx: AppContext): Promise<{ app: FastifyInstance; routes: RouteInfo[] }> {
  const { cfg, store, registry, metrics, pseudonym } = ctx;
  const deidIds = cfg.deidKeyFile ? makeDeidPseudonymiser(readKeyFile(cfg.deidKeyFile).key) : undefined;
  const app = Fastify({ logger: false, bodyLimit: cfg.limits.jsonBytes, trustProxy: false });
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) if (m !== 'HEAD') routes.push({ method: m, url: r.url, roles: r.config?.roles });
    // The OpenAPI document names each route's roles: in the description and as x-roles.
    const roles = r.config?.roles;
    if (r.schema && roles) {
      const who = roles === 'public' ? 'public (no token)' : roles.join(', ');
      const schema = r.schema as Record<string, unknown>;
      schema.description = `${typeof schema.description === 'string' ? schema.description + '\n\n' : ''}Roles: ${who}.`;
      schema['x-roles'] = roles === 'public' ? [] : [...roles];
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'radml deployment service', version: '1', description: 'Model registry, inference, PACS jobs, feedback and audit. Every route except /health and /ready needs `Authorization: Bearer <token>`; each route lists the roles it allows.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  for (const t of BINARY_TYPES) {
    app.addContentTypeParser(t, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.is404) return;
    const roles = req.routeOptions.config.roles;
    if (roles === 'public') return;
    const principal = ctx.tokens.verify(bearerToken(req.headers.authorization));
    if (!principal) {
      metrics.authFailures.inc({ status: '401' });
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or unknown API token', code: 'UNAUTHENTICATED' });
    }
    if (!roles || !roles.includes(principal.role)) {
      metrics.authFailures.inc({ status: '403' });
      return reply.code(403).send({ error: `role ${principal.role} may not call this route`, code: 'FORBIDDEN' });
    }
    req.principal = principal;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.is404 ? '(unmatched)' : req.routeOptions.url ?? '(unknown)';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.httpDuration.observe(seconds, { route });
    // Refused requests (401/403/4xx) are logged at info, so the default level shows them; the rest at debug.
    ctx.log?.({ msg: reply.statusCode >= 400 && reply.statusCode < 500 ? 'request refused' : 'request', method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, user: req.principal?.name });
  });

  app.setErrorHandler((e: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    if (e.validation || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.code(e.statusCode ?? 400).send({ error: e.message, code: e.code ?? 'BAD_REQUEST' });
    }
    const status = httpStatusOf(e);
    if (e instanceof QueueFullError) reply.header('retry-after', String(e.retryAfterSeconds));
    if (status === 500) ctx.log?.({ msg: 'error', route: req.routeOptions.url, error: errorMessage(e) });
    return reply.code(status).send({ error: status === 500 ? 'internal error' : errorMessage(e), code: e instanceof RadmlError ? e.code : 'INTERNAL' });
  });

  const audit = (req: FastifyRequest, action: string, subject: string, details: Record<string, unknown>) =>
    store.appendAudit({ actor: req.principal?.name ?? 'anonymous', action, subject, details: { role: req.principal?.role ?? null, ...details } });

  const ALL: readonly Role[] = ROLES;

  // ---------------------------------------------------------------- probes and docs
  app.get('/health', { config: { roles: 'public' }, schema: { tags: ['ops'], summary: 'Liveness', security: [], response: { 200: js(z.object({ status: z.literal('ok') })) } } },
    async () => ({ status: 'ok' as const }));

  app.get('/ready', { config: { roles: 'public' }, schema: { tags: ['ops'], summary: 'Readiness (store, PACS, active model)', security: [] } }, async (_req, reply) => {
    const r = await ctx.ready();
    return reply.code(r.ready ? 200 : 503).send(r);
  });

  app.get('/metrics', { config: { roles: ['admin', 'service'] }, schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4').send(await metrics.render()));

  app.get('/openapi.json', { config: { roles: ALL }, schema: { tags: ['ops'], summary: 'This API as OpenAPI 3' } }, async () => app.swagger());

  // ---------------------------------------------------------------- model registry
  app.get('/v1/models', { config: { roles: ALL }, schema: { tags: ['models'], summary: 'All model versions', response: { 200: js(z.object({ models: z.array(modelVersionBody) })) } } },
    async () => ({ models: await store.listModelVersions() }));

  // Model uploads are streamed to disk (never buffered): this route group reads its body types as raw streams.
  const UPLOAD_TYPES = ['multipart/form-data', 'application/x-tar', 'application/gzip', 'application/x-gzip', 'application/octet-stream'];
  await app.register(async (up) => {
    up.removeContentTypeParser(UPLOAD_TYPES);
    up.addContentTypeParser(UPLOAD_TYPES, (_req, payload, done) => done(null, payload));
    up.post('/v1/models', {
      config: { roles: ['admin'] },
      schema: {
        tags: ['models'],
        summary: 'Upload a model folder: a tar / tar.gz of model.onnx + model.json + artefacts, or multipart/form-data with one file part per artefact (filename = path in the folder); streamed to disk with limits on the upload size (413), unpacked size and entry count; SHA-256 of every artefact verified',
        querystring: js(z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,47}$/) })),
        response: { 200: js(z.object({ model: modelVersionBody, created: z.boolean() })), 201: js(z.object({ model: modelVersionBody, created: z.boolean() })), 413: js(errorBody) },
      },
    }, async (req, reply) => {
      const body = req.body as (NodeJS.ReadableStream & AsyncIterable<Buffer>) | undefined;
      if (!body || typeof (body as Partial<AsyncIterable<Buffer>>)[Symbol.asyncIterator] !== 'function') throw new InputError('MODEL_UPLOAD', 'send the model folder as application/x-tar, application/gzip or multipart/form-data');
      const { name } = req.query as { name: string };
      const type = req.headers['content-type'] ?? '';
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > cfg.limits.modelBytes) throw new UploadLimitError('UPLOAD_TOO_LARGE', `the upload is ${declared} bytes, more than ${cfg.limits.modelBytes} (limits.modelBytes)`);
      const seen = { bytes: 0 };
      const r = await registry.registerUpload(name, boundedBytes(body, cfg.limits.modelBytes, seen), type, req.principal!.name, { maxInflatedBytes: cfg.limits.modelInflatedBytes, maxEntries: cfg.limits.modelEntries });
      await audit(req, 'model.upload', `${r.model.name}@${r.model.version}`, { onnxSha256: r.model.onnxSha256, created: r.created, bytes: seen.bytes });
      return reply.code(r.created ? 201 : 200).send(r);
    });
  });

  const nameVersion = js(z.object({ name: z.string(), version: z.coerce.number().int().min(1) }));
  app.get('/v1/models/:name/:version', { config: { roles: ALL }, schema: { tags: ['models'], summary: 'Model card: model.json (classes, preprocessing, provenance, validation metrics, hashes), operating point, status', params: nameVersion } },
    async (req) => {
      const p = req.params as { name: string; version: number };
      return registry.card(p.name, p.version);
    });

  app.post('/v1/models/:name/:version/status', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['models'], summary: 'Activate (champion or challenger), return to registered, or retire a version', params: nameVersion,
      body: js(z.object({ status: z.enum(MODEL_STATUSES) })), response: { 200: js(z.object({ model: modelVersionBody })) },
    },
  }, async (req) => {
    const p = req.params as { name: string; version: number };
    const { status } = req.body as { status: (typeof MODEL_STATUSES)[number] };
    const model = await registry.setStatus(p.name, p.version, status);
    await audit(req, status === 'retired' ? 'model.retire' : 'model.activate', `${p.name}@${p.version}`, { status });
    return { model };
  });

  // ---------------------------------------------------------------- synchronous inference
  app.post('/v1/predict', {
    config: { roles: ['radiologist', 'service'] },
    bodyLimit: cfg.limits.imageBytes,
    schema: {
      tags: ['inference'],
      summary: 'Score one PNG, JPEG or DICOM image (body: the file bytes). DICOM headers are checked (modality, body part, view; the model\'s ood.json profile when present) before decoding; 422 with the reasons when refused',
      querystring: js(z.object({
        model: z.string().optional(), version: z.coerce.number().int().min(1).optional(),
        heatmap: z.string().max(64).optional().describe('Occlusion heatmap: `1` / `true` for the top positive finding (else the top-scoring finding with an operating point), or a finding name; `0` / absent for none'),
      })),
      response: {
        200: js(z.object({
          model: z.string(), version: z.number().int(), onnxSha256: z.string(),
          scores: z.record(z.string(), z.number()), decisions: z.record(z.string(), z.boolean()),
          raw: z.record(z.string(), z.number()).optional(),
          operatingPoint: z.object({ thresholds: z.record(z.string(), z.number()), rule: z.string().optional() }),
          heatmap: z.object({ class: z.string(), positive: z.boolean(), grid: z.number().int(), values: z.array(z.number()) }).optional(),
        })),
      },
    },
  }, async (req) => {
    if (!Buffer.isBuffer(req.body)) throw new InputError('INPUT_FORMAT', 'send the image bytes with Content-Type image/png, image/jpeg or application/dicom');
    const q = req.query as { model?: string; version?: number; heatmap?: string };
    const mv = await registry.resolve(q.model, q.version);
    const runner = await registry.runner(mv);
    const hm = (q.heatmap ?? '').trim();
    const wantHeatmap = !['', '0', 'false', 'no', 'off'].includes(hm.toLowerCase());
    const heatmapClass = wantHeatmap && !['1', 'true', 'yes', 'on', 'top'].includes(hm.toLowerCase()) ? hm : undefined;
    if (heatmapClass !== undefined && !runner.classes.includes(heatmapClass)) throw new InputError('HEATMAP_CLASS', `heatmap: "${heatmapClass}" is not a finding of ${mv.name} v${mv.version} (${runner.classes.join(', ')}); use heatmap=1 for the top positive finding`);
    if (wantHeatmap && cfg.heatmapGrid === 0) throw new UnsupportedError('HEATMAP_OFF', 'heatmaps are switched off on this service (config heatmapGrid is 0)');
    const guard = await registry.guard(mv);
    let pred: ImagePrediction;
    let image: GreyImage | undefined;
    let header: DicomHeader | undefined;
    let format: string;
    if (ctx.decodePool) {
      const d = await ctx.decodePool.decode(req.body, 'upload', {
        selection: cfg.selection, headerProfile: guard?.headerProfile ?? null, preprocessing: runner.meta.preprocessing,
        channels: runner.meta.input.channels, wantImage: Boolean(guard) || wantHeatmap, maxInflatedBytes: cfg.limits.dicomInflatedBytes,
      });
      image = d.image;
      header = d.header;
      format = d.format;
      pred = (await runner.predictInputs(d.input, 1))[0]!;
    } else {
      const d = await decodeInput(req.body, 'upload', cfg.selection, guard ? (h) => guard.headerReasons(h) : undefined, { maxInflatedBytes: cfg.limits.dicomInflatedBytes });
      image = d.image;
      header = d.header;
      format = d.format;
      pred = (await runner.predict([d.image]))[0]!;
    }
    if (guard) {
      const c = await guard.check(image!, header);
      if (!c.accepted) throw new UnsupportedError('OUT_OF_DISTRIBUTION', `upload: not scored: out of distribution: ${c.reasons.join('; ')}`);
    }
    metrics.predictions.inc({ model: mv.name, version: String(mv.version), path: 'sync', silent: 'false' });
    const out: Record<string, unknown> = {
      model: mv.name, version: mv.version, onnxSha256: mv.onnxSha256, scores: pred.scores, decisions: pred.decisions, raw: pred.raw,
      operatingPoint: { thresholds: runner.operatingPoint.thresholds, ...(runner.operatingPoint.rule ? { rule: runner.operatingPoint.rule } : {}) },
    };
    if (wantHeatmap) {
      const cls = heatmapClass ?? runner.targetClass(pred);
      out.heatmap = { class: cls, positive: pred.decisions[cls] === true, grid: cfg.heatmapGrid, values: Array.from(await runner.occlusionHeatmap(image!, cls, cfg.heatmapGrid)) };
    }
    await audit(req, 'predict', `image:${createHash('sha256').update(req.body).digest('hex').slice(0, 16)}`, { model: mv.name, version: mv.version, format, scores: pred.scores });
    return out;
  });

  // ---------------------------------------------------------------- jobs
  await app.register(jobRoutes, { store, pseudonym, ...(ctx.queueStudy ? { queueStudy: ctx.queueStudy } : {}), ...(ctx.poke ? { poke: ctx.poke } : {}), audit });
  await app.register(monitorRoutes, { store, registry, metrics: ctx.metrics, audit, ...(ctx.log ? { log: ctx.log } : {}) });
  await app.register(dashboardRoutes, { cfg, store, registry, pseudonym, audit });

  // ---------------------------------------------------------------- predictions and feedback
  app.get('/v1/studies/:studyUid/predictions', {
    config: { roles: ALL },
    schema: { tags: ['predictions'], summary: 'Recorded predictions and skipped instances (with reasons) of a study', params: js(z.object({ studyUid: uidParam })) },
  }, async (req) => {
    const { studyUid } = req.params as { studyUid: string };
    return { predictions: await store.listPredictions({ studyUid }), skipped: await store.listSkipped({ studyUid }), feedback: await store.listFeedback({ studyUid }) };
  });

  app.post('/v1/studies/:studyUid/feedback', {
    config: { roles: ['radiologist'] },
    schema: {
      tags: ['feedback'], summary: 'Confirm or reject a finding of a scored study',
      params: js(z.object({ studyUid: uidParam })),
      body: js(z.object({ finding: z.string().min(1).max(64), verdict: z.enum(VERDICTS), comment: z.string().max(2000).optional() })),
    },
  }, async (req, reply) => {
    const { studyUid } = req.params as { studyUid: string };
    const b = req.body as { finding: string; verdict: 'confirm' | 'reject'; comment?: string };
    const preds = await store.listPredictions({ studyUid });
    if (preds.length === 0) return reply.code(404).send({ error: 'no predictions recorded for this study', code: 'STUDY_NOT_FOUND' });
    const classes = new Set(preds.flatMap((p) => Object.keys(p.scores)));
    if (!classes.has(b.finding)) return reply.code(400).send({ error: `finding must be one of ${[...classes].join(', ')}`, code: 'FINDING_UNKNOWN' });
    const f = await store.addFeedback({ studyUid, finding: b.finding, verdict: b.verdict, user: req.principal!.name, comment: b.comment ?? '' });
    await audit(req, 'feedback', pseudonym(studyUid), { finding: b.finding, verdict: b.verdict, feedbackId: f.id });
    return reply.code(201).send(f);
  });

  app.get('/v1/feedback', {
    config: { roles: ALL },
    schema: { tags: ['feedback'], summary: 'Radiologist feedback (for monitoring)', querystring: js(z.object({ since: z.coerce.number().optional(), studyUid: uidParam.optional() })) },
  }, async (req) => ({ feedback: await store.listFeedback(req.query as { since?: number; studyUid?: string }) }));

  app.get('/v1/predictions.csv', {
    config: { roles: ['admin', 'service'] },
    schema: {
      tags: ['predictions'], summary: 'Recorded predictions of one model version as a predictions CSV for `radml evaluate` (optionally with a second version\'s scores for a paired comparison)',
      querystring: js(z.object({ model: z.string(), version: z.coerce.number().int().min(1), compareVersion: z.coerce.number().int().min(1).optional() })),
    },
  }, async (req, reply) => {
    const q = req.query as { model: string; version: number; compareVersion?: number };
    const mv = await registry.get(q.model, q.version);
    const runner = await registry.runner(mv);
    const preds = await store.listPredictions({ modelName: q.model, modelVersion: q.version });
    const compare = q.compareVersion ? { version: q.compareVersion, predictions: await store.listPredictions({ modelName: q.model, modelVersion: q.compareVersion }) } : undefined;
    const csv = exportPredictionsCsv({ name: mv.name, version: mv.version, classes: mv.classes, labelKind: runner.meta.labelKind, positiveClass: runner.meta.positiveClass }, preds, await store.listFeedback(), pseudonym, compare, deidIds);
    await audit(req, 'predictions.export', `${q.model}@${q.version}`, { rows: preds.length, compareVersion: q.compareVersion ?? null });
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="predictions-${q.model}-v${q.version}.csv"`).send(csv);
  });

  // ---------------------------------------------------------------- audit
  // Paged and incremental: pages of 500 rows with the event loop free between them; concurrent
  // callers share one run.
  let verifying: ReturnType<typeof verifyAuditPaged> | undefined;
  app.get('/v1/audit/verify', {
    config: { roles: ['admin'] },
    schema: { tags: ['audit'], summary: 'Verify the audit hash chain (HMAC-keyed with the key file named by auditKeyFile) page by page up to the current head; problems list the sequence numbers' },
  }, async () => {
    verifying ??= verifyAuditPaged(store, ctx.auditKey).finally(() => (verifying = undefined));
    return verifying;
  });

  app.get('/v1/audit', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['audit'],
      summary: 'Audit entries, a page at a time: the newest `limit` (default 1000), or the `limit` after sequence number `after`; `next` is the `after` of the following page (null at the head)',
      querystring: js(z.object({ after: z.coerce.number().int().min(0).optional(), limit: z.coerce.number().int().min(1).max(10000).optional() })),
    },
  }, async (req) => {
    const q = req.query as { after?: number; limit?: number };
    const limit = q.limit ?? 1000;
    const head = (await store.auditHead())?.seq ?? 0;
    const after = q.after ?? Math.max(0, head - limit);
    const entries = await store.listAuditPage(after, limit);
    const last = entries[entries.length - 1]?.seq ?? after;
    return { entries, headSeq: head, next: last < head ? last : null };
  });

  await app.ready();
  return { app, routes };
}
