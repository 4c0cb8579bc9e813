import { type FormEvent, lazy, StrictMode, Suspense, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { type ApiResponse, ASHBY_API, api, type Credential, type CredentialList, setCsrf } from './api';
import { CredentialGrid, DefaultServer } from './credentials';
import { AlertsPage } from './pages/alerts';
import { DataPreview } from './pages/data';
import { FlowsList } from './pages/flows';
import { Home } from './pages/home';
import { QuarantineView } from './pages/quarantine';
import { RunDetail } from './pages/run';
import { TokensPage } from './pages/tokens';
import { WebhooksPage } from './pages/webhooks';
import { FlowEditor, FlowWizard } from './pages/wizard';
import './styles.css';

// The Insights page brings the chart library (recharts, about 450 kB): loaded when the page is opened,
// so every other page stays as small as before.
const InsightsPage = lazy(() => import('./pages/insights').then((m) => ({ default: m.InsightsPage })));
// Run health charts with recharts too: loaded the same way.
const HealthPage = lazy(() => import('./pages/health').then((m) => ({ default: m.HealthPage })));

type SessionState = ApiResponse<'session'>;

function useHash(): [string, (h: string) => void] {
  const [hash, setHash] = useState(window.location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return [
    hash,
    (h) => {
      window.location.hash = h;
    },
  ];
}

function Login(props: { setup: boolean; onDone: (csrf: string) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<ApiResponse<'loggedIn'>>('POST', props.setup ? '/session/setup' : '/session', {
        password,
      });
      props.onDone(r.csrfToken);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <main className="login">
      <h1>ashpipe</h1>
      <form onSubmit={submit}>
        <h2>{props.setup ? 'Set the admin password' : 'Log in'}</h2>
        <label htmlFor="password">
          {props.setup ? 'New admin password (at least 10 characters)' : 'Admin password'}
        </label>
        <input
          id="password"
          type="password"
          autoComplete={props.setup ? 'new-password' : 'current-password'}
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit">{props.setup ? 'Set password' : 'Log in'}</button>
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<SessionState>();
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [defaultBaseUrl, setDefaultBaseUrl] = useState(ASHBY_API);
  const [hash, go] = useHash();
  const reload = useCallback(() => {
    api<CredentialList>('GET', '/credentials').then(
      (r) => {
        setCredentials(r.credentials);
        setDefaultBaseUrl(r.defaultBaseUrl);
      },
      () => {},
    );
  }, []);
  useEffect(() => {
    api<SessionState>('GET', '/session').then((s) => {
      setCsrf(s.csrfToken);
      setSession(s);
    });
  }, []);
  useEffect(() => {
    if (session?.authenticated) reload();
  }, [session, reload]);
  if (!session) return <p>Loading…</p>;
  if (!session.authenticated) {
    return (
      <Login
        setup={session.setupRequired}
        onDone={(csrf) => {
          setCsrf(csrf);
          setSession({ setupRequired: false, authenticated: true, csrfToken: csrf });
        }}
      />
    );
  }
  const [route, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query ?? '');
  let page: React.ReactNode;
  if (route === '/flows/new')
    page = <FlowWizard credentials={credentials} reload={reload} onDone={() => go('#/flows')} />;
  else if (route?.startsWith('/flows/') && route.endsWith('/edit'))
    page = (
      <FlowEditor
        flowId={route.slice('/flows/'.length, -'/edit'.length)}
        credentials={credentials}
        reload={reload}
        onDone={() => go('#/flows')}
      />
    );
  else if (route?.startsWith('/flows/') && route.endsWith('/webhooks'))
    page = <WebhooksPage flowId={route.slice('/flows/'.length, -'/webhooks'.length)} />;
  else if (route?.startsWith('/flows/') && route.endsWith('/insights'))
    page = (
      <Suspense fallback={<p className="muted">Loading…</p>}>
        {/* Keyed by flow: another flow's Insights starts from nothing, not from this one's state. */}
        <InsightsPage key={route} flowId={route.slice('/flows/'.length, -'/insights'.length)} />
      </Suspense>
    );
  else if (route?.startsWith('/flows/') && route.endsWith('/health'))
    page = (
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <HealthPage key={route} flowId={route.slice('/flows/'.length, -'/health'.length)} />
      </Suspense>
    );
  else if (route === '/flows') page = <FlowsList open={go} />;
  else if (route?.startsWith('/runs/')) page = <RunDetail runId={route.slice('/runs/'.length)} />;
  else if (route === '/data') page = <DataPreview flowId={params.get('flowId') ?? undefined} />;
  else if (route === '/quarantine') page = <QuarantineView flowId={params.get('flowId') ?? undefined} />;
  else if (route === '/tokens') page = <TokensPage />;
  else if (route === '/alerts') page = <AlertsPage />;
  else if (route === '/credentials')
    page = (
      <section aria-labelledby="cred-title">
        <h1 id="cred-title">Credentials</h1>
        <CredentialGrid credentials={credentials} reload={reload} />
      </section>
    );
  else page = <Home credentials={credentials} reload={reload} />;
  const logout = async () => {
    await api('DELETE', '/session');
    setCsrf(undefined);
    setSession({ setupRequired: false, authenticated: false });
  };
  const nav = [
    ['#/', 'Overview'],
    ['#/credentials', 'Credentials'],
    ['#/flows', 'Flows'],
    ['#/data', 'Data'],
    ['#/quarantine', 'Quarantine'],
    ['#/alerts', 'Alerts'],
    ['#/tokens', 'API tokens'],
  ] as const;
  return (
    <DefaultServer.Provider value={defaultBaseUrl}>
      <header>
        <strong>ashpipe</strong>
        <nav aria-label="Main">
          {nav.map(([href, label]) => (
            <a
              key={href}
              href={href}
              aria-current={
                (href === '#/' ? hash === '#/' || hash === '' : hash.startsWith(href)) ? 'page' : undefined
              }
            >
              {label}
            </a>
          ))}
        </nav>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main>{page}</main>
    </DefaultServer.Provider>
  );
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
