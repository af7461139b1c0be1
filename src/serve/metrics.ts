/**
 * Prometheus text-format metrics (exposition format 0.0.4) without a client library: counters,
 * gauges read at scrape time, and histograms with fixed buckets.
 */
type Labels = Record<string, string>;

function labelText(l: Labels): string {
  const keys = Object.keys(l).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${l[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',') + '}';
}

class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k} ${v}`);
    return out;
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(v: number, labels: Labels = {}): void {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (v <= b) s!.counts[i]!++;
    });
    s.sum += v;
    s.count++;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const inner = k === '' ? '' : k.slice(1, -1) + ',';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${inner}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${inner}le="+Inf"} ${s.count}`, `${this.name}_sum${k} ${s.sum}`, `${this.name}_count${k} ${s.count}`);
    }
    return out;
  }
}

export class Metrics {
  readonly httpRequests = new Counter('radml_http_requests_total', 'HTTP requests by route pattern, method and status.');
  readonly httpDuration = new Histogram('radml_http_request_duration_seconds', 'HTTP request latency by route pattern.', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly predictions = new Counter('radml_predictions_total', 'Images scored, by model, version and path (sync or job) and silent flag.');
  readonly jobs = new Counter('radml_jobs_total', 'Job outcomes by result (done, retry, failed, lost).');
  readonly jobDuration = new Histogram('radml_job_duration_seconds', 'Study job processing time.', [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]);
  readonly skipped = new Counter('radml_instances_skipped_total', 'Instances seen but not scored.');
  readonly authFailures = new Counter('radml_auth_failures_total', 'Requests refused by authentication (401) or role (403).');
  readonly pacsOutages = new Counter('radml_pacs_outages_total', 'Times the PACS circuit breaker opened (PACS unavailable, jobs held).');
  readonly pacsProbes = new Counter('radml_pacs_probes_total', 'PACS health probes made while the circuit was open, by result.');
  private readonly gauges: { name: string; help: string; read: () => Promise<Record<string, number>> | Record<string, number> }[] = [];

  /** A gauge computed at scrape time; `read` returns label-value → number for one label `key`. */
  gauge(name: string, help: string, read: () => Promise<Record<string, number>> | Record<string, number>, key = 'state'): void {
    this.gauges.push({ name, help, read: async () => Object.fromEntries(Object.entries(await read()).map(([k, v]) => [k === '' ? '' : labelText({ [key]: k }), v])) });
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    for (const m of [this.httpRequests, this.httpDuration, this.predictions, this.jobs, this.jobDuration, this.skipped, this.authFailures, this.pacsOutages, this.pacsProbes]) lines.push(...m.render());
    for (const g of this.gauges) {
      lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const [k, v] of Object.entries(await g.read())) lines.push(`${g.name}${k} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}
