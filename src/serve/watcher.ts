/**
 * Noticing new studies in the PACS and queueing one job per active model version (champion and
 * challenger). Orthanc's change feed is read from a cursor persisted in the store, advanced only
 * after the study was queued, so a crash re-reads at most a few changes — harmless, because queueing
 * is idempotent per (study, model version). QIDO-RS polling is the fallback for PACSes without a
 * change feed.
 */
import type { Store } from '../store/store.js';
import { QueueFullError } from '../store/store.js';
import { errorMessage } from '../util/errors.js';
import type { OrthancConfig } from './config.js';
import type { OrthancClient } from './orthanc.js';
import type { ModelRegistry } from './registry.js';

const CURSOR_KEY = 'orthanc.changes.since';

export type WatcherEvent =
  | { type: 'queued'; studyUid: string; jobs: number }
  | { type: 'error'; error: string }
  | { type: 'backpressure'; error: string };

export class StudyWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly pacs: OrthancClient,
    private readonly registry: ModelRegistry,
    private readonly cfg: Pick<OrthancConfig, 'watch' | 'pollIntervalMs'> & { maxAttempts: number; maxQueued: number; startFrom?: 'beginning' | 'now' },
    private readonly onEvent: (e: WatcherEvent) => void = () => {},
    private readonly onQueued: () => void = () => {},
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

  /** Queue a study for every active model version; returns how many jobs were new. */
  async queueStudy(studyUid: string): Promise<number> {
    let created = 0;
    for (const m of await this.registry.active()) {
      const r = await this.store.enqueueJob({ kind: 'study', studyUid, modelName: m.name, modelVersion: m.version, maxAttempts: this.cfg.maxAttempts, maxQueued: this.cfg.maxQueued });
      if (r.created) created++;
    }
    if (created > 0) {
      this.onEvent({ type: 'queued', studyUid, jobs: created });
      this.onQueued();
    }
    return created;
  }

  /** One pass over the feed (or one QIDO search). */
  async pollOnce(): Promise<void> {
    if ((await this.registry.active()).length === 0) return; // nothing to score with: keep the cursor where it is
    try {
      if (this.cfg.watch === 'qido') {
        for (const uid of await this.pacs.searchStudies()) await this.queueStudy(uid);
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
            if (uid) await this.queueStudy(uid);
          }
          since = c.seq;
          await this.store.setState(CURSOR_KEY, String(since));
        }
        if (page.changes.length === 0) since = Math.max(since, page.last);
        if (page.done) break;
      }
    } catch (e) {
      if (e instanceof QueueFullError) this.onEvent({ type: 'backpressure', error: e.message });
      else throw e;
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
