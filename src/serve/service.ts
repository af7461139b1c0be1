/**
 * Assembling the running service: store (SQLite file or PostgreSQL), registry, HTTP app, PACS
 * watcher, PACS circuit breaker and job worker, with a graceful stop (stop listening, stop watching,
 * finish or release running jobs, close the store).
 */
import type { FastifyInstance } from 'fastify';
import { openStore } from '../store/open.js';
import { isPostgresUrl, redactPostgresUrl } from '../store/postgres.js';
import type { JobOutcome, Store } from '../store/store.js';
import type { Job } from '../store/schema.js';
import { errorMessage } from '../util/errors.js';
import { openAuditKey } from '../store/audit-chain.js';
import { buildApp, type RouteInfo } from './app.js';
import { readTokensFile, TokenVerifier, type TokenRecord } from './auth.js';
import type { ServeConfig } from './config.js';
import { Metrics } from './metrics.js';
import { DecodePool } from './decode-pool.js';
import { OrthancClient } from './orthanc.js';
import { processStudyJob } from './processor.js';
import { makePseudonymiser, newPseudonymKey, type Pseudonymiser } from './pseudonym.js';
import { ModelRegistry } from './registry.js';
import { PacsCircuit } from './circuit.js';
import { StudyWatcher, type QueueResult } from './watcher.js';
import { Worker } from './worker.js';

export interface RunningService {
  url: string;
  app: FastifyInstance;
  routes: RouteInfo[];
  store: Store;
  registry: ModelRegistry;
  metrics: Metrics;
  pseudonym: Pseudonymiser;
  worker: Worker | undefined;
  watcher: StudyWatcher | undefined;
  /** PACS circuit breaker (when a PACS is configured). */
  circuit: PacsCircuit | undefined;
  /** Graceful stop; resolves when everything is closed. */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export interface StartOptions {
  /** Structured log lines (JSON-able, no patient identifiers). Default: dropped. */
  log?: (line: Record<string, unknown>) => void;
  /** Token records in addition to the tokens file (the demo's generated tokens). */
  extraTokens?: TokenRecord[];
  /** Do not listen (tests that use app.inject). */
  noListen?: boolean;
}

const PSEUDONYM_KEY = 'log.pseudonym.key';

/**
 * Start the service described by a validated config.
 * @example const svc = await startService(readServeConfig('serve.json'), { log: (l) => console.error(JSON.stringify(l)) });
 */
export async function startService(cfg: ServeConfig, opts: StartOptions = {}): Promise<RunningService> {
  const log = opts.log ?? (() => {});
  const store = await openStore(cfg.store, { synchronous: cfg.storeSync === 'full' ? 'FULL' : 'NORMAL' });
  // The audit chain's HMAC key lives outside the database (audit-chain.ts has the threat model).
  const auditKey = await openAuditKey(cfg.auditKeyFile, await store.auditHead(), (seq) => store.listAuditPage(seq - 1, 1)).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  store.setAuditKey(auditKey);
  let key = await store.getState(PSEUDONYM_KEY);
  if (!key) {
    key = newPseudonymKey();
    await store.setState(PSEUDONYM_KEY, key);
  }
  const pseudonym = makePseudonymiser(key);
  const tokens = new TokenVerifier([...readTokensFile(cfg.tokensFile), ...(opts.extraTokens ?? [])]);
  const registry = new ModelRegistry(store, cfg.modelsDir, cfg.threads);
  const metrics = new Metrics();
  metrics.gauge('radml_jobs', 'Jobs by state.', () => store.jobCounts());
  metrics.gauge('radml_active_models', 'Active model versions by status.', async () => {
    const a = await registry.active();
    return { champion: a.filter((m) => m.status === 'champion').length, challenger: a.filter((m) => m.status === 'challenger').length };
  }, 'status');

  const decodePool = cfg.decodeThreads > 0 ? new DecodePool(cfg.decodeThreads, cfg.decodeQueue, { maxInflatedBytes: cfg.limits.dicomInflatedBytes }) : undefined;
  const pacs = cfg.orthanc ? new OrthancClient(cfg.orthanc) : undefined;
  let worker: Worker | undefined;
  let watcher: StudyWatcher | undefined;
  let circuit: PacsCircuit | undefined;
  let pacsDownSince: number | undefined;
  if (pacs && cfg.orthanc) {
    // The probe touches both Orthanc's REST API and its DICOMweb plugin, the two the jobs use.
    circuit = new PacsCircuit(async () => {
      await pacs.system();
      await pacs.searchStudies(1, 0);
    }, { probeMinMs: cfg.orthanc.probeMinMs, probeMaxMs: cfg.orthanc.probeMaxMs }, (e) => {
      if (e.type === 'open') {
        pacsDownSince = Date.now();
        metrics.pacsOutages.inc();
        log({ msg: 'PACS unavailable: circuit open, jobs held in the queue (no attempts spent)', error: e.reason });
      } else if (e.type === 'probe-failed') {
        metrics.pacsProbes.inc({ result: 'failed' });
        log({ msg: 'PACS still unavailable, next probe', inMs: e.nextInMs, error: e.error });
      } else {
        pacsDownSince = undefined;
        metrics.pacsProbes.inc({ result: 'ok' });
        log({ msg: 'PACS back: circuit closed, jobs resume', downMs: e.downMs, probes: e.probes });
        worker?.poke();
      }
    });
    metrics.gauge('radml_pacs_circuit_open', 'PACS circuit breaker: 1 while the PACS is unavailable and jobs are held.', () => ({ '': circuit?.isOpen ? 1 : 0 }));
    if (cfg.worker.enabled) {
      const processJob = async (job: Job): Promise<JobOutcome> => {
        const outcome = await processStudyJob(job, {
          pacs, registry, store, selection: cfg.selection, silent: cfg.silent, heatmapGrid: cfg.heatmapGrid, pseudonym, notAnalysedReport: cfg.notAnalysedReport,
          heatmapLayout: cfg.heatmapLayout, heatmapMaxFindings: cfg.heatmapMaxFindings, ...(decodePool ? { decodePool } : {}),
        });
        // A run that found nothing new (the study was seen again) is not a prediction: no audit entry.
        if (outcome.predictions.length === 0 && outcome.skipped.length === 0) return outcome;
        return {
          ...outcome,
          audit: {
            actor: `worker:${worker!.owner}`, action: 'predict', subject: pseudonym(job.studyUid),
            details: { jobId: job.id, attempt: job.attempts, model: job.modelName, version: job.modelVersion, result: outcome.result, skipped: outcome.skipped.map((s) => s.reason) },
          },
        };
      };
      worker = new Worker(store, processJob, {
        leaseMs: cfg.worker.leaseMs, concurrency: cfg.worker.concurrency, idleMs: cfg.worker.idleMs,
        baseBackoffMs: cfg.worker.baseBackoffMs, maxBackoffMs: cfg.worker.maxBackoffMs,
        studyRetryMs: cfg.worker.studyRetryMs, studyWaitMaxMs: cfg.worker.studyWaitMaxMs,
      }, (e) => {
        metrics.jobs.inc({ result: e.type });
        const study = pseudonym(e.job.studyUid);
        if (e.type === 'done') {
          metrics.jobDuration.observe(e.ms / 1000);
          metrics.predictions.inc({ model: e.job.modelName, version: String(e.job.modelVersion), path: 'job', silent: String(e.outcome.predictions[0]?.silent ?? cfg.silent) }, e.outcome.predictions.length);
          metrics.skipped.inc({}, e.outcome.skipped.length);
          log({ msg: 'job done', job: e.job.id, study, model: `${e.job.modelName}@${e.job.modelVersion}`, scored: e.outcome.predictions.length, skipped: e.outcome.skipped.length, ms: Math.round(e.ms) });
        } else if (e.type === 'lost') log({ msg: 'job lease lost', job: e.job.id, study });
        else if (e.type === 'held') log({ msg: 'job held until the PACS is back', job: e.job.id, study, attempts: e.job.attempts });
        else if (e.type === 'waiting') log({ msg: 'job waits for its study to arrive', job: e.job.id, study });
        else log({ msg: e.type === 'retry' ? 'job will retry' : 'job failed', job: e.job.id, study, attempts: e.job.attempts, error: e.error });
      }, circuit);
    }
    const w = worker;
    watcher = new StudyWatcher(store, pacs, registry, { ...cfg.orthanc, maxAttempts: cfg.worker.maxAttempts, maxQueued: cfg.maxQueued }, (e) => {
      if (e.type === 'queued') log({ msg: 'study queued', study: pseudonym(e.studyUid), jobs: e.jobs, reopened: e.reopened });
      else log({ msg: e.type === 'backpressure' ? 'queue full, watcher waits' : 'watcher error', error: e.error });
    }, () => w?.poke(), circuit);
  }

  // POST /v1/jobs: a new job, or the existing one as it is (a job waiting for its study is woken).
  const queueStudy = pacs
    ? async (studyUid: string): Promise<QueueResult[]> => {
      const out: QueueResult[] = [];
      for (const m of await registry.active()) {
        const req = { kind: 'study', studyUid, modelName: m.name, modelVersion: m.version, maxAttempts: cfg.worker.maxAttempts, maxQueued: cfg.maxQueued };
        let r = await store.enqueueJob(req);
        if (!r.created && r.job.state === 'queued') r = await store.enqueueJob({ ...req, reopen: true });
        out.push({ job: r.job, action: r.action });
      }
      worker?.poke();
      return out;
    }
    : undefined;

  const ready = async () => {
    const checks: Record<string, string> = {};
    try {
      await store.queueDepth();
      checks.store = 'ok';
    } catch (e) {
      checks.store = errorMessage(e);
    }
    checks.model = (await registry.active().catch(() => [])).length > 0 ? 'ok' : 'no active model';
    if (pacs) {
      if (circuit?.isOpen) checks.pacs = `unavailable for ${Math.round((Date.now() - (pacsDownSince ?? Date.now())) / 1000)} s; jobs are held in the queue`;
      else {
        try {
          await pacs.system();
          checks.pacs = 'ok';
        } catch (e) {
          checks.pacs = errorMessage(e);
        }
      }
    }
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  };

  const { app, routes } = await buildApp({ cfg, store, registry, tokens, metrics, pseudonym, ready, auditKey, ...(queueStudy ? { queueStudy } : {}), ...(worker ? { poke: () => worker!.poke() } : {}), ...(decodePool ? { decodePool } : {}), log });
  let url = '';
  if (!opts.noListen) {
    const addr = await app.listen({ host: cfg.listen.host, port: cfg.listen.port });
    url = addr.replace('[::1]', 'localhost');
  }
  worker?.start();
  watcher?.start();
  log({ msg: 'service started', url, silent: cfg.silent, pacs: Boolean(pacs), tokens: tokens.size, store: isPostgresUrl(cfg.store) ? redactPostgresUrl(cfg.store) : 'sqlite' });

  let stopped: Promise<void> | undefined;
  const stop = (o: { graceMs?: number } = {}): Promise<void> => {
    stopped ??= (async () => {
      await app.close(); // stop taking requests first
      await watcher?.stop();
      circuit?.stop();
      const r = await worker?.stop(o.graceMs ?? 10_000);
      log({ msg: 'service stopped', releasedLeases: r?.released ?? 0 });
      await decodePool?.close();
      await registry.close();
      await store.close();
    })();
    return stopped;
  };
  return { url, app, routes, store, registry, metrics, pseudonym, worker, watcher, circuit, stop };
}
