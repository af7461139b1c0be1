/**
 * web/ — the radml dashboard, a single-page app (Preact, uPlot) bundled by esbuild into web/dist and
 * served by `radml serve` at `/`. It signs in with a service token (kept in sessionStorage), asks
 * /v1/whoami for the role and shows only what the role may do; the API refuses the rest anyway.
 * Pages (hash routes): #/worklist, #/study/<uid>, #/models, #/monitor.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setToken, token, type Me } from './api.js';
import { Worklist } from './worklist.js';
import { Viewer } from './viewer.js';
import { Models } from './models.js';
import { Monitor } from './monitor.js';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/worklist');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/worklist');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSignedIn, message }: { onSignedIn: (me: Me) => void; message?: string }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(message ?? '');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const me = await api<Me>('GET', '/v1/whoami', undefined, value.trim());
      setToken(value.trim());
      onSignedIn(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not known to this service.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <h1>radml dashboard</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <p class="hint">Paste the token you were given (<code>radml serve --add-token</code>). It is kept for this tab only.</p>
        <button type="submit" disabled={busy}>Sign in</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checked, setChecked] = useState(false);
  const [expired, setExpired] = useState('');
  const hash = useHash();
  useEffect(() => {
    if (!token()) {
      setChecked(true);
      return;
    }
    api<Me>('GET', '/v1/whoami').then(setMe, () => {
      setToken(null);
      setExpired('Your token is no longer accepted; sign in again.');
    }).finally(() => setChecked(true));
  }, []);
  if (!checked) return <main id="main" aria-busy="true"><p>Loading…</p></main>;
  if (!me) return <SignIn onSignedIn={setMe} message={expired} />;
  const signOut = () => {
    setToken(null);
    setMe(null);
  };
  const route = hash.replace(/^#\/?/, '').split('/');
  const page = route[0] || 'worklist';
  const link = (to: string, label: string) => <a href={`#/${to}`} aria-current={page === to || (to === 'worklist' && page === 'study') ? 'page' : undefined}>{label}</a>;
  return (
    <>
      <header class="top">
        <span class="brand">radml</span>
        <nav aria-label="Pages">
          {link('worklist', 'Worklist')}
          {link('models', 'Models')}
          {link('monitor', 'Monitoring')}
        </nav>
        <span class="who" data-testid="who">{me.name} · <strong>{me.role}</strong></span>
        <button type="button" class="link" onClick={signOut}>Sign out</button>
      </header>
      <main id="main">
        {page === 'study' && route[1] ? <Viewer me={me} studyUid={decodeURIComponent(route[1])} /> :
          page === 'models' ? <Models me={me} /> :
          page === 'monitor' ? <Monitor me={me} /> :
          <Worklist me={me} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
