import { useState } from 'react';
import { api, type Flow, type Run } from '../api';
import { ErrorAlert, errorText, useApiList } from '../form';

export function FlowsList(props: { open: (hash: string) => void }) {
  const [error, setError] = useState<string>();
  const { items: flows, load } = useApiList('/flows', (r: { flows: Flow[] }) => r.flows, setError);
  const act = async (flow: Flow, action: 'activate' | 'pause' | 'run') => {
    setError(undefined);
    try {
      const r = await api<{ run?: Run }>('POST', `/flows/${flow.id}/${action}`);
      if (r.run) props.open(`#/runs/${r.run.id}`);
      else await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section aria-labelledby="flows-title">
      <h1 id="flows-title">Flows</h1>
      <a className="button" href="#/flows/new">
        New data flow
      </a>
      <ErrorAlert error={error} />
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Schedule</th>
            <th scope="col">Last run</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {flows.map((f) => (
            <tr key={f.id} data-flow={f.name}>
              <td>
                {f.name}
                {typeof f.config.options.managedBy === 'string' ? (
                  <>
                    {' '}
                    <span
                      className="badge"
                      title="Changed with `ashpipe apply`: edits here are overwritten by the next apply"
                    >
                      from {f.config.options.managedBy}
                    </span>
                  </>
                ) : null}
              </td>
              <td>{f.kind}</td>
              <td>
                {f.status}
                {f.runningRunStatus && f.runningRunId ? (
                  <>
                    {' '}
                    <a href={`#/runs/${f.runningRunId}`}>
                      <span className={`badge ${f.runningRunStatus}`} data-testid="run-state">
                        {f.runningRunStatus}
                      </span>
                    </a>
                  </>
                ) : null}
                {f.status === 'paused' && f.pausedReason ? (
                  <div className="muted" data-testid="paused-reason">
                    {f.pausedReason}
                    {f.lastRun?.status === 'failed' ? (
                      <>
                        {' '}
                        (<a href={`#/runs/${f.lastRun.id}`}>see the run</a>)
                      </>
                    ) : null}
                    ; fix the cause, then Activate
                  </div>
                ) : null}
              </td>
              <td>{f.schedule ?? 'manual'}</td>
              <td>{f.lastRun ? <a href={`#/runs/${f.lastRun.id}`}>{f.lastRun.status}</a> : '—'}</td>
              <td className="actions">
                {f.status === 'active' ? (
                  <button type="button" onClick={() => act(f, 'pause')}>
                    Pause
                  </button>
                ) : (
                  <button type="button" onClick={() => act(f, 'activate')}>
                    Activate
                  </button>
                )}
                <button type="button" onClick={() => act(f, 'run')}>
                  Run now
                </button>
                <a className="button" href={`#/flows/${f.id}/edit`}>
                  Edit
                </a>
                <a className="button" href={`#/flows/${f.id}/health`}>
                  Health
                </a>
                {f.kind === 'source' ? (
                  <>
                    <a className="button" href={`#/flows/${f.id}/webhooks`}>
                      Webhooks
                    </a>
                    <a className="button" href={`#/flows/${f.id}/insights`}>
                      Insights
                    </a>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
