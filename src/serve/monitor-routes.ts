/**
 * Monitoring in the service (a Fastify plugin): every recorded prediction — synchronous, PACS jobs,
 * shadow / challenger — is fed, in prediction-id order, to the drift monitor of its model version
 * (src/monitor), whose state lives in the store (src/store/monitor-tables.ts) and so survives
 * restarts. Feeding is incremental (only predictions after the last id seen) and runs on a timer,
 * on GET /v1/monitor and on each /metrics scrape. New alarms and their acknowledgement go to the
 * audit log; Prometheus gauges give studies seen, open alarms and the label-free estimates.
 *
 * What the service path watches: header fields and scores per class (predictions keep header
 * columns and scores, not pixels or embeddings), so the prediction, prior-shift, performance and
 * categorical header detectors run here; image statistics and embedding drift run in the CLI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { headerFeaturesFromColumns } from '../monitor/headers.js';
import { DriftMonitor } from '../monitor/monitor.js';
import type { Observation } from '../monitor/observation.js';
import { loadReference, REFERENCE_FILE, type ReferenceProfile } from '../monitor/profile.js';
import type { ModelVersion, Prediction } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { loadMonitorRecord, saveMonitorRecord } from '../store/monitor-tables.js';
import { errorMessage, InputError } from '../util/errors.js';
import type { Metrics } from './metrics.js';
import type { ModelRegistry } from './registry.js';

export interface MonitorRoutesOptions {
  store: Store;
  registry: ModelRegistry;
  metrics?: Metrics;
  audit: (req: FastifyRequest, action: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;
  /** Feed interval in ms (default 10 s; 0 = only on request). */
  intervalMs?: number;
  window?: number;
  log?: (line: Record<string, unknown>) => void;
}

interface Watched { model: ModelVersion; profile: ReferenceProfile; monitor: DriftMonitor; lastId: number }

/** Observation of one stored prediction: header columns and scores in the profile's class order. */
export function predictionObservation(p: Prediction, classes: string[]): Observation | null {
  const scores = classes.map((c) => p.scores[c]);
  if (scores.some((s) => typeof s !== 'number' || !Number.isFinite(s))) return null;
  const h = headerFeaturesFromColumns(p.columns);
  return { categorical: h.categorical, numeric: {}, scores: scores as number[], embedding: null, oodRejected: null, labels: null };
}

/** The drift monitors of the service's model versions, fed from the store. */
export class ServiceMonitor {
  private readonly watched = new Map<string, Watched | null>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MonitorRoutesOptions) {}

  private async watch(m: ModelVersion): Promise<Watched | null> {
    const k = `${m.name}@${m.version}`;
    if (this.watched.has(k)) return this.watched.get(k)!;
    const file = join(this.o.registry.modelsDir, m.dir, REFERENCE_FILE);
    let w: Watched | null = null;
    if (existsSync(file)) {
      const profile = loadReference(file);
      if (profile.modelSha256 && profile.modelSha256 !== m.onnxSha256) throw new InputError('MONITOR_REFERENCE_STALE', `${m.name} v${m.version}: its monitoring reference was built for another model.onnx`);
      const rec = await loadMonitorRecord(this.o.store, m.name, m.version);
      const opts = { window: this.o.window ?? 200 };
      const monitor = rec ? DriftMonitor.restore(profile, opts, rec.state) : new DriftMonitor(profile, opts);
      w = { model: m, profile, monitor, lastId: rec?.lastPredictionId ?? 0 };
    }
    this.watched.set(k, w);
    return w;
  }

  /** Feed every prediction recorded since the last call; serialised, so concurrent calls never double-feed. */
  sync(): Promise<void> {
    const run = this.chain.then(() => this.syncNow());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async syncNow(): Promise<void> {
    const models = await this.o.store.listModelVersions();
    for (const m of models) {
      if (m.status === 'retired' && !this.watched.has(`${m.name}@${m.version}`)) continue;
      const w = await this.watch(m);
      if (!w) continue;
      const preds = (await this.o.store.listPredictions({ modelName: m.name, modelVersion: m.version })).filter((p) => p.id > w.lastId);
      if (!preds.length) continue;
      const before = w.monitor.alarms.length;
      for (const p of preds) {
        const obs = predictionObservation(p, w.profile.classes);
        if (obs) w.monitor.push(obs);
        w.lastId = Math.max(w.lastId, p.id);
      }
      for (const a of w.monitor.alarms.slice(before)) {
        await this.o.store.appendAudit({ actor: 'radml-monitor', action: 'monitor.alarm', subject: `model:${m.name}@${m.version}`, details: { detector: a.detector, feature: a.feature, kind: a.kind, index: a.index, statistic: a.statistic, p_value: a.p_value, rule: a.rule, message: a.message } });
      }
      await saveMonitorRecord(this.o.store, { model: m.name, version: m.version, lastPredictionId: w.lastId, state: w.monitor.toJSON() });
    }
  }

  /** Status of every watched model version. */
  async status(): Promise<Watched[]> {
    await this.sync();
    return [...this.watched.values()].filter((w): w is Watched => w !== null);
  }

  async acknowledge(name: string, version: number, index: number, by: string, note?: string) {
    await this.sync();
    const w = this.watched.get(`${name}@${version}`);
    if (!w) throw new InputError('MONITOR_UNKNOWN', `model ${name} v${version} is not monitored (no ${REFERENCE_FILE} in its folder)`);
    if (!w.monitor.alarms[index]) throw new InputError('MONITOR_UNKNOWN', `model ${name} v${version} has no alarm ${index} (it has ${w.monitor.alarms.length})`);
    const a = w.monitor.acknowledge(index, by, note);
    await saveMonitorRecord(this.o.store, { model: name, version, lastPredictionId: w.lastId, state: w.monitor.toJSON() });
    return a;
  }
}

function js(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const latestValue = (w: Watched, detector: string, feature: string): number | null => {
  const ev = w.monitor.series[w.monitor.series.length - 1];
  return ev?.tests.find((t) => t.detector === detector && t.feature === feature)?.statistic ?? null;
};

/**
 * @example await app.register(monitorRoutes, { store, registry, metrics, audit });
 */
export async function monitorRoutes(app: FastifyInstance, opts: MonitorRoutesOptions): Promise<void> {
  const mon = new ServiceMonitor(opts);
  const safeSync = () => mon.sync().catch((e: unknown) => opts.log?.({ msg: 'monitor sync failed', error: errorMessage(e) }));
  const interval = opts.intervalMs ?? 10000;
  if (interval > 0) {
    const timer = setInterval(() => void safeSync(), interval);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  if (opts.metrics) {
    const read = async (f: (w: Watched) => Record<string, number>) => {
      await safeSync();
      const out: Record<string, number> = {};
      for (const w of await mon.status()) Object.assign(out, f(w));
      return out;
    };
    opts.metrics.gauge('radml_monitor_studies', 'Predictions fed to the drift monitor, per model version', () => read((w) => ({ [`${w.model.name}@${w.model.version}`]: w.monitor.count })), 'model');
    opts.metrics.gauge('radml_monitor_open_alarms', 'Drift alarms still open (not ended), per model version', () => read((w) => ({ [`${w.model.name}@${w.model.version}`]: w.monitor.alarms.filter((a) => a.ended === null).length })), 'model');
    opts.metrics.gauge('radml_monitor_estimated_sensitivity', 'Label-free (CBPE) sensitivity estimate of the latest window, per model version and class', () => read((w) => Object.fromEntries(w.profile.classes.map((c) => [`${w.model.name}@${w.model.version}/${c}`, latestValue(w, 'estimated-performance', `sensitivity:${c}`) ?? NaN]).filter(([, v]) => Number.isFinite(v)))), 'model');
    opts.metrics.gauge('radml_monitor_estimated_prevalence', 'Prevalence estimate of the latest window, per model version and class', () => read((w) => {
      const ev = w.monitor.series[w.monitor.series.length - 1];
      return Object.fromEntries(Object.entries(ev?.estimatedPrevalence ?? {}).filter(([, v]) => v !== null).map(([c, v]) => [`${w.model.name}@${w.model.version}/${c}`, v!]));
    }), 'model');
  }

  const alarmBody = z.object({ detector: z.string(), feature: z.string(), kind: z.string(), index: z.number().int(), statistic: z.number(), p_value: z.number().nullable(), message: z.string(), rule: z.string(), ended: z.number().int().nullable(), acknowledged: z.object({ by: z.string(), at: z.string(), note: z.string().optional() }).nullable() });
  app.get('/v1/monitor', {
    config: { roles: ['admin', 'radiologist', 'service'] },
    schema: {
      tags: ['monitor'], summary: 'Drift monitoring per model version: studies seen, alarms (with acknowledgement), latest prevalence estimates, and a time series of every test',
      response: { 200: js(z.object({ models: z.array(z.object({ model: z.string(), version: z.number().int(), studies: z.number().int(), drift_detected: z.boolean(), open_alarms: z.number().int(), alarms: z.array(alarmBody), estimated_prevalence: z.record(z.string(), z.number().nullable()), series: z.array(z.object({ index: z.number().int(), tests: z.array(z.object({ detector: z.string(), feature: z.string(), statistic: z.number(), p_value: z.number().nullable(), rejected: z.boolean() })) })) })) })) },
    },
  }, async () => ({
    models: (await mon.status()).map((w) => ({
      model: w.model.name, version: w.model.version, studies: w.monitor.count,
      drift_detected: w.monitor.alarms.some((a) => a.kind !== 'prior'), open_alarms: w.monitor.alarms.filter((a) => a.ended === null).length,
      alarms: w.monitor.alarms, estimated_prevalence: w.monitor.series[w.monitor.series.length - 1]?.estimatedPrevalence ?? {},
      series: w.monitor.series.slice(-100).map((e) => ({ index: e.index, tests: e.tests.filter((t) => t.p_value !== null).map((t) => ({ detector: t.detector, feature: t.feature, statistic: t.statistic, p_value: t.p_value, rejected: t.rejected })) })),
    })),
  }));

  app.post('/v1/monitor/:name/:version/alarms/:index/ack', {
    config: { roles: ['admin', 'radiologist'] },
    schema: {
      tags: ['monitor'], summary: 'Acknowledge a drift alarm (recorded in the audit log)',
      params: js(z.object({ name: z.string().min(1).max(128), version: z.coerce.number().int().min(1), index: z.coerce.number().int().min(0) })),
      body: js(z.object({ note: z.string().max(1000).optional() }).optional()),
      response: { 200: js(alarmBody) },
    },
  }, async (req) => {
    const p = req.params as { name: string; version: number; index: number };
    const note = (req.body as { note?: string } | undefined)?.note;
    const a = await mon.acknowledge(p.name, Number(p.version), Number(p.index), req.principal?.name ?? 'anonymous', note);
    await opts.audit(req, 'monitor.acknowledge', `model:${p.name}@${p.version}`, { alarm: Number(p.index), detector: a.detector, feature: a.feature, ...(note ? { note } : {}) });
    return a;
  });
}
