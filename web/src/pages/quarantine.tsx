import { Fragment, useState } from 'react';
import { type ApiResponse, api, type Flow, type QuarantineItem } from '../api';
import { errorText, useApiList } from '../form';
import { Cell } from '../ui/record-table';

const STATUSES = ['open', 'replayed', 'resolved', 'dismissed', 'all'] as const;

type RecordCheck = ApiResponse<'recordCheck'>;

/** A record's fields as editable text: strings as they are, anything else as JSON. */
function toFields(record: Record<string, unknown>): Array<[string, string, boolean]> {
  return Object.entries(record).map(([k, v]) => [
    k,
    typeof v === 'string' ? v : JSON.stringify(v),
    typeof v !== 'string',
  ]);
}

/** The edited fields back into a record; a JSON field that no longer parses is kept as typed. */
function fromFields(fields: ReadonlyArray<[string, string, boolean]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, text, json] of fields) {
    if (!json) out[k] = text;
    else
      try {
        out[k] = JSON.parse(text) as unknown;
      } catch {
        out[k] = text;
      }
  }
  return out;
}

/**
 * One entry's record, field by field, checked against its operation (as a replay would prepare it) and
 * replayed as edited; the entry keeps the record as it was read.
 */
function RecordEditor(props: {
  item: QuarantineItem;
  busy: boolean;
  /** Why the record cannot be replayed from here, if it cannot. */
  blocked: string | undefined;
  onReplay: (record: Record<string, unknown>) => void;
  onClose: () => void;
}) {
  const { item } = props;
  const record = item.record;
  const [fields, setFields] = useState(() =>
    record !== null && typeof record === 'object' && !Array.isArray(record)
      ? toFields(record as Record<string, unknown>)
      : [],
  );
  const [check, setCheck] = useState<RecordCheck>();
  const [error, setError] = useState<string>();
  if (fields.length === 0)
    return (
      <p className="muted">
        {item.recordClearedAt !== undefined
          ? 'This row was cleared at the end of the quarantine retention: push the record again from its source.'
          : 'This row was not a record: fix it in the source and push it again.'}
      </p>
    );
  const runCheck = async () => {
    setError(undefined);
    try {
      setCheck(
        await api<RecordCheck>('POST', `/quarantine/${item.id}/check`, { record: fromFields(fields) }),
      );
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <form
      className="record-editor"
      aria-label={`Edit entry ${item.id}`}
      onSubmit={(e) => {
        e.preventDefault();
        void runCheck();
      }}
    >
      <div className="fields">
        {fields.map(([name, value], i) => (
          <div key={name}>
            <label htmlFor={`q${item.id}-f${i}`}>{name}</label>
            <input
              id={`q${item.id}-f${i}`}
              value={value}
              onChange={(e) => {
                setCheck(undefined);
                setFields(fields.map((f, j) => (j === i ? [f[0], e.target.value, f[2]] : f)));
              }}
            />
          </div>
        ))}
      </div>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {check ? (
        check.ok ? (
          <p className="ok" role="status" data-testid="check-result">
            Valid: a replay sends it.
          </p>
        ) : (
          <ul className="error" role="alert" data-testid="check-result">
            {check.issues.map((i) => (
              <li key={`${i.path}:${i.reason}`}>
                {i.path ? <strong>{i.path}: </strong> : null}
                {i.reason}
              </li>
            ))}
          </ul>
        )
      ) : null}
      <div className="toolbar">
        <button type="submit" disabled={props.busy}>
          Check
        </button>
        <button
          type="button"
          className="primary"
          disabled={props.busy || props.blocked !== undefined || !check?.ok}
          title={props.blocked ?? (check?.ok ? 'Send the edited record' : 'Check the record first')}
          onClick={() => props.onReplay(fromFields(fields))}
        >
          Replay edited
        </button>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/**
 * Records the destination engine set aside: the reason, the record as read; replay one or all (as read
 * or edited), resolve (fixed some other way) or dismiss (not to be pushed). Entries the CLI made name no
 * flow: they replay with the key of a flow chosen here. A later run that applies a record closes its
 * entry by itself.
 */
export function QuarantineView(props: { flowId?: string | undefined }) {
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('open');
  const [replayFlow, setReplayFlow] = useState(props.flowId ?? '');
  const [editing, setEditing] = useState<string>();
  const params = new URLSearchParams({ status, ...(props.flowId ? { flowId: props.flowId } : {}) });
  const { items, load } = useApiList(
    `/quarantine?${params}`,
    (r: ApiResponse<'quarantine'>) => r.items,
    setMessage,
  );
  const { items: flows } = useApiList('/flows', (r: ApiResponse<'flows'>) => r.flows, setMessage);
  const destinations = flows.filter((f: Flow) => f.kind === 'destination');
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
  const replay = (list: QuarantineItem[], records?: Record<string, Record<string, unknown>>) =>
    act(async () => {
      const r = await api<ApiResponse<'replay'>>('POST', '/quarantine/replay', {
        ids: list.map((i) => i.id),
        ...(list.some((i) => !i.flowId) && replayFlow ? { flowId: replayFlow } : {}),
        ...(records ? { records } : {}),
      });
      setEditing(undefined);
      return `Replayed ${r.replayed}, still quarantined ${r.failed}.`;
    });
  const close = (q: QuarantineItem, action: 'resolve' | 'dismiss') =>
    act(async () => {
      await api('POST', `/quarantine/${q.id}/${action}`);
      return `Entry ${q.id} ${action === 'resolve' ? 'resolved' : 'dismissed'}.`;
    });
  const exportQuery = (format: string) => `/api/v1/quarantine/export?format=${format}&${params}`;
  const open = items.filter((q) => q.status === 'open');
  /** Why an entry cannot be replayed from here, if it cannot. */
  const blocked = (q: QuarantineItem) =>
    !q.flowId && !props.flowId && !replayFlow
      ? 'Made by the CLI, so it names no flow: choose above the destination flow whose key replays it'
      : undefined;
  return (
    <section aria-labelledby="q-title" className="quarantine">
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
        <p className="muted">
          No {status === 'all' ? '' : `${status} `}quarantined records.
          {status === 'open'
            ? ' Records a push cannot apply land here with the reason; a later run that applies them closes them.'
            : ''}
        </p>
      ) : (
        <table className="list quarantine-list" aria-label="Quarantined records">
          <thead>
            <tr>
              <th scope="col">Entry</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
              <th scope="col">Record</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((q) => {
              const why = blocked(q);
              return (
                <Fragment key={q.id}>
                  <tr data-quarantine={q.id}>
                    <td>
                      <div className="nowrap">
                        <strong>#{q.id}</strong> {q.operation}
                      </div>
                      <div className="muted">
                        {q.row !== undefined ? `row ${q.row} · ` : ''}
                        {new Date(q.createdAt).toLocaleString()}
                      </div>
                      <div className="muted" data-testid="account">
                        {q.account}
                      </div>
                    </td>
                    <td>
                      <span
                        className={`badge ${q.status === 'open' ? 'error' : q.status === 'dismissed' ? 'partial' : 'succeeded'}`}
                      >
                        {q.status}
                      </span>
                      {q.closedBy ? (
                        <div className="muted" data-testid="closed-by">
                          by {q.closedBy}
                        </div>
                      ) : null}
                    </td>
                    <td data-testid="reason" className="reason">
                      {q.fieldPath && !q.errorMessage.startsWith(q.fieldPath) ? (
                        <strong>{q.fieldPath}: </strong>
                      ) : null}
                      {q.errorMessage} <span className="muted">({q.errorCode})</span>
                    </td>
                    <td className="record">
                      <Cell value={q.record} />
                    </td>
                    <td className="actions">
                      {q.status === 'open' ? (
                        <div className="action-buttons">
                          <button
                            type="button"
                            disabled={busy || why !== undefined}
                            title={why ?? 'Send the record again as it was read'}
                            onClick={() => void replay([q])}
                          >
                            Replay
                          </button>
                          <button
                            type="button"
                            disabled={busy}
                            aria-expanded={editing === q.id}
                            title="Correct the record, check it, then replay it"
                            onClick={() => setEditing(editing === q.id ? undefined : q.id)}
                          >
                            Edit
                          </button>
                          <button type="button" disabled={busy} onClick={() => void close(q, 'resolve')}>
                            Resolve
                          </button>
                          <button type="button" disabled={busy} onClick={() => void close(q, 'dismiss')}>
                            Dismiss
                          </button>
                        </div>
                      ) : null}
                    </td>
                  </tr>
                  {editing === q.id ? (
                    <tr className="editor-row">
                      <td colSpan={5}>
                        <RecordEditor
                          item={q}
                          busy={busy}
                          blocked={why}
                          onReplay={(record) => void replay([q], { [q.id]: record })}
                          onClose={() => setEditing(undefined)}
                        />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
