/**
 * Noticing new studies in the PACS and queueing one job per active model version (champion and
 * challenger). Orthanc's change feed is read from a cursor persisted in the store, advanced only
 * after the study was queued, so a crash re-reads at most a few changes — harmless, because queueing
 * is idempotent per (study, model version). QIDO-RS polling is the fallback for PACSes without a
 * change feed; it pages through every study.
 *
 * A study is queued once it is stable: Orthanc's StableStudy event (no new instance for its
 * StableAge), or in polling mode an unchanged instance count for `stableMs`. A study seen again with
 * more instances than its job saw (images that arrived late) sets the job going again; it then
 * scores only the new instances. A job waiting for a study that had not arrived is woken.
 */
import type { Job } from '../store/schema.js';
import type { EnqueueAction, Store } from '../store/store.js';
import { QueueFullError } from '../store/store.js';
import { errorMessage } from '../util/errors.js';
import type { PacsCircuit } from './circuit.js';
import type { OrthancConfig } from './config.js';
import { PacsUnavailableError, type OrthancClient } from './orthanc.js';
import type { ModelRegistry } from './registry.js';

const CURSOR_KEY = 'orthanc.changes.since';

export type WatcherEvent =
  | { type: 'queued'; studyUid: string; jobs: number; reopened: number }
  | { type: 'error'; error: string }
  | { type: 'backpressure'; error: string };

export interface QueueResult {
  job: Job;
  action: EnqueueAction;
}

/** Should a study seen again with `instances` instances set its existing job going again? */
function wantsReopen(job: Job, instances: number | undefined): boolean {
  if (job.state === 'failed') return false; // an admin requeues failed jobs
  if (job.state === 'queued') return true; // wakes a job waiting for its study
  const seen = (job.result as { instancesSeen?: unknown } | null)?.instancesSeen;
  if (instances === undefined || typeof seen !== 'number') return true;
  return instances > seen;
}

export class StudyWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Polling mode: instance count per study, since when it has been unchanged, and the count last queued. */
  private readonly polled = new Map<string, { instances: number; since: number; queued: number }>();

  constructor(
    private readonly store: Store,
    private readonly pacs: OrthancClient,
    private readonly registry: ModelRegistry,
    private readonly cfg: Pick<OrthancConfig, 'watch' | 'pollIntervalMs'> & { maxAttempts: number; maxQueued: number; startFrom?: 'beginning' | 'now'; stableMs?: number; pageSize?: number },
    private readonly onEvent: (e: WatcherEvent) => void = () => {},
    private readonly onQueued: () => void = () => {},
    private readonly circuit?: PacsCircuit,
  ) {}

  start(): void {
    if (this.cfg.watch === 'off') return;
    const tick = async () => {
      if (this.stopped) return;
      this.running = this.pollOnce().catch((e) => this.onEvent({ type: 'error', error: errorMessage(e) }));
      await this.running;
      if (!this.stopped) this.timer = setTimeout(tick, this.cfg.pollIntervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Queue a study for every active model version, or set its existing jobs going again when the study
   * now has more instances than they saw (`instances` undefined: unknown, so always).
   */
  async queueStudy(studyUid: string, instances?: number, active?: readonly { name: string; version: number }[]): Promise<QueueResult[]> {
    const out: QueueResult[] = [];
    for (const m of active ?? (await this.registry.active())) {
      const req = { kind: 'study', studyUid, modelName: m.name, modelVersion: m.version, maxAttempts: this.cfg.maxAttempts, maxQueued: this.cfg.maxQueued };
      let r = await this.store.enqueueJob(req);
      if (!r.created && wantsReopen(r.job, instances)) r = await this.store.enqueueJob({ ...req, reopen: true });
      out.push({ job: r.job, action: r.action });
    }
    const created = out.filter((r) => r.action === 'created').length;
    const reopened = out.filter((r) => r.action === 'reopened' || r.action === 'rerun' || r.action === 'woken').length;
    if (created + reopened > 0) {
      this.onEvent({ type: 'queued', studyUid, jobs: created, reopened });
      this.onQueued();
    }
    return out;
  }

  /** One pass over the feed (or one QIDO search through all pages). */
  async pollOnce(): Promise<void> {
    if (this.circuit?.isOpen) return; // the PACS is down; the circuit probes it
    if ((await this.registry.active()).length === 0) return; // nothing to score with: keep the cursor where it is
    try {
      if (this.cfg.watch === 'qido') {
        await this.pollQido();
        return;
      }
      let since = Number((await this.store.getState(CURSOR_KEY)) ?? NaN);
      if (!Number.isFinite(since)) {
        since = this.cfg.startFrom === 'now' ? await this.lastChange() : 0;
        await this.store.setState(CURSOR_KEY, String(since));
      }
      for (;;) {
        const page = await this.pacs.changes(since, 100);
        for (const c of page.changes) {
          if (c.changeType === 'StableStudy') {
            const uid = await this.pacs.studyUidOf(c.id);
            if (uid) await this.queueStudy(uid, await this.pacs.studyInstanceCount(c.id));
          }
          since = c.seq;
          await this.store.setState(CURSOR_KEY, String(since));
        }
        if (page.changes.length === 0) since = Math.max(since, page.last);
        if (page.done) break;
      }
    } catch (e) {
      if (e instanceof QueueFullError) this.onEvent({ type: 'backpressure', error: e.message });
      else {
        if (e instanceof PacsUnavailableError) await this.circuit?.confirmOutage(e.message);
        throw e;
      }
    }
  }

  private async pollQido(): Promise<void> {
    const now = Date.now();
    const stableMs = this.cfg.stableMs ?? 0;
    const active = await this.registry.active();
    for (const s of await this.pacs.allStudies(this.cfg.pageSize)) {
      const n = Number.isFinite(s.instances) ? s.instances : -1;
      let e = this.polled.get(s.studyUid);
      if (!e || e.instances !== n) {
        e = { instances: n, since: now, queued: e?.queued ?? -2 };
        this.polled.set(s.studyUid, e);
      }
      if (e.queued === e.instances || now - e.since < stableMs) continue; // queued at this count already, or still arriving
      await this.queueStudy(s.studyUid, n >= 0 ? n : undefined, active);
      e.queued = e.instances;
    }
  }

  private async lastChange(): Promise<number> {
    let since = 0;
    for (;;) {
      const page = await this.pacs.changes(since, 1000);
      since = page.last;
      if (page.done) return since;
    }
  }
}
