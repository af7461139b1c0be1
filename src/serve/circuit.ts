/**
 * The PACS circuit breaker. While the PACS is unreachable there is no point leasing jobs: each would
 * fail on its first request and burn one of its attempts, so a long outage would fail the whole
 * queue. Instead, the first PACS-unavailable error is checked with a probe; if the probe fails too,
 * the circuit opens: workers stop leasing, the job in hand goes back to the queue with its attempt
 * refunded, and the probe is repeated with exponential backoff until the PACS answers again, when
 * the circuit closes and work resumes. A probe that succeeds means the error belonged to the study
 * (or was a blip), and the job is charged an attempt as usual.
 */

export interface CircuitOptions {
  /** First probe after the circuit opens; later ones back off ×2 up to probeMaxMs. */
  probeMinMs: number;
  probeMaxMs: number;
}

export type CircuitEvent =
  | { type: 'open'; reason: string }
  | { type: 'probe-failed'; error: string; nextInMs: number }
  | { type: 'closed'; downMs: number; probes: number };

/**
 * @example
 * const circuit = new PacsCircuit(() => pacs.healthCheck(), { probeMinMs: 1000, probeMaxMs: 30_000 });
 * if (await circuit.confirmOutage('PACS unreachable')) { // hold the job, do not charge it }
 */
export class PacsCircuit {
  private openedAt: number | undefined;
  private checking: Promise<boolean> | undefined;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Probes made while open (for logs and metrics). */
  probes = 0;
  /** Times the circuit opened. */
  opened = 0;

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly opts: CircuitOptions,
    private readonly onEvent: (e: CircuitEvent) => void = () => {},
  ) {}

  get isOpen(): boolean {
    return this.openedAt !== undefined;
  }

  /**
   * After a PACS-unavailable error: is the PACS really down? Concurrent callers share one probe.
   * True opens the circuit (or it was open already).
   */
  async confirmOutage(reason: string): Promise<boolean> {
    if (this.isOpen) return true;
    this.checking ??= this.probe().then(() => false, () => true).finally(() => { this.checking = undefined; });
    const down = await this.checking;
    if (down) this.open(reason);
    return down;
  }

  /** Resolves at once when closed, else when the PACS is back (or the circuit is stopped). */
  whenClosed(): Promise<void> {
    if (!this.isOpen || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private open(reason: string): void {
    if (this.isOpen || this.stopped) return;
    this.openedAt = Date.now();
    this.opened++;
    this.onEvent({ type: 'open', reason });
    this.schedule(this.opts.probeMinMs);
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => void this.probeOnce(delay), delay);
  }

  private async probeOnce(delay: number): Promise<void> {
    if (this.stopped) return;
    this.probes++;
    try {
      await this.probe();
    } catch (e) {
      if (this.stopped) return;
      const next = Math.min(this.opts.probeMaxMs, Math.max(1, delay * 2));
      this.onEvent({ type: 'probe-failed', error: e instanceof Error ? e.message : String(e), nextInMs: next });
      this.schedule(next);
      return;
    }
    const downMs = Date.now() - (this.openedAt ?? Date.now());
    this.openedAt = undefined;
    this.onEvent({ type: 'closed', downMs, probes: this.probes });
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stop probing and release everyone waiting (service shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }
}
