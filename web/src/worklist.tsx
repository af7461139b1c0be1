/** The worklist: one row per study × model version, filtered and paged by the service (/v1/worklist). */
import { useEffect, useState } from 'preact/hooks';
import { api, fmtTime, type Me, type Worklist as WL, type WorklistRow } from './api.js';

const PAGE = 50;

function Findings({ row }: { row: WorklistRow }) {
  if (row.findings.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="findings">
      {row.findings.map((f) => (
        <li key={f.finding} class={f.positive ? 'pos' : f.positive === false ? 'neg' : ''}>
          <span class="fname">{f.finding}</span>{' '}
          <span class="score">{f.score.toFixed(3)}</span>
          {f.threshold !== null && <span class="thr"> / {f.threshold.toFixed(3)}</span>}
          {f.positive !== null && <span class="badge">{f.positive ? 'positive' : 'negative'}</span>}
        </li>
      ))}
    </ul>
  );
}

export function Worklist({ me }: { me: Me }) {
  const [q, setQ] = useState('');
  const [state, setState] = useState('');
  const [model, setModel] = useState('');
  const [outcome, setOutcome] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, setData] = useState<WL | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const p = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    if (q.trim()) p.set('q', q.trim());
    if (state) p.set('state', state);
    if (model) p.set('model', model);
    if (outcome) p.set('outcome', outcome);
    let live = true;
    const t = setTimeout(() => {
      api<WL>('GET', `/v1/worklist?${p}`).then((d) => live && (setData(d), setError('')), (e: Error) => live && setError(e.message));
    }, q ? 200 : 0);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [q, state, model, outcome, offset, tick]);

  const requeue = async (row: WorklistRow) => {
    try {
      await api('POST', `/v1/jobs/${row.jobId}/requeue`);
      setNotice(`Job ${row.jobId} queued again.`);
      setTick((t) => t + 1);
    } catch (e) {
      setNotice(`Requeue of job ${row.jobId} failed: ${(e as Error).message}`);
    }
  };
  const filter = (set: (v: string) => void) => (e: Event) => {
    set((e.target as HTMLInputElement).value);
    setOffset(0);
  };
  const total = data?.total ?? 0;
  return (
    <section aria-labelledby="wl-title">
      <h1 id="wl-title">Worklist</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>Search<input type="search" value={q} placeholder="Study UID or model" onInput={filter(setQ)} /></label>
        <label>Job state
          <select value={state} onChange={filter(setState)}>
            <option value="">any</option>
            {['queued', 'leased', 'done', 'failed'].map((s) => <option key={s} value={s}>{s === 'leased' ? 'running' : s}</option>)}
          </select>
        </label>
        <label>Model
          <select value={model} onChange={filter(setModel)}>
            <option value="">any</option>
            {(data?.models ?? []).map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <label>Outcome
          <select value={outcome} onChange={filter(setOutcome)}>
            <option value="">any</option>
            <option value="positive">a positive finding</option>
            <option value="negative">all negative</option>
            <option value="refused">images refused</option>
          </select>
        </label>
      </form>
      {data && <p class="counts" aria-live="polite">Jobs: {Object.entries(data.counts).map(([k, v]) => `${k === 'leased' ? 'running' : k} ${v}`).join(' · ')}</p>}
      {notice && <p class="notice" role="status">{notice}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="table-wrap">
        <table class="worklist">
          <caption class="sr-only">Processed studies, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th><th scope="col">Study</th><th scope="col">Model</th><th scope="col">State</th>
              <th scope="col">Findings (score / threshold)</th><th scope="col">Refused</th><th scope="col">Feedback</th><th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {data?.rows.map((r) => (
              <tr key={`${r.studyUid}/${r.model}/${r.version}`} data-testid="wl-row" data-state={r.state}>
                <td class="nowrap">{fmtTime(r.time)}</td>
                <td class="wl-uid"><a href={`#/study/${encodeURIComponent(r.studyUid)}`}>{r.studyUid}</a></td>
                <td class="nowrap">{r.model} v{r.version}{r.modelStatus && <span class={`status st-${r.modelStatus}`}>{r.modelStatus}</span>}{r.silent && <span class="status">silent</span>}</td>
                <td><span class={`state s-${r.state}`}>{r.state === 'leased' ? 'running' : r.state}</span>{r.lastError && r.state === 'failed' && <div class="small error-text">{r.lastError}</div>}</td>
                <td><Findings row={r} /></td>
                <td>{r.refusals.length === 0 ? <span class="muted">—</span> : (
                  <details><summary>{r.refusals.length} refused</summary><ul class="small">{r.refusals.map((x) => <li key={x.sopUid}>{x.reason}</li>)}</ul></details>
                )}</td>
                <td>{r.feedback || <span class="muted">—</span>}</td>
                <td class="nowrap">
                  {me.role === 'admin' && r.jobId !== null && (r.state === 'failed' || (r.state === 'done' && r.refusals.length > 0)) && (
                    <button type="button" class="small-btn" data-testid="requeue" onClick={() => requeue(r)}>Requeue</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && data.rows.length === 0 && <p class="muted">No studies match.</p>}
      <nav class="pager" aria-label="Worklist pages">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span>{total === 0 ? '0 rows' : `rows ${offset + 1}–${Math.min(total, offset + PAGE)} of ${total.toLocaleString('en')}`}</span>
        <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Next</button>
      </nav>
    </section>
  );
}
