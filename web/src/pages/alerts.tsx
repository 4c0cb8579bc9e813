import { type FormEvent, useState } from 'react';
import { type AlertChannel, type ApiResponse, api, type Flow } from '../api';
import { ErrorAlert, errorText, useApiList } from '../form';

/** Every kind of alert, with the words the form shows. */
const EVENTS = [
  ['run_failed', 'Run failed'],
  ['flow_auto_paused', 'Flow paused after failures'],
  ['freshness_broken', 'Data older than promised'],
  ['schema_changed', 'New columns'],
  ['records_quarantined', 'Records quarantined'],
  ['credential_failing', 'Ashby refuses a key'],
  ['webhook_events_parked', 'Webhook events parked'],
] as const;
type EventName = (typeof EVENTS)[number][0];

/** The form's fields; secrets start empty and, when editing, stay empty unless replaced. */
interface Draft {
  type: 'webhook' | 'email';
  name: string;
  url: string;
  format: 'json' | 'slack';
  to: string;
  from: string;
  host: string;
  port: string;
  secure: boolean;
  user: string;
  password: string;
  events: EventName[];
}

const EMPTY: Draft = {
  type: 'webhook',
  name: '',
  url: '',
  format: 'slack',
  to: '',
  from: '',
  host: '',
  port: '587',
  secure: false,
  user: '',
  password: '',
  events: [],
};

function draftOf(c: AlertChannel): Draft {
  return {
    ...EMPTY,
    type: c.type,
    name: c.name,
    format: c.format ?? 'json',
    to: (c.to ?? []).join(', '),
    from: c.from ?? '',
    host: c.smtp?.host ?? '',
    port: String(c.smtp?.port ?? 587),
    secure: c.smtp?.secure ?? false,
    user: c.smtp?.user ?? '',
    events: (c.events ?? []) as EventName[],
  };
}

/** The API body of a draft; a secret left empty is left out (kept by the server when editing). */
function bodyOf(d: Draft): Record<string, unknown> {
  const events = d.events.length > 0 ? { events: d.events } : {};
  if (d.type === 'webhook')
    return { type: 'webhook', name: d.name, format: d.format, ...(d.url ? { url: d.url } : {}), ...events };
  return {
    type: 'email',
    name: d.name,
    to: d.to
      .split(/[,\s]+/)
      .map((s) => s.trim())
      .filter(Boolean),
    from: d.from,
    smtp: {
      host: d.host,
      port: Number(d.port),
      secure: d.secure,
      ...(d.user ? { user: d.user } : {}),
      ...(d.password ? { password: d.password } : {}),
    },
    ...events,
  };
}

/** Adds or edits a channel. */
function ChannelForm(props: { editing?: AlertChannel; onDone: () => void; onCancel: () => void }) {
  const [d, setD] = useState<Draft>(props.editing ? draftOf(props.editing) : EMPTY);
  const [error, setError] = useState<string>();
  const set = (patch: Partial<Draft>) => setD((x) => ({ ...x, ...patch }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      if (props.editing) await api('PUT', `/alert-channels/${props.editing.id}`, bodyOf(d));
      else await api('POST', '/alert-channels', bodyOf(d));
      props.onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const editing = props.editing !== undefined;
  return (
    <form onSubmit={submit} aria-labelledby="channel-form-title">
      <h2 id="channel-form-title">{editing ? `Edit channel “${props.editing?.name}”` : 'Add a channel'}</h2>
      <fieldset>
        <legend>Kind</legend>
        {(['webhook', 'email'] as const).map((t) => (
          <label key={t} className="inline">
            <input
              type="radio"
              name="channel-type"
              checked={d.type === t}
              disabled={editing}
              onChange={() => set({ type: t })}
            />{' '}
            {t === 'webhook' ? 'Webhook (Slack, Mattermost, any URL)' : 'Email (SMTP)'}
          </label>
        ))}
      </fieldset>
      <label htmlFor="channel-name">Name *</label>
      <input id="channel-name" required value={d.name} onChange={(e) => set({ name: e.target.value })} />
      {d.type === 'webhook' ? (
        <>
          <label htmlFor="channel-url">
            Webhook URL {editing ? '(leave empty to keep the stored one)' : '*'}
          </label>
          {/* A password field: a Slack webhook URL is its own token, and is never shown again. */}
          <input
            id="channel-url"
            type="password"
            autoComplete="off"
            required={!editing}
            placeholder={editing ? props.editing?.urlPreview : 'https://hooks.slack.com/services/…'}
            value={d.url}
            onChange={(e) => set({ url: e.target.value })}
          />
          <label htmlFor="channel-format">Body</label>
          <select
            id="channel-format"
            value={d.format}
            onChange={(e) => set({ format: e.target.value as Draft['format'] })}
          >
            <option value="slack">Slack-compatible ({'{ text, blocks }'})</option>
            <option value="json">ashpipe JSON</option>
          </select>
        </>
      ) : (
        <>
          <label htmlFor="channel-to">Recipients (separated by commas) *</label>
          <input id="channel-to" required value={d.to} onChange={(e) => set({ to: e.target.value })} />
          <label htmlFor="channel-from">Sender address *</label>
          <input
            id="channel-from"
            type="email"
            required
            value={d.from}
            onChange={(e) => set({ from: e.target.value })}
          />
          <label htmlFor="channel-host">SMTP host *</label>
          <input id="channel-host" required value={d.host} onChange={(e) => set({ host: e.target.value })} />
          <label htmlFor="channel-port">SMTP port *</label>
          <input
            id="channel-port"
            type="number"
            min={1}
            max={65535}
            required
            value={d.port}
            onChange={(e) => set({ port: e.target.value })}
          />
          <label className="inline">
            <input type="checkbox" checked={d.secure} onChange={(e) => set({ secure: e.target.checked })} />{' '}
            TLS from the first byte (port 465)
          </label>
          <label htmlFor="channel-user">SMTP user</label>
          <input
            id="channel-user"
            autoComplete="off"
            value={d.user}
            onChange={(e) => set({ user: e.target.value })}
          />
          <label htmlFor="channel-password">
            SMTP password{' '}
            {editing && props.editing?.smtp?.passwordSet ? '(stored; leave empty to keep it)' : ''}
          </label>
          <input
            id="channel-password"
            type="password"
            autoComplete="new-password"
            value={d.password}
            onChange={(e) => set({ password: e.target.value })}
          />
        </>
      )}
      <fieldset>
        <legend>Events (none ticked: every event)</legend>
        {EVENTS.map(([value, label]) => (
          <label key={value} className="inline">
            <input
              type="checkbox"
              checked={d.events.includes(value)}
              onChange={(e) =>
                set({
                  events: e.target.checked ? [...d.events, value] : d.events.filter((x) => x !== value),
                })
              }
            />{' '}
            {label}
          </label>
        ))}
      </fieldset>
      <button type="submit">{editing ? 'Save channel' : 'Add channel'}</button>{' '}
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
      <ErrorAlert error={error} />
    </form>
  );
}

/** Which channels a flow's alerts go to (`options.alerts.channels`; none ticked: every channel). */
function FlowChannels(props: { channels: AlertChannel[] }) {
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const { items: flows, load } = useApiList('/flows', (r: { flows: Flow[] }) => r.flows, setError);
  // The box shows its new state at once; the flow read back after the save replaces it.
  const [pending, setPending] = useState<Record<string, string[]>>({});
  const pickedOf = (f: Flow) =>
    pending[f.id] ?? (f.config.options as { alerts?: { channels?: string[] } }).alerts?.channels ?? [];
  const toggle = async (flow: Flow, name: string, on: boolean) => {
    setError(undefined);
    setSaved(undefined);
    const options = flow.config.options as Record<string, unknown>;
    const alerts = { ...((options.alerts ?? {}) as Record<string, unknown>) };
    const current = pickedOf(flow);
    const next = on ? [...current, name] : current.filter((n) => n !== name);
    setPending((p) => ({ ...p, [flow.id]: next }));
    if (next.length > 0) alerts.channels = next;
    else delete alerts.channels;
    const { alerts: _old, ...rest } = options;
    try {
      await api('PUT', `/flows/${flow.id}`, {
        ...flow.config,
        options: { ...rest, ...(Object.keys(alerts).length > 0 ? { alerts } : {}) },
      });
      await load();
      setSaved(`Saved the channels of “${flow.name}”.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setPending(({ [flow.id]: _done, ...rest }) => rest);
    }
  };
  return (
    <section aria-labelledby="flow-channels-title">
      <h2 id="flow-channels-title">Channels per flow</h2>
      <p className="muted">
        A flow with no channel ticked alerts every channel. Alerts about a credential go to every channel.
      </p>
      <ErrorAlert error={error} />
      {saved ? <p role="status">{saved}</p> : null}
      <table className="list" aria-label="Channels per flow">
        <thead>
          <tr>
            <th scope="col">Flow</th>
            {props.channels.map((c) => (
              <th key={c.id} scope="col">
                {c.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {flows.map((f) => {
            const picked = pickedOf(f);
            return (
              <tr key={f.id} data-flow={f.name}>
                <td>
                  {f.name}
                  {picked.length === 0 ? <div className="muted">every channel</div> : null}
                </td>
                {props.channels.map((c) => (
                  <td key={c.id}>
                    <input
                      type="checkbox"
                      aria-label={`${f.name} → ${c.name}`}
                      checked={picked.includes(c.name)}
                      onChange={(e) => void toggle(f, c.name, e.target.checked)}
                    />
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/** Notification channels: list, add, edit, delete, send a test message, and pick them per flow. */
export function AlertsPage() {
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [form, setForm] = useState<{ editing?: AlertChannel } | undefined>();
  const { items: channels, load } = useApiList(
    '/alert-channels',
    (r: ApiResponse<'alertChannels'>) => r.channels,
    setError,
  );
  const test = async (c: AlertChannel) => {
    setError(undefined);
    setStatus(`Sending a test message to “${c.name}”…`);
    try {
      const r = await api<ApiResponse<'alertChannelTest'>>('POST', `/alert-channels/${c.id}/test`);
      setStatus(
        r.delivered
          ? `Test message delivered to “${c.name}”.`
          : `Test message to “${c.name}” not delivered: ${r.error ?? 'unknown error'}`,
      );
    } catch (err) {
      setStatus(undefined);
      setError(errorText(err));
    }
  };
  const remove = async (c: AlertChannel) => {
    if (!window.confirm(`Delete the channel "${c.name}"? Its alerts stop.`)) return;
    try {
      await api('DELETE', `/alert-channels/${c.id}`);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">Alerts</h1>
      <p className="muted">
        Where alerts go: one message when an incident starts, one when it ends. Webhook URLs and SMTP
        passwords are stored write-only and never shown again.
      </p>
      <ErrorAlert error={error} />
      {status ? (
        <p role="status" data-testid="channel-status">
          {status}
        </p>
      ) : null}
      <table className="list" aria-label="Notification channels">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Goes to</th>
            <th scope="col">Events</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {channels.map((c) => (
            <tr key={c.id} data-channel={c.name}>
              <td>
                {c.name}{' '}
                {c.source === 'file' ? (
                  <span className="badge readonly" title="From the server's --alert-channels file">
                    from file
                  </span>
                ) : c.managedBy ? (
                  <span className="badge" title="Changed with `ashpipe apply`">
                    from {c.managedBy}
                  </span>
                ) : null}
              </td>
              <td>{c.type === 'webhook' ? `webhook (${c.format})` : 'email'}</td>
              <td>
                {c.type === 'webhook' ? (
                  <code>{c.urlPreview}</code>
                ) : (
                  <>
                    {(c.to ?? []).join(', ')}{' '}
                    <span className="muted">
                      via {c.smtp?.host}:{c.smtp?.port}
                    </span>
                  </>
                )}
              </td>
              <td>{c.events ? c.events.join(', ') : 'all'}</td>
              <td className="nowrap">
                <button type="button" onClick={() => void test(c)}>
                  Send test
                </button>
                {c.source === 'console' ? (
                  <>
                    {' '}
                    <button type="button" onClick={() => setForm({ editing: c })}>
                      Edit
                    </button>{' '}
                    <button type="button" className="danger" onClick={() => void remove(c)}>
                      Delete
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {channels.length === 0 ? <p className="muted">No channel yet: alerts are not sent.</p> : null}
      {form ? (
        <ChannelForm
          key={form.editing?.id ?? 'new'}
          {...(form.editing ? { editing: form.editing } : {})}
          onCancel={() => setForm(undefined)}
          onDone={() => {
            setForm(undefined);
            void load();
          }}
        />
      ) : (
        <button type="button" onClick={() => setForm({})}>
          Add a channel
        </button>
      )}
      {channels.length > 0 ? <FlowChannels channels={channels} /> : null}
    </section>
  );
}
