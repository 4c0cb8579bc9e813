import { useContext, useEffect, useState } from 'react';
import { type ApiResponse, api, type Credential, type Flow, type Run } from '../api';
import { DefaultServer, isReadOnly } from '../credentials';
import { ErrorAlert } from '../form';

/** "5 min ago", "3 h ago", "2 d ago". */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

const VALIDITY: Record<Credential['status'], string> = {
  verified: 'valid',
  invalid: 'invalid',
  error: 'could not verify',
  unverified: 'not verified',
};

/** What a newcomer does first: a sandbox, a console pointed at it, its key, a flow. */
function FirstSteps(props: { haveCredential: boolean; defaultBaseUrl: string }) {
  return (
    <div className="empty" data-testid="first-steps">
      <h2>Get started</h2>
      <ol>
        <li>
          No Ashby account at hand? Start the sandbox, a simulated Ashby: <code>npx ashpipe sandbox</code> (it
          prints its URL and its API keys, e.g. <code>sandbox-full</code>).
        </li>
        <li>
          Start this console against it: <code>npx ashpipe serve --base-url http://127.0.0.1:4010</code>. New
          credentials are checked against <code>{props.defaultBaseUrl}</code> now.
        </li>
        <li>
          {props.haveCredential ? (
            <>✓ You have a credential.</>
          ) : (
            <>
              <a href="#/credentials">Add a credential</a> with the key (for a real account: Ashby, Admin &gt;
              Integrations &gt; API Keys).
            </>
          )}
        </li>
        <li>
          <a href="#/flows/new">Create a flow</a>: sync Ashby streams into SQLite, PostgreSQL or JSONL, or
          push records from a file into Ashby.
        </li>
      </ol>
    </div>
  );
}

/**
 * A flow's freshness promise (`options.alerts.freshnessMinutes`) at `now`: kept while its last good run
 * finished within the promise (or, before any, while it has been active for less), as the server's
 * check decides it; `undefined` without a promise or while the flow is paused (the server checks only
 * active flows).
 */
export function promiseState(
  flow: Pick<Flow, 'status' | 'config' | 'activatedAt' | 'createdAt'>,
  lastGoodAt: string | null | undefined,
  now = Date.now(),
): { minutes: number; kept: boolean } | undefined {
  const minutes = (flow.config.options as { alerts?: { freshnessMinutes?: number } }).alerts
    ?.freshnessMinutes;
  if (minutes === undefined || flow.status !== 'active') return undefined;
  const since = lastGoodAt ?? flow.activatedAt ?? flow.createdAt;
  return { minutes, kept: now - Date.parse(since) <= minutes * 60_000 };
}

/** "90 min" as "1 h 30 min"; whole hours and days as such. */
function span(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes < 60) return `${minutes} min`;
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The overview: every flow with its status, last and next run, freshness and records; credentials with validity. */
export function Home(props: { credentials: Credential[]; reload: () => void }) {
  const defaultBaseUrl = useContext(DefaultServer);
  const [flows, setFlows] = useState<Flow[]>();
  const [runs, setRuns] = useState<Run[]>([]);
  const [error, setError] = useState<string>();
  const { reload } = props;
  useEffect(() => {
    // The credentials' "used by" changes with the flows: read both afresh.
    reload();
    api<ApiResponse<'flows'>>('GET', '/flows').then(
      (r) => setFlows(r.flows),
      (e: Error) => setError(e.message),
    );
    api<ApiResponse<'runs'>>('GET', '/runs?limit=500').then(
      (r) => setRuns(r.runs),
      () => {},
    );
  }, [reload]);
  const lastGood = (flowId: string) =>
    runs.find(
      (r) => r.flowId === flowId && !r.dryRun && (r.status === 'succeeded' || r.status === 'partial'),
    );
  const lastFinished = (flowId: string) => runs.find((r) => r.flowId === flowId && !r.dryRun && r.finishedAt);
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title">Overview</h1>
      <ErrorAlert error={error} />
      {flows !== undefined && (flows.length === 0 || props.credentials.length === 0) ? (
        <FirstSteps haveCredential={props.credentials.length > 0} defaultBaseUrl={defaultBaseUrl} />
      ) : null}
      <h2>Flows</h2>
      {flows && flows.length > 0 ? (
        <table className="list" aria-label="Flows overview">
          <thead>
            <tr>
              <th scope="col">Flow</th>
              <th scope="col">Status</th>
              <th scope="col">Last run</th>
              <th scope="col">Next run</th>
              <th scope="col">Fresh as of</th>
              <th scope="col">Records</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => {
              const good = lastGood(f.id);
              const finished = lastFinished(f.id);
              const promise = promiseState(f, good?.finishedAt);
              return (
                <tr key={f.id} data-home-flow={f.name}>
                  <td>
                    <a href={`#/flows/${f.id}/edit`}>{f.name}</a>{' '}
                    <span className="muted">{f.kind === 'source' ? 'sync' : 'push'}</span>
                  </td>
                  <td>
                    {/* A run waiting for a fleet worker says so: it is not running yet. */}
                    <span className={`badge ${f.runningRunStatus ?? f.status}`} data-testid="flow-state">
                      {f.runningRunStatus ?? f.status}
                    </span>
                  </td>
                  <td>
                    {f.lastRun ? (
                      <a href={`#/runs/${f.lastRun.id}`}>
                        <span className={`badge ${f.lastRun.status}`}>{f.lastRun.status}</span>{' '}
                        {ago(f.lastRun.startedAt)}
                      </a>
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td>
                    {f.nextRunAt ? (
                      new Date(f.nextRunAt).toLocaleString()
                    ) : (
                      <span className="muted">{f.schedule ? 'paused' : 'manual'}</span>
                    )}
                  </td>
                  <td data-testid="freshness">
                    {good?.finishedAt ? ago(good.finishedAt) : <span className="muted">—</span>}
                    {promise ? (
                      <div className="muted" data-testid="freshness-promise">
                        promise ≤ {span(promise.minutes)}:{' '}
                        <span className={`badge ${promise.kept ? 'succeeded' : 'failed'}`}>
                          {promise.kept ? 'kept' : 'broken'}
                        </span>
                      </div>
                    ) : null}
                  </td>
                  <td data-testid="records">
                    {finished ? (
                      <>
                        read {finished.counts.reduce((n, c) => n + c.read, 0)}, wrote{' '}
                        {finished.counts.reduce((n, c) => n + c.written, 0)}
                      </>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : flows ? (
        <p className="muted">No flows yet.</p>
      ) : null}
      <h2>Credentials</h2>
      {props.credentials.length > 0 ? (
        <table className="list" aria-label="Credentials overview">
          <thead>
            <tr>
              <th scope="col">Credential</th>
              <th scope="col">Validity</th>
              <th scope="col">Server</th>
              <th scope="col">Used by</th>
            </tr>
          </thead>
          <tbody>
            {props.credentials.map((c) => (
              <tr key={c.id} data-home-credential={c.name}>
                <td>
                  <a href="#/credentials">{c.name}</a> <code>{c.maskedKey}</code>
                </td>
                <td>
                  <span className={`badge ${c.status}`}>{VALIDITY[c.status]}</span>{' '}
                  {isReadOnly(c) ? <span className="badge readonly">Read-only</span> : null}{' '}
                  {c.verifiedAt ? <span className="muted">checked {ago(c.verifiedAt)}</span> : null}
                </td>
                <td>
                  <code>{c.baseUrl ?? defaultBaseUrl}</code>
                </td>
                <td>
                  {c.usedBy.length === 0 ? (
                    <span className="muted">no flow</span>
                  ) : (
                    c.usedBy.map((f) => f.name).join(', ')
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">No credentials yet.</p>
      )}
    </section>
  );
}
