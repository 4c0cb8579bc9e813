import { useState } from 'react';
import { api, type Flow } from '../api';
import { errorText, useApiList } from '../form';
import { Cell } from '../ui/record-table';

interface QItem {
  id: string;
  flowId?: string;
  runId?: string;
  operation: string;
  row?: number;
  fieldPath?: string;
  record: unknown;
  errorCode: string;
  errorMessage: string;
  createdAt: string;
  status: 'open' | 'replayed' | 'resolved' | 'dismissed';
}

const STATUSES = ['open', 'replayed', 'resolved', 'dismissed', 'all'] as const;

/**
 * Records the destination engine set aside: the reason, the record as read; replay one or all, resolve
 * (fixed some other way) or dismiss (not to be pushed). Entries the CLI made name no flow: they replay
 * with the key of a flow chosen here.
 */
export function QuarantineView(props: { flowId?: string | undefined }) {
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('open');
  const [replayFlow, setReplayFlow] = useState(props.flowId ?? '');
  const params = new URLSearchParams({ status, ...(props.flowId ? { flowId: props.flowId } : {}) });
  const { items, load } = useApiList(`/quarantine?${params}`, (r: { items: QItem[] }) => r.items, setMessage);
  const { items: flows } = useApiList('/flows', (r: { flows: Flow[] }) => r.flows, setMessage);
  const destinations = flows.filter((f) => f.kind === 'destination');
  const act = async (fn: () => Promise<string>) => {
    setBusy(true);
    try {
      setMessage(await fn());
      await load();
    } catch (e) {
      setMessage(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const replay = (list: QItem[]) =>
    act(async () => {
      const r = await api<{ replayed: number; failed: number }>('POST', '/quarantine/replay', {
        ids: list.map((i) => i.id),
        ...(list.some((i) => !i.flowId) && replayFlow ? { flowId: replayFlow } : {}),
      });
      return `Replayed ${r.replayed}, still quarantined ${r.failed}.`;
    });
  const close = (q: QItem, action: 'resolve' | 'dismiss') =>
    act(async () => {
      await api('POST', `/quarantine/${q.id}/${action}`);
      return `Entry ${q.id} ${action === 'resolve' ? 'resolved' : 'dismissed'}.`;
    });
  const exportQuery = (format: string) => `/api/v1/quarantine/export?format=${format}&${params}`;
  const open = items.filter((q) => q.status === 'open');
  return (
    <section aria-labelledby="q-title">
      <h1 id="q-title">Quarantine</h1>
      <div className="toolbar">
        <label htmlFor="q-status">Status</label>
        <select
          id="q-status"
          value={status}
          onChange={(e) => setStatus(e.target.value as (typeof STATUSES)[number])}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        {props.flowId ? null : (
          <>
            <label htmlFor="q-flow">Replay entries made by the CLI with the key of</label>
            <select id="q-flow" value={replayFlow} onChange={(e) => setReplayFlow(e.target.value)}>
              <option value="">(choose a destination flow)</option>
              {destinations.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </select>
          </>
        )}
        <a className="button" href={exportQuery('jsonl')}>
          Export (JSON lines)
        </a>
        <a className="button" href={exportQuery('csv')}>
          Export (CSV)
        </a>
        {props.flowId && open.length > 0 ? (
          <button type="button" disabled={busy} onClick={() => void replay(open)}>
            Replay all of this flow
          </button>
        ) : null}
      </div>
      {message ? <p role="status">{message}</p> : null}
      {items.length === 0 ? (
        <p className="muted">No {status === 'all' ? '' : `${status} `}quarantined records.</p>
      ) : null}
      <table className="list" aria-label="Quarantined records">
        <thead>
          <tr>
            <th scope="col">Operation</th>
            <th scope="col">Row</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Record</th>
            <th scope="col">When</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((q) => {
            const noKey = !q.flowId && !props.flowId && !replayFlow;
            return (
              <tr key={q.id} data-quarantine={q.id}>
                <td className="nowrap">{q.operation}</td>
                <td>{q.row ?? ''}</td>
                <td>
                  <span
                    className={`badge ${q.status === 'open' ? 'error' : q.status === 'dismissed' ? 'partial' : 'succeeded'}`}
                  >
                    {q.status}
                  </span>
                </td>
                <td data-testid="reason">
                  {q.fieldPath && !q.errorMessage.startsWith(q.fieldPath) ? (
                    <strong>{q.fieldPath}: </strong>
                  ) : null}
                  {q.errorMessage} <span className="muted">({q.errorCode})</span>
                </td>
                <td>
                  <Cell value={q.record} />
                </td>
                <td className="nowrap">{new Date(q.createdAt).toLocaleString()}</td>
                <td className="actions">
                  {q.status === 'open' ? (
                    <>
                      <button
                        type="button"
                        disabled={busy || noKey}
                        title={
                          noKey
                            ? 'Made by the CLI, so it names no flow: choose above the flow whose key replays it'
                            : 'Send the record again'
                        }
                        onClick={() => void replay([q])}
                      >
                        Replay
                      </button>
                      <button type="button" disabled={busy} onClick={() => void close(q, 'resolve')}>
                        Resolve
                      </button>
                      <button type="button" disabled={busy} onClick={() => void close(q, 'dismiss')}>
                        Dismiss
                      </button>
                    </>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
