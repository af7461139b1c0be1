/**
 * Persistence of the service's drift monitors, one record per model version, in the store's
 * key–value state table (so SQLite and PostgreSQL alike): the DriftMonitor state (rolling window,
 * CUSUM sums, alarm episodes, time series) and the id of the last prediction it has seen, so the
 * monitor carries on where it stopped after a restart. Records are schema-checked when read.
 */
import { z } from 'zod';
import { monitorStateSchema, type MonitorState } from '../monitor/monitor.js';
import { InputError } from '../util/errors.js';
import type { Store } from './store.js';

export const monitorRecordSchema = z.object({
  model: z.string(),
  version: z.number().int(),
  /** Highest prediction id already fed to the monitor. */
  lastPredictionId: z.number().int(),
  state: monitorStateSchema,
  updatedAt: z.number(),
});
export type MonitorRecord = z.infer<typeof monitorRecordSchema>;

const key = (model: string, version: number) => `monitor:${model}@${version}`;

/**
 * @example const rec = await loadMonitorRecord(store, 'cxr', 3);
 */
export async function loadMonitorRecord(store: Pick<Store, 'getState'>, model: string, version: number): Promise<MonitorRecord | undefined> {
  const raw = await store.getState(key(model, version));
  if (raw === undefined) return undefined;
  const r = monitorRecordSchema.safeParse(JSON.parse(raw));
  if (!r.success) throw new InputError('MONITOR_STATE_CORRUPT', `stored monitor state of ${model} v${version} is not valid: ${r.error.issues[0]?.message ?? 'schema mismatch'}`);
  return r.data;
}

export async function saveMonitorRecord(store: Pick<Store, 'setState'>, rec: { model: string; version: number; lastPredictionId: number; state: MonitorState }): Promise<void> {
  await store.setState(key(rec.model, rec.version), JSON.stringify({ ...rec, updatedAt: Date.now() }));
}
