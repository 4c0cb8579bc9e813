import { useState } from 'react';
import { api } from '../api';
import { errorText, useApiList } from '../form';

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
  status: string;
}

/** Records the destination engine set aside: the reason, the record as read, replay one or all. */
export function QuarantineView(props: { flowId?: string | undefined }) {
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const query = props.flowId ? `?flowId=${encodeURIComponent(props.flowId)}` : '';
  const { items, load } = useApiList(`/quarantine${query}`, (r: { items: QItem[] }) => r.items, setMessage);
  const replay = async (list: QItem[]) => {
    setBusy(true);
    try {
      const r = await api<{ replayed: number; failed: number }>('POST', '/quarantine/replay', {
        ids: list.map((i) => i.id),
      });
      setMessage(`Replayed ${r.replayed}, still quarantined ${r.failed}.`);
      await load();
    } catch (e) {
      setMessage(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const exportQuery = (format: string) =>
    `/api/v1/quarantine/export?format=${format}${props.flowId ? `&flowId=${encodeURIComponent(props.flowId)}` : ''}`;
  return (
    <section aria-labelledby="q-title">
      <h1 id="q-title">Quarantine</h1>
      <p>
        <a className="button" href={exportQuery('jsonl')}>
          Export (JSON lines)
        </a>{' '}
        <a className="button" href={exportQuery('csv')}>
          Export (CSV)
        </a>{' '}
        {props.flowId && items.length > 0 ? (
          <button type="button" disabled={busy} onClick={() => replay(items)}>
            Replay all of this flow
          </button>
        ) : null}
      </p>
      {message ? <p role="status">{message}</p> : null}
      {items.length === 0 ? <p className="muted">No quarantined records.</p> : null}
      <table className="list" aria-label="Quarantined records">
        <thead>
          <tr>
            <th scope="col">Operation</th>
            <th scope="col">Row</th>
            <th scope="col">Reason</th>
            <th scope="col">Record</th>
            <th scope="col">When</th>
            <th scope="col">Replay</th>
          </tr>
        </thead>
        <tbody>
          {items.map((q) => (
            <tr key={q.id} data-quarantine={q.id}>
              <td>{q.operation}</td>
              <td>{q.row ?? ''}</td>
              <td data-testid="reason">
                {q.fieldPath && !q.errorMessage.startsWith(q.fieldPath) ? (
                  <strong>{q.fieldPath}: </strong>
                ) : null}
                {q.errorMessage} <span className="muted">({q.errorCode})</span>
              </td>
              <td>
                <code>{JSON.stringify(q.record).slice(0, 200)}</code>
              </td>
              <td>{new Date(q.createdAt).toLocaleString()}</td>
              <td>
                <button
                  type="button"
                  disabled={busy || (!q.flowId && !props.flowId)}
                  onClick={() => replay([q])}
                >
                  Replay
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
