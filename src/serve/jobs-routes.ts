/**
 * The job routes as one Fastify plugin: queue a PACS study, list and read jobs, and the admin
 * requeue of failed and refused jobs. Every answer says what actually happened: a new job (202),
 * or the existing one with its state (200) — never a 202 that does nothing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { JOB_STATES, type Job } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { UnsupportedError } from '../util/errors.js';
import type { Pseudonymiser } from './pseudonym.js';
import type { QueueResult } from './watcher.js';

export interface JobRoutesOptions {
  store: Store;
  pseudonym: Pseudonymiser;
  /** Queue a study for every active model version (absent: no PACS configured). */
  queueStudy?: (studyUid: string) => Promise<QueueResult[]>;
  /** Wake the local worker (jobs were just requeued). */
  poke?: () => void;
  audit: (req: FastifyRequest, action: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;
}

function js(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const uidParam = z.string().regex(/^[0-9.]{1,64}$/, 'a DICOM UID');
const errorBody = z.object({ error: z.string(), code: z.string() });
const jobBody = z.object({
  id: z.number().int(), kind: z.string(), studyUid: z.string(), modelName: z.string(), modelVersion: z.number().int(),
  state: z.string(), attempts: z.number().int(), maxAttempts: z.number().int(), lastError: z.string().nullable(),
  result: z.unknown(), createdAt: z.number(), updatedAt: z.number(), queuedAt: z.number(),
});
/** What queueing did for one model version: a new job, or the state the existing one is in. */
const OUTCOMES = ['created', 'queued', 'running', 'done', 'failed'] as const;
type QueueOutcome = (typeof OUTCOMES)[number];
const queuedJob = z.object({ id: z.number().int(), model: z.string(), version: z.number().int(), outcome: z.enum(OUTCOMES), attempts: z.number().int(), lastError: z.string().nullable() });
const queueAnswer = z.object({ jobs: z.array(queuedJob), message: z.string() });

function outcomeOf(r: QueueResult): QueueOutcome {
  if (r.action === 'created') return 'created';
  return ({ queued: 'queued', leased: 'running', done: 'done', failed: 'failed' } as const)[r.job.state];
}

function describe(jobs: { id: number; outcome: QueueOutcome }[]): string {
  const by = (o: QueueOutcome) => jobs.filter((j) => j.outcome === o);
  const parts: string[] = [];
  if (by('created').length) parts.push(`queued ${by('created').length} new job(s)`);
  if (by('queued').length) parts.push(`${by('queued').length} already queued`);
  if (by('running').length) parts.push(`${by('running').length} running now`);
  if (by('done').length) parts.push(`${by('done').length} already done (images added later are scored when the PACS reports them; POST /v1/jobs/{id}/requeue to look again)`);
  if (by('failed').length) parts.push(`${by('failed').length} failed (${by('failed').map((j) => j.id).join(', ')}): POST /v1/jobs/{id}/requeue to try again`);
  return parts.join('; ');
}

/**
 * @example await app.register(jobRoutes, { store, pseudonym, queueStudy, poke, audit });
 */
export async function jobRoutes(app: FastifyInstance, opts: JobRoutesOptions): Promise<void> {
  const { store, pseudonym } = opts;
  const summary = (j: Job) => ({ id: j.id, model: j.modelName, version: j.modelVersion, state: j.state, attempts: j.attempts });

  app.post('/v1/jobs', {
    config: { roles: ['admin', 'service'] },
    schema: {
      tags: ['jobs'],
      summary: 'Queue a PACS study for every active model version: 202 when a job was created, 200 with the existing jobs and their state (queued, running, done, failed) when not; 503 + Retry-After when the queue is full. A study not in the PACS yet waits for it',
      body: js(z.object({ studyInstanceUid: uidParam })),
      response: { 200: js(queueAnswer), 202: js(queueAnswer), 409: js(errorBody), 503: js(errorBody) },
    },
  }, async (req, reply) => {
    if (!opts.queueStudy) throw new UnsupportedError('NO_PACS', 'no PACS is configured (orthanc in the config), so studies cannot be queued');
    const { studyInstanceUid } = req.body as { studyInstanceUid: string };
    const results = await opts.queueStudy(studyInstanceUid);
    if (results.length === 0) return reply.code(409).send({ error: 'no model version is active (make one champion or challenger), so there is nothing to score the study with', code: 'NO_ACTIVE_MODEL' });
    const jobs = results.map((r) => ({ id: r.job.id, model: r.job.modelName, version: r.job.modelVersion, outcome: outcomeOf(r), attempts: r.job.attempts, lastError: r.job.lastError }));
    await opts.audit(req, 'job.queue', pseudonym(studyInstanceUid), { jobs: jobs.map((j) => ({ id: j.id, outcome: j.outcome })) });
    return reply.code(jobs.some((j) => j.outcome === 'created') ? 202 : 200).send({ jobs, message: describe(jobs) });
  });

  app.get('/v1/jobs', {
    config: { roles: ['admin', 'service'] },
    schema: { tags: ['jobs'], summary: 'List jobs', querystring: js(z.object({ state: z.enum(JOB_STATES).optional(), limit: z.coerce.number().int().min(1).max(10000).optional() })) },
  }, async (req) => {
    const q = req.query as { state?: (typeof JOB_STATES)[number]; limit?: number };
    return { jobs: await store.listJobs(q), counts: await store.jobCounts() };
  });

  app.get('/v1/jobs/:id', {
    config: { roles: ['admin', 'radiologist', 'service'] },
    schema: { tags: ['jobs'], summary: 'One job', params: js(z.object({ id: z.coerce.number().int().min(1) })), response: { 200: js(jobBody), 404: js(errorBody) } },
  }, async (req, reply) => {
    const job = await store.getJob((req.params as { id: number }).id);
    if (!job) return reply.code(404).send({ error: 'no such job', code: 'JOB_NOT_FOUND' });
    return job;
  });

  app.post('/v1/jobs/:id/requeue', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['jobs'],
      summary: 'Queue a failed or done job again with its attempts reset; instances it refused are looked at again, instances it scored are not re-scored. 409 when the job is queued or running',
      params: js(z.object({ id: z.coerce.number().int().min(1) })),
      response: { 200: js(z.object({ job: jobBody })), 404: js(errorBody), 409: js(errorBody) },
    },
  }, async (req, reply) => {
    const id = (req.params as { id: number }).id;
    const r = await store.requeueJobs({ ids: [id] });
    const job = r.requeued[0];
    if (!job) {
      const existing = r.unchanged[0];
      if (!existing) return reply.code(404).send({ error: 'no such job', code: 'JOB_NOT_FOUND' });
      return reply.code(409).send({ error: `job ${id} is ${existing.state === 'leased' ? 'running' : 'already queued'}; nothing to requeue`, code: 'JOB_ACTIVE' });
    }
    await opts.audit(req, 'job.requeue', pseudonym(job.studyUid), { jobs: [job.id] });
    opts.poke?.();
    return { job };
  });

  app.post('/v1/jobs/requeue', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['jobs'],
      summary: 'Bulk requeue: every failed job, or every done job that refused at least one instance (e.g. after the selection or the OOD profile changed)',
      body: js(z.object({ state: z.enum(['failed', 'refused']), limit: z.number().int().min(1).max(100_000).optional() })),
      response: { 200: js(z.object({ requeued: z.number().int(), jobs: z.array(z.object({ id: z.number().int(), model: z.string(), version: z.number().int(), state: z.string(), attempts: z.number().int() })) })) },
    },
  }, async (req) => {
    const b = req.body as { state: 'failed' | 'refused'; limit?: number };
    const r = await store.requeueJobs({ state: b.state, ...(b.limit ? { limit: b.limit } : {}) });
    await opts.audit(req, 'job.requeue', `state:${b.state}`, { jobs: r.requeued.map((j) => j.id) });
    if (r.requeued.length > 0) opts.poke?.();
    return { requeued: r.requeued.length, jobs: r.requeued.map(summary) };
  });
}
