import { useEffect, useState } from 'react';
import { type ApiResponse, api, type Flow, type Run } from '../api';
import { errorText } from '../form';

const when = (iso: string) => new Date(iso).toLocaleString();

/** How long a run took (or has been going), e.g. `1 min 5 s`. */
function duration(run: Run): string {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  const s = Math.max(0, Math.round((end - Date.parse(run.startedAt)) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The runs of one flow, newest first, each linking to its page. */
export function RunHistory(props: { flowId: string; currentId?: string; version?: string }) {
  const [runs, setRuns] = useState<Run[]>([]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` (the current run's status) re-reads the list when that run ends
  useEffect(() => {
    api<ApiResponse<'runs'>>('GET', `/runs?flowId=${encodeURIComponent(props.flowId)}&limit=20`).then(
      (r) => setRuns(r.runs),
      () => {},
    );
  }, [props.flowId, props.version]);
  if (runs.length === 0) return null;
  return (
    <table className="list" aria-label="Run history">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Status</th>
          <th scope="col">Trigger</th>
          <th scope="col">Took</th>
          <th scope="col">Read</th>
          <th scope="col">Written</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id} aria-current={r.id === props.currentId ? 'true' : undefined}>
            <td>
              {r.id === props.currentId ? (
                <strong>{when(r.startedAt)}</strong>
              ) : (
                <a href={`#/runs/${r.id}`}>{when(r.startedAt)}</a>
              )}
            </td>
            <td>
              <span className={`badge ${r.status}`}>{r.status}</span>
              {r.dryRun ? ' (dry run)' : ''}
            </td>
            <td>{r.trigger}</td>
            <td>{duration(r)}</td>
            <td>{r.counts.reduce((n, c) => n + c.read, 0)}</td>
            <td>{r.counts.reduce((n, c) => n + c.written, 0)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A run with live progress (server-sent events), the summary table and the flow's run history. */
export function RunDetail(props: { runId: string }) {
  const [run, setRun] = useState<Run>();
  const [flow, setFlow] = useState<Flow>();
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
  const flowId = run?.flowId;
  useEffect(() => {
    if (!flowId) return;
    api<ApiResponse<'flow'>>('GET', `/flows/${flowId}`).then(
      (r) => setFlow(r.flow),
      () => {},
    );
  }, [flowId]);
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
  const chosen = flow?.config.kind === 'source' ? flow.config.streams : undefined;
  return (
    <section aria-labelledby="run-title">
      <h1 id="run-title">{flow ? flow.name : 'Run'}</h1>
      <p>
        <span className={`badge ${run.status}`} data-run-status={run.status}>
          {run.status}
        </span>{' '}
        {run.trigger} run{run.dryRun ? ' (dry run)' : ''}
        {run.worker ? ` on ${run.worker}` : ''} · {run.status === 'queued' ? 'queued' : 'started'}{' '}
        {when(run.startedAt)}
        {run.finishedAt ? ` · finished ${when(run.finishedAt)}` : ''} · {duration(run)}
      </p>
      {run.status === 'running' || run.status === 'queued' ? (
        <button type="button" onClick={cancel} disabled={cancelState !== undefined}>
          Cancel run
        </button>
      ) : null}
      {cancelState && (run.status === 'running' || run.status === 'queued') ? (
        <p role="status">{cancelState}</p>
      ) : null}
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
              <td>
                <span className={`badge ${c.status}`}>{c.status}</span>
              </td>
              <td>{c.read}</td>
              <td>{c.written}</td>
              <td>{run.kind === 'source' ? (c.deleted ?? 0) : (c.failed ?? 0)}</td>
              <td>{c.quarantined ?? 0}</td>
              <td>
                {[
                  ...(chosen && !chosen.includes(c.name)
                    ? ['added: the streams you chose are read through it (a parent stream)']
                    : []),
                  ...(c.message ? [c.message] : []),
                ].join('; ')}
              </td>
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
      {run.analytics ? (
        <section aria-labelledby="run-analytics" data-testid="run-analytics">
          <h2 id="run-analytics">Analytics views installed</h2>
          <p>
            {run.analytics.installed.length === 0
              ? 'None.'
              : run.analytics.installed.map((v, i) => (
                  <span key={v}>
                    {i > 0 ? ', ' : ''}
                    <code>{v}</code>
                  </span>
                ))}{' '}
            <a href={`#/flows/${run.flowId}/insights`}>See the insights</a>
          </p>
          {run.analytics.skipped.length > 0 ? (
            <ul>
              {run.analytics.skipped.map((v) => (
                <li key={v.name}>
                  <code>{v.name}</code> not installed: the target has no {v.missing.join(', ')} (sync those
                  streams)
                </li>
              ))}
            </ul>
          ) : null}
        </section>
      ) : null}
      <p>
        {run.kind === 'source' ? (
          <a href={`#/data?flowId=${run.flowId}`}>Preview synced data</a>
        ) : (
          <a href={`#/quarantine?flowId=${run.flowId}`}>Quarantined records of this flow</a>
        )}
      </p>
      <h2>Run history</h2>
      <RunHistory flowId={run.flowId} currentId={run.id} version={run.status} />
    </section>
  );
}
