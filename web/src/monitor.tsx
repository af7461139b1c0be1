/** Monitoring (/v1/monitor): per model version, each drift test's p-value over the windows (uPlot), the alarms and their acknowledgement. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type Me, type MonitorModel } from './api.js';

function Chart({ m, test }: { m: MonitorModel; test: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const xs: number[] = [], ps: (number | null)[] = [], rej: (number | null)[] = [];
    for (const e of m.series) {
      const t = e.tests.find((x) => `${x.detector} · ${x.feature}` === test);
      if (!t || t.p_value === null) continue;
      xs.push(e.index);
      const p = Math.max(t.p_value, 1e-12);
      ps.push(p);
      rej.push(t.rejected ? p : null);
    }
    const width = Math.max(300, el.current.clientWidth);
    const plot = new uPlot({
      width, height: 260, title: `${test}: p-value per window`,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'studies seen (window end)' }, { label: 'p-value (log)', size: 60, values: (_u: uPlot, vals: number[]) => vals.map((v) => (v == null ? '' : v >= 0.001 ? String(v) : v.toExponential(0))) }],
      series: [{ label: 'studies' }, { label: 'p-value', stroke: '#1f5fa8', width: 2 }, { label: 'rejected (multiple-testing rule)', stroke: '#b3261e', points: { show: true, size: 8, fill: '#b3261e' }, paths: () => null }],
    }, [xs, ps, rej], el.current);
    return () => plot.destroy();
  }, [m, test]);
  return <div ref={el} class="chart" data-testid="monitor-chart" />;
}

function ModelPanel({ m, me, onAck }: { m: MonitorModel; me: Me; onAck: () => void }) {
  const tests = useMemo(() => [...new Set(m.series.flatMap((e) => e.tests.filter((t) => t.p_value !== null).map((t) => `${t.detector} · ${t.feature}`)))], [m]);
  const [test, setTest] = useState(tests[0] ?? '');
  const ack = async (index: number) => {
    await api('POST', `/v1/monitor/${encodeURIComponent(m.model)}/${m.version}/alarms/${index}/ack`, {});
    onAck();
  };
  return (
    <article class="card">
      <h2>{m.model} v{m.version}</h2>
      <p>{m.studies} studies monitored · {m.drift_detected ? <strong class="error-text">drift detected</strong> : 'no drift detected'} · {m.open_alarms} open alarm(s)</p>
      <p class="small">Estimated prevalence: {Object.entries(m.estimated_prevalence).map(([c, v]) => `${c} ${v === null ? '–' : v.toFixed(3)}`).join(', ') || '–'}</p>
      {tests.length > 0 ? (<>
        <label>Test <select value={test} onChange={(e) => setTest((e.target as HTMLSelectElement).value)}>{tests.map((t) => <option key={t}>{t}</option>)}</select></label>
        <Chart m={m} test={test} />
      </>) : <p class="muted">No test results yet (the first window is not full).</p>}
      <h3>Alarms</h3>
      {m.alarms.length === 0 ? <p class="muted">None.</p> : (
        <table><thead><tr><th scope="col">Window</th><th scope="col">Test</th><th scope="col">Message</th><th scope="col">Acknowledged</th></tr></thead>
          <tbody>{m.alarms.map((a, i) => (
            <tr key={i}><td>{a.index}</td><td>{a.detector} · {a.feature}</td><td>{a.message}</td>
              <td>{a.acknowledged ? `${a.acknowledged.by}, ${a.acknowledged.at}` : me.role === 'service' ? 'no' : <button type="button" class="small-btn" onClick={() => ack(i)}>Acknowledge</button>}</td></tr>
          ))}</tbody></table>
      )}
    </article>
  );
}

export function Monitor({ me }: { me: Me }) {
  const [data, setData] = useState<MonitorModel[] | null>(null);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => void api<{ models: MonitorModel[] }>('GET', '/v1/monitor').then((r) => setData(r.models), (e: Error) => setError(e.message)), [tick]);
  return (
    <section aria-labelledby="mon-title">
      <h1 id="mon-title">Monitoring</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {data && data.length === 0 && <p class="muted">No model version has a monitoring reference (build one with <code>radml monitor</code>).</p>}
      {data?.map((m) => <ModelPanel key={`${m.model}@${m.version}`} m={m} me={me} onAck={() => setTick((t) => t + 1)} />)}
    </section>
  );
}
