import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { type ApiResponse, api, type Flow, type ParkedEvent, type WebhookStatus } from '../api';
import { ErrorAlert, errorText } from '../form';

/** Milliseconds for people: `850 ms`, `2.4 s`. */
function duration(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : 'never';
}

/**
 * A source flow's webhooks: on or off, the receiving URL, registration in Ashby (or a secret for setting
 * them up by hand, shown once), how the receiver is doing, and the events it gave up on.
 */
export function WebhooksPage(props: { flowId: string }) {
  const { flowId } = props;
  const [flow, setFlow] = useState<Flow>();
  const [status, setStatus] = useState<WebhookStatus>();
  const [parked, setParked] = useState<ParkedEvent[]>([]);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [secret, setSecret] = useState<string>();
  const [busy, setBusy] = useState(false);
  const receivingUrl = `${window.location.origin}${status?.path ?? `/webhooks/ashby/${flowId}`}`;
  const [url, setUrl] = useState('');

  // A timed refresh that started before a change answers with the state before it: only the
  // latest load started may set the page.
  const generation = useRef(0);
  const load = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const [f, s, p] = await Promise.all([
        api<ApiResponse<'flow'>>('GET', `/flows/${flowId}`),
        api<WebhookStatus>('GET', `/flows/${flowId}/webhooks`),
        api<ApiResponse<'parkedEvents'>>('GET', `/flows/${flowId}/webhooks/parked`),
      ]);
      if (mine !== generation.current) return;
      setFlow(f.flow);
      setStatus(s);
      setParked(p.events);
    } catch (e) {
      if (mine === generation.current) setError(errorText(e));
    }
  }, [flowId]);
  useEffect(() => {
    void load();
    // The figures move while events arrive.
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  }, [load]);

  const act = async (fn: () => Promise<string | undefined>) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      const said = await fn();
      await load();
      setNotice(said);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const toggle = () =>
    act(async () => {
      const s = await api<WebhookStatus>('PUT', `/flows/${flowId}/webhooks`, { enabled: !status?.enabled });
      return s.enabled ? 'Webhooks are on.' : 'Webhooks are off: Ashby’s deliveries are refused (410).';
    });
  const install = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const r = await api<ApiResponse<'webhookSecret'>>('POST', `/flows/${flowId}/webhooks/install`, {
        url: url || receivingUrl,
      });
      setSecret(r.secret);
      return `Registered ${r.status.installed.length} webhooks in Ashby.`;
    });
  };
  const uninstall = () =>
    act(async () => {
      const r = await api<ApiResponse<'webhookUninstalled'>>('DELETE', `/flows/${flowId}/webhooks/install`);
      setSecret(undefined);
      return `Deleted ${r.removed.length} webhooks in Ashby.`;
    });
  const newSecret = () =>
    act(async () => {
      const r = await api<ApiResponse<'webhookSecret'>>('POST', `/flows/${flowId}/webhooks/secret`);
      setSecret(r.secret);
      return undefined;
    });
  const retry = (event: ParkedEvent) =>
    act(async () => {
      await api('POST', `/flows/${flowId}/webhooks/parked/${encodeURIComponent(event.actionId)}/retry`);
      return `Event ${event.actionId} is queued again.`;
    });

  const stats = status?.stats;
  return (
    <section aria-labelledby="wh-title">
      <h1 id="wh-title">Webhooks{flow ? ` — ${flow.name}` : ''}</h1>
      <p className="hint">
        Ashby sends each change as it happens; the receiver writes it into the same tables as the sync. The
        next sync still runs and repairs anything a lost event missed.
      </p>
      <ErrorAlert error={error} />
      {notice ? (
        <p className="note" role="status">
          {notice}
        </p>
      ) : null}
      <div className="toolbar">
        <span className={`badge ${status?.enabled ? 'active' : ''}`} data-testid="webhooks-state">
          {status?.enabled ? 'On' : 'Off'}
        </span>
        <button type="button" disabled={busy || !status} onClick={toggle}>
          {status?.enabled ? 'Turn webhooks off' : 'Turn webhooks on'}
        </button>
      </div>

      <h2>Receiving URL</h2>
      <p>
        <code data-testid="receiving-url">{receivingUrl}</code>
      </p>
      <p className="hint">
        Ashby must reach this address: behind a proxy or a tunnel, register the public address that leads
        here.
      </p>

      {secret ? (
        <div className="warning" role="alert" aria-labelledby="wh-secret-title">
          <strong id="wh-secret-title">Secret token — shown this once</strong>
          <pre data-testid="webhook-secret">{secret}</pre>
          <p>
            Paste it into each webhook in Ashby (Admin &gt; Integrations &gt; Webhooks) if you set them up by
            hand. It is kept encrypted in the vault and will not be shown again.
          </p>
          <button type="button" onClick={() => setSecret(undefined)}>
            I have saved it
          </button>
        </div>
      ) : null}

      <h2>Registration in Ashby</h2>
      <p>
        Secret token: {status?.secretStored ? 'stored' : 'none yet'}{' '}
        <button type="button" disabled={busy} onClick={newSecret}>
          New secret for webhooks set up by hand
        </button>
      </p>
      {status && status.installed.length > 0 ? (
        <>
          <table className="list" aria-label="Registered webhooks">
            <thead>
              <tr>
                <th scope="col">Event type</th>
                <th scope="col">URL</th>
                <th scope="col">Registered</th>
              </tr>
            </thead>
            <tbody>
              {status.installed.map((w) => (
                <tr key={w.webhookId}>
                  <td>{w.webhookType}</td>
                  <td>{w.requestUrl}</td>
                  <td className="nowrap">{when(w.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" className="danger" disabled={busy} onClick={uninstall}>
            Delete the webhooks in Ashby
          </button>
        </>
      ) : (
        <form onSubmit={install}>
          <label htmlFor="wh-url">URL Ashby delivers to</label>
          <input
            id="wh-url"
            type="url"
            placeholder={receivingUrl}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <p className="hint">
            One webhook per event type ({status?.eventTypes.length ?? 0} types), all signed with a new secret.
            The flow’s API key needs the “API Keys: Write” permission.
          </p>
          <button type="submit" disabled={busy}>
            Register in Ashby
          </button>
        </form>
      )}

      <h2>Status</h2>
      {stats ? (
        <div className="grid" data-testid="webhook-stats">
          <div className="tile">
            <h3>Last event</h3>
            <p>{when(stats.lastEventAt)}</p>
            <p className="hint">Events today: {stats.eventsToday}</p>
          </div>
          <div className="tile">
            <h3>Lag, event → applied</h3>
            <p>
              p50 {duration(stats.lagP50Ms)} · p95 {duration(stats.lagP95Ms)}
            </p>
            <p className="hint">Over the last 1,000 applied events</p>
          </div>
          <div className="tile">
            <h3>Queue</h3>
            <p>
              Applied {stats.applied} · pending {stats.pending} · parked {stats.parked}
            </p>
            <p className="hint">Not applied by this version: {stats.ignored}</p>
          </div>
          <div className="tile">
            <h3>Last ping received</h3>
            <p data-testid="last-ping">{when(stats.lastPingAt)}</p>
            <p className="hint">Ashby pings a webhook when it is created or edited</p>
          </div>
        </div>
      ) : (
        <p className="muted">Webhooks are off.</p>
      )}

      <h2>Parked events</h2>
      {parked.length === 0 ? (
        <p className="muted">None: every event was applied or is waiting for its turn.</p>
      ) : (
        <table className="list" aria-label="Parked events">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Action</th>
              <th scope="col">Received</th>
              <th scope="col">Attempts</th>
              <th scope="col">Reason</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {parked.map((e) => (
              <tr key={e.actionId} data-event={e.actionId}>
                <td>
                  <code>{e.actionId}</code>
                </td>
                <td>{e.action}</td>
                <td className="nowrap">{when(e.receivedAt)}</td>
                <td>{e.attempts}</td>
                <td>{e.reason ?? '—'}</td>
                <td className="actions">
                  <button type="button" disabled={busy} onClick={() => retry(e)}>
                    Retry
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
