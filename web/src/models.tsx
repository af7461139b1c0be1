/** The model registry: every version with its status and model card; admins activate and retire. */
import { useEffect, useState } from 'preact/hooks';
import { api, fmtTime, type Me, type ModelCard, type ModelVersion } from './api.js';

const ACTIONS: { status: string; label: string }[] = [
  { status: 'champion', label: 'Make champion' }, { status: 'challenger', label: 'Make challenger' },
  { status: 'registered', label: 'Deactivate' }, { status: 'retired', label: 'Retire' },
];

function Card({ name, version }: { name: string; version: number }) {
  const [card, setCard] = useState<ModelCard | null>(null);
  const [error, setError] = useState('');
  useEffect(() => void api<ModelCard>('GET', `/v1/models/${encodeURIComponent(name)}/${version}`).then(setCard, (e: Error) => setError(e.message)), [name, version]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!card) return <p aria-busy="true">Loading the model card…</p>;
  const meta = card.meta as { classes?: string[]; preprocessing?: unknown; labelKind?: string; architecture?: unknown; validation?: unknown; training?: unknown };
  return (
    <div class="card" data-testid="model-card">
      <h3>{name} v{version}</h3>
      <dl>
        <dt>Findings</dt><dd>{(meta.classes ?? []).join(', ')} ({meta.labelKind})</dd>
        <dt>Operating point</dt><dd>{Object.entries(card.operatingPoint.thresholds).map(([c, t]) => `${c} ≥ ${t}`).join(', ') || 'none'}{card.operatingPoint.rule && ` (${card.operatingPoint.rule})`}</dd>
        <dt>Preprocessing</dt><dd><code>{JSON.stringify(meta.preprocessing)}</code></dd>
        <dt>Architecture</dt><dd><code>{JSON.stringify(meta.architecture)}</code></dd>
        <dt>ONNX SHA-256</dt><dd><code>{card.model.onnxSha256}</code></dd>
      </dl>
      {meta.validation != null && <details><summary>Validation</summary><pre>{JSON.stringify(meta.validation, null, 2)}</pre></details>}
      {card.card ? <details open><summary>Model card</summary><pre class="card-text">{card.card}</pre></details> : <p class="muted small">No model card file in the model folder.</p>}
    </div>
  );
}

export function Models({ me }: { me: Me }) {
  const [models, setModels] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState('');
  const [open, setOpen] = useState('');
  const [notice, setNotice] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => void api<{ models: ModelVersion[] }>('GET', '/v1/models').then((r) => setModels(r.models), (e: Error) => setError(e.message)), [tick]);
  const setStatus = async (m: ModelVersion, status: string) => {
    if (status === 'retired' && !confirm(`Retire ${m.name} v${m.version}? It stops scoring studies.`)) return;
    try {
      await api('POST', `/v1/models/${encodeURIComponent(m.name)}/${m.version}/status`, { status });
      setNotice(`${m.name} v${m.version} is now ${status}.`);
      setTick((t) => t + 1);
    } catch (e) {
      setNotice(`Not changed: ${(e as Error).message}`);
    }
  };
  return (
    <section aria-labelledby="m-title">
      <h1 id="m-title">Models</h1>
      {notice && <p class="notice" role="status">{notice}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="table-wrap">
        <table>
          <thead><tr><th scope="col">Model</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Findings</th><th scope="col">Registered</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {models?.map((m) => (
              <tr key={`${m.name}@${m.version}`} data-testid="model-row">
                <td>{m.name}</td><td>v{m.version}</td><td><span class={`status st-${m.status}`}>{m.status}</span></td>
                <td>{m.classes.join(', ')}</td><td class="nowrap">{fmtTime(m.createdAt)} by {m.createdBy}</td>
                <td class="actions">
                  <button type="button" class="small-btn" aria-expanded={open === `${m.name}@${m.version}`} onClick={() => setOpen(open === `${m.name}@${m.version}` ? '' : `${m.name}@${m.version}`)}>Card</button>
                  {me.role === 'admin' && ACTIONS.filter((a) => a.status !== m.status).map((a) => (
                    <button type="button" class="small-btn" data-testid={`set-${a.status}`} key={a.status} onClick={() => setStatus(m, a.status)}>{a.label}</button>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && <Card name={open.slice(0, open.lastIndexOf('@'))} version={Number(open.slice(open.lastIndexOf('@') + 1))} />}
    </section>
  );
}
