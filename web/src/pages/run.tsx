import { useEffect, useState } from 'react';
import { api, type Run } from '../api';
import { errorText } from '../form';

/** A run with live progress (server-sent events) and the summary table. */
export function RunDetail(props: { runId: string }) {
  const [run, setRun] = useState<Run>();
  useEffect(() => {
    const source = new EventSource(`/api/v1/runs/${props.runId}/events`);
    const on = (e: MessageEvent<string>) => setRun(JSON.parse(e.data) as Run);
    source.addEventListener('progress', on);
    source.addEventListener('finished', (e) => {
      on(e);
      source.close();
    });
    source.onerror = () => source.close();
    return () => source.close();
  }, [props.runId]);
  const [cancelState, setCancelState] = useState<string>();
  if (!run) return <p>Loading run…</p>;
  const cancel = async () => {
    try {
      await api('POST', `/flows/${run.flowId}/cancel`);
      setCancelState('Stopping: records in progress finish first.');
    } catch (e) {
      setCancelState(errorText(e));
    }
  };
  return (
    <section aria-labelledby="run-title">
      <h1 id="run-title">Run {run.id}</h1>
      <p>
        Status: <strong data-run-status={run.status}>{run.status}</strong> · {run.trigger}
        {run.dryRun ? ' (dry run)' : ''} · started {new Date(run.startedAt).toLocaleString()}
        {run.finishedAt ? ` · finished ${new Date(run.finishedAt).toLocaleString()}` : ''}
      </p>
      {run.status === 'running' ? (
        <button type="button" onClick={cancel} disabled={cancelState !== undefined}>
          Cancel run
        </button>
      ) : null}
      {cancelState ? <p role="status">{cancelState}</p> : null}
      <table className="list" aria-label="Run summary">
        <thead>
          <tr>
            <th scope="col">{run.kind === 'source' ? 'Stream' : 'Operation'}</th>
            <th scope="col">Status</th>
            <th scope="col">Read</th>
            <th scope="col">Written</th>
            <th scope="col">{run.kind === 'source' ? 'Deleted' : 'Failed'}</th>
            <th scope="col">Quarantined</th>
            <th scope="col">Note</th>
          </tr>
        </thead>
        <tbody>
          {run.counts.map((c) => (
            <tr key={c.name} data-stream={c.name}>
              <td>{c.name}</td>
              <td>{c.status}</td>
              <td>{c.read}</td>
              <td>{c.written}</td>
              <td>{run.kind === 'source' ? (c.deleted ?? 0) : (c.failed ?? 0)}</td>
              <td>{c.quarantined ?? 0}</td>
              <td>{c.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {run.errors.length > 0 ? (
        <ul className="errors">
          {run.errors.map((e) => (
            <li key={`${e.scope ?? ''}:${e.code}:${e.message}`}>
              {e.scope ? `${e.scope}: ` : ''}
              {e.message} ({e.code})
            </li>
          ))}
        </ul>
      ) : null}
      {run.kind === 'source' ? (
        <a href={`#/data?flowId=${run.flowId}`}>Preview synced data</a>
      ) : (
        <a href={`#/quarantine?flowId=${run.flowId}`}>Quarantined records of this flow</a>
      )}
    </section>
  );
}
