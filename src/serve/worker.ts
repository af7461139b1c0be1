/**
 * The job loop: lease a job, keep the lease alive while working, record the outcome, and on stop()
 * finish what is running within a grace period and hand back every lease still held. A worker that
 * dies without stop() loses nothing: its leases expire and another worker takes the jobs over.
 *
 * What a failure costs depends on whose fault it is:
 * - the PACS is down (PacsUnavailableError and the circuit's probe fails too): the job goes back to
 *   the queue with its attempt refunded and no one leases until the PACS answers again;
 * - the study is not in the PACS yet (StudyNotArrivedError): the job waits and looks again, attempt
 *   refunded, until `studyWaitMaxMs` after it was queued;
 * - the study itself is bad (PermanentJobError, InputError, UnsupportedError, a 4xx): failed at once;
 * - anything else (a PACS error while the PACS is healthy, an unexpected error): an attempt is spent
 *   and the job retries with exponential backoff.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job } from '../store/schema.js';
import type { JobOutcome, Store } from '../store/store.js';
import { errorMessage, InputError, UnsupportedError } from '../util/errors.js';
import type { PacsCircuit } from './circuit.js';
import { PacsError, PacsUnavailableError } from './orthanc.js';
import { PermanentJobError, StudyNotArrivedError } from './processor.js';

export interface WorkerOptions {
  owner?: string;
  leaseMs: number;
  concurrency: number;
  idleMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A job whose study is not in the PACS yet looks again after this long … */
  studyRetryMs?: number;
  /** … and fails when the study has still not arrived this long after the job was queued. */
  studyWaitMaxMs?: number;
}

export type WorkerEvent =
  | { type: 'done'; job: Job; outcome: JobOutcome; ms: number }
  | { type: 'lost'; job: Job }
  | { type: 'held' | 'waiting'; job: Job; error: string }
  | { type: 'retry' | 'failed'; job: Job; error: string };

function retryable(e: unknown): boolean {
  if (e instanceof StudyNotArrivedError) return false;
  if (e instanceof PacsError) return e.retryable;
  if (e instanceof PermanentJobError || e instanceof InputError || e instanceof UnsupportedError) return false;
  return true; // unknown errors: give them the retry budget
}

export class Worker {
  readonly owner: string;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  private loops: Promise<void>[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly processJob: (job: Job) => Promise<JobOutcome>,
    private readonly opts: WorkerOptions,
    private readonly onEvent: (e: WorkerEvent) => void = () => {},
    /** PACS circuit breaker; without one, PACS-unavailable errors are retried like any other. */
    private readonly circuit?: PacsCircuit,
  ) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop());
  }

  /** Wake idle loops (a job was just queued). */
  poke(): void {
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const prev = this.wake;
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        prev?.();
        done();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.circuit?.isOpen) {
        await this.circuit.whenClosed(); // the PACS is down: leave the queue alone
        if (this.circuit.isOpen) await this.sleep(this.opts.idleMs); // circuit stopped while open: do not spin
        continue;
      }
      let job: Job | undefined;
      try {
        job = await this.store.leaseJob(this.owner, this.opts.leaseMs);
      } catch {
        job = undefined; // database busy: try again shortly
      }
      if (!job) {
        await this.sleep(this.opts.idleMs);
        continue;
      }
      const p = this.runOne(job);
      this.running.add(p);
      await p;
      this.running.delete(p);
    }
  }

  private async runOne(job: Job): Promise<void> {
    const t0 = performance.now();
    const renew = setInterval(() => {
      void this.store.renewLease(job.id, this.owner, this.opts.leaseMs).catch(() => false);
    }, Math.max(50, Math.floor(this.opts.leaseMs / 3)));
    try {
      const outcome = await this.processJob(job);
      const ok = await this.store.completeJob(job.id, this.owner, outcome);
      this.onEvent(ok ? { type: 'done', job, outcome, ms: performance.now() - t0 } : { type: 'lost', job });
    } catch (e) {
      const error = errorMessage(e);
      if (e instanceof PacsUnavailableError && this.circuit && (await this.circuit.confirmOutage(error))) {
        const held = await this.store.postponeJob(job.id, this.owner, { delayMs: 0, reason: `held while the PACS is unavailable: ${error}`, refundAttempt: true }).catch(() => undefined);
        this.onEvent(held ? { type: 'held', job: held, error } : { type: 'lost', job });
        return;
      }
      if (e instanceof StudyNotArrivedError && Date.now() - job.queuedAt < (this.opts.studyWaitMaxMs ?? 24 * 3_600_000)) {
        const waiting = await this.store.postponeJob(job.id, this.owner, { delayMs: this.opts.studyRetryMs ?? 30_000, reason: error, refundAttempt: true }).catch(() => undefined);
        this.onEvent(waiting ? { type: 'waiting', job: waiting, error } : { type: 'lost', job });
        return;
      }
      const why = e instanceof StudyNotArrivedError ? `${error}; gave up waiting after ${Math.round((this.opts.studyWaitMaxMs ?? 0) / 1000)} s (requeue the job once the study is in the PACS)` : error;
      const after = await this.store.failJob(job.id, this.owner, why, { retryable: retryable(e), baseBackoffMs: this.opts.baseBackoffMs, maxBackoffMs: this.opts.maxBackoffMs }).catch(() => undefined);
      if (after) this.onEvent({ type: after.state === 'queued' ? 'retry' : 'failed', job: after, error: why });
      else this.onEvent({ type: 'lost', job });
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Stop taking work; wait up to `graceMs` for running jobs, then release the leases still held
   * (their jobs go back to the queue without using up an attempt).
   */
  async stop(graceMs = 10_000): Promise<{ released: number }> {
    this.stopping = true;
    this.wake?.();
    this.circuit?.stop();
    const all = Promise.all([...this.running]);
    await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    const released = await this.store.releaseLeases(this.owner);
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, 50).unref())]);
    return { released };
  }

  get busy(): number {
    return this.running.size;
  }
}
