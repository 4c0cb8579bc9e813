import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { api, type Credential, type Flow, type OperationInfo, type Run, type StreamInfo } from './api';
import { CredentialGrid } from './credentials';

function access(c: Credential | undefined, permission: string): string {
  const [module, level] = permission.split(': ');
  const p = c?.verification?.permissions.find((x) => x.module === module);
  const v = level === 'Write' ? p?.write : p?.read;
  return v === 'allowed' ? 'yes' : v === 'missing' ? 'no' : 'unknown';
}

/** First request body a destination would send: the mapping applied to the first CSV row. */
function previewBody(csv: string, mapping: Record<string, string>): Record<string, string> | undefined {
  const [head, first] = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!head || !first) return undefined;
  const cols = head.split(',').map((s) => s.trim());
  const vals = first.split(',').map((s) => s.trim());
  const out: Record<string, string> = {};
  for (const [field, column] of Object.entries(mapping)) {
    const i = cols.indexOf(column);
    if (i >= 0 && vals[i] !== undefined) out[field] = vals[i];
  }
  return out;
}

type Step = 'kind' | 'auth' | 'configure' | 'test' | 'schedule';

/** New data flow: kind → Authenticate → configure → Test → schedule → Save and activate. */
export function FlowWizard(props: {
  credentials: Credential[];
  reload: () => void;
  onDone: (flowId: string) => void;
}) {
  const [step, setStep] = useState<Step>('kind');
  const [kind, setKind] = useState<'source' | 'destination'>('source');
  const [credentialId, setCredentialId] = useState<string>();
  const [streams, setStreams] = useState<StreamInfo[]>([]);
  const [operations, setOperations] = useState<OperationInfo[]>([]);
  const [chosen, setChosen] = useState<string[]>(['candidates']);
  const [name, setName] = useState('');
  const [targetPath, setTargetPath] = useState('ashby.db');
  const [operation, setOperation] = useState('candidate.create');
  const [endpoint, setEndpoint] = useState('');
  const [csv, setCsv] = useState('');
  const [mappingText, setMappingText] = useState('{\n  "name": "Name",\n  "email": "Email"\n}');
  const [schedule, setSchedule] = useState('');
  const [sample, setSample] = useState<unknown[]>();
  const [error, setError] = useState<string>();
  const credential = props.credentials.find((c) => c.id === credentialId);

  useEffect(() => {
    api<{ streams: StreamInfo[] }>('GET', '/streams').then(
      (r) => setStreams(r.streams),
      () => {},
    );
    api<{ operations: OperationInfo[] }>('GET', '/operations').then(
      (r) => setOperations(r.operations),
      () => {},
    );
  }, []);

  let mapping: Record<string, string> = {};
  try {
    mapping = JSON.parse(mappingText) as Record<string, string>;
  } catch {
    mapping = {};
  }

  const body = () =>
    kind === 'source'
      ? {
          kind,
          name,
          credentialId,
          streams: chosen,
          target: { type: 'sqlite', path: targetPath },
          schedule: schedule || null,
        }
      : {
          kind,
          name,
          credentialId,
          ...(endpoint ? { endpoint } : { operation }),
          input: { type: 'csv', content: csv },
          mapping,
          schedule: schedule || null,
        };

  const test = async () => {
    setError(undefined);
    try {
      if (kind === 'source') {
        const r = await api<{ records: unknown[] }>('POST', `/credentials/${credentialId}/probe/sample`, {
          stream: chosen[0] ?? 'candidates',
          limit: 3,
        });
        setSample(r.records);
      } else {
        setSample([previewBody(csv, mapping) ?? {}]);
      }
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<{ flow: Flow }>('POST', '/flows?activate=true', body());
      props.onDone(r.flow.id);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <section aria-labelledby="wizard-title">
      <h1 id="wizard-title">New data flow</h1>
      <ol className="steps" aria-label="Steps">
        {(['kind', 'auth', 'configure', 'test', 'schedule'] as Step[]).map((s) => (
          <li key={s} aria-current={s === step ? 'step' : undefined}>
            {
              {
                kind: 'Type',
                auth: 'Authenticate',
                configure: 'Configure',
                test: 'Test',
                schedule: 'Schedule',
              }[s]
            }
          </li>
        ))}
      </ol>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {step === 'kind' ? (
        <div className="grid">
          <button
            type="button"
            className="tile selectable"
            onClick={() => {
              setKind('source');
              setStep('auth');
            }}
          >
            <h3>Ashby source</h3>
            <p>Sync Ashby streams into a database.</p>
          </button>
          <button
            type="button"
            className="tile selectable"
            onClick={() => {
              setKind('destination');
              setStep('auth');
            }}
          >
            <h3>Ashby destination</h3>
            <p>Push records from a file into Ashby.</p>
          </button>
        </div>
      ) : null}
      {step === 'auth' ? (
        <>
          <h2>Authenticate</h2>
          <CredentialGrid
            credentials={props.credentials}
            reload={props.reload}
            selectedId={credentialId}
            onSelect={(c) => setCredentialId(c.id)}
          />
          <button type="button" disabled={!credentialId} onClick={() => setStep('configure')}>
            Continue
          </button>
        </>
      ) : null}
      {step === 'configure' ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setStep('test');
          }}
        >
          <label htmlFor="flow-name">Flow name *</label>
          <input id="flow-name" required value={name} onChange={(e) => setName(e.target.value)} />
          {kind === 'source' ? (
            <>
              <fieldset>
                <legend>Streams</legend>
                <table className="streams">
                  <thead>
                    <tr>
                      <th scope="col">Sync</th>
                      <th scope="col">Stream</th>
                      <th scope="col">Mode</th>
                      <th scope="col">Key may read</th>
                    </tr>
                  </thead>
                  <tbody>
                    {streams.map((s) => (
                      <tr key={s.name}>
                        <td>
                          <input
                            type="checkbox"
                            id={`stream-${s.name}`}
                            checked={chosen.includes(s.name)}
                            onChange={(e) =>
                              setChosen(
                                e.target.checked ? [...chosen, s.name] : chosen.filter((x) => x !== s.name),
                              )
                            }
                          />
                        </td>
                        <td>
                          <label htmlFor={`stream-${s.name}`}>{s.name}</label>
                        </td>
                        <td>{s.incremental ? 'incremental' : 'full'}</td>
                        <td>{access(credential, s.permission)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </fieldset>
              <label htmlFor="target-path">Target SQLite file *</label>
              <input
                id="target-path"
                required
                value={targetPath}
                onChange={(e) => setTargetPath(e.target.value)}
              />
            </>
          ) : (
            <>
              <label htmlFor="operation">Operation template</label>
              <select id="operation" value={operation} onChange={(e) => setOperation(e.target.value)}>
                {operations.map((o) => (
                  <option key={o.name} value={o.name}>
                    {o.description} ({o.name}) — key may write: {access(credential, o.permission)}
                  </option>
                ))}
              </select>
              <label htmlFor="endpoint">Or a manual endpoint</label>
              <input
                id="endpoint"
                placeholder="candidate.addTag"
                value={endpoint}
                onChange={(e) => setEndpoint(e.target.value)}
              />
              <label htmlFor="csv">Input CSV *</label>
              <textarea id="csv" required rows={6} value={csv} onChange={(e) => setCsv(e.target.value)} />
              <label htmlFor="mapping">Mapping (Ashby field → CSV column, JSON)</label>
              <textarea
                id="mapping"
                rows={5}
                value={mappingText}
                onChange={(e) => setMappingText(e.target.value)}
              />
              <h3>First request body</h3>
              <pre data-testid="first-request-body">
                {JSON.stringify(previewBody(csv, mapping) ?? {}, null, 2)}
              </pre>
            </>
          )}
          <button type="submit">Continue</button>
        </form>
      ) : null}
      {step === 'test' ? (
        <>
          <h2>Test</h2>
          <button type="button" onClick={test}>
            {kind === 'source' ? 'Fetch sample records' : 'Dry run first record'}
          </button>
          {sample ? <pre data-testid="sample">{JSON.stringify(sample, null, 2).slice(0, 4000)}</pre> : null}
          <button type="button" onClick={() => setStep('schedule')}>
            Continue
          </button>
        </>
      ) : null}
      {step === 'schedule' ? (
        <form onSubmit={save}>
          <h2>Schedule</h2>
          <label htmlFor="schedule">Cron schedule (empty = run manually)</label>
          <input
            id="schedule"
            placeholder="0 * * * *"
            value={schedule}
            onChange={(e) => setSchedule(e.target.value)}
          />
          <button type="submit">Save and activate</button>
        </form>
      ) : null}
    </section>
  );
}

export function FlowsList(props: { open: (hash: string) => void }) {
  const [flows, setFlows] = useState<Flow[]>([]);
  const [error, setError] = useState<string>();
  const load = useCallback(
    () =>
      api<{ flows: Flow[] }>('GET', '/flows').then(
        (r) => setFlows(r.flows),
        (e: Error) => setError(e.message),
      ),
    [],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const act = async (flow: Flow, action: 'activate' | 'pause' | 'run') => {
    setError(undefined);
    try {
      const r = await api<{ run?: Run }>('POST', `/flows/${flow.id}/${action}`);
      if (r.run) props.open(`#/runs/${r.run.id}`);
      else await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section aria-labelledby="flows-title">
      <h1 id="flows-title">Flows</h1>
      <a className="button" href="#/flows/new">
        New data flow
      </a>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
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
              <td>{f.name}</td>
              <td>{f.kind}</td>
              <td>{f.status}</td>
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
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

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
  if (!run) return <p>Loading run…</p>;
  return (
    <section aria-labelledby="run-title">
      <h1 id="run-title">Run {run.id}</h1>
      <p>
        Status: <strong data-run-status={run.status}>{run.status}</strong> · {run.trigger} · started{' '}
        {new Date(run.startedAt).toLocaleString()}
      </p>
      <table className="list" aria-label="Run summary">
        <thead>
          <tr>
            <th scope="col">{run.kind === 'source' ? 'Stream' : 'Operation'}</th>
            <th scope="col">Status</th>
            <th scope="col">Read</th>
            <th scope="col">Written</th>
            <th scope="col">Deleted</th>
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
              <td>{c.deleted ?? 0}</td>
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
      <a href={`#/data?flowId=${run.flowId}`}>Preview synced data</a>
    </section>
  );
}

interface Page {
  columns: string[];
  rows: Array<Record<string, unknown>>;
  total: number;
  limit: number;
  offset: number;
}

export function DataPreview(props: { flowId?: string | undefined }) {
  const [stream, setStream] = useState('candidates');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<Page>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setError(undefined);
    const q = `limit=25&offset=${offset}${props.flowId ? `&flowId=${props.flowId}` : ''}`;
    api<Page>('GET', `/datasets/${encodeURIComponent(stream)}/preview?${q}`).then(setPage, (e: Error) => {
      setPage(undefined);
      setError(e.message);
    });
  }, [stream, offset, props.flowId]);
  const show = (v: unknown) =>
    (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)).slice(0, 80);
  return (
    <section aria-labelledby="data-title">
      <h1 id="data-title">Data preview</h1>
      <label htmlFor="stream">Table</label>
      <input
        id="stream"
        value={stream}
        onChange={(e) => {
          setStream(e.target.value);
          setOffset(0);
        }}
      />
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {page ? (
        <>
          <p>
            {page.total} rows · showing {page.offset + 1}–{Math.min(page.offset + page.limit, page.total)}
          </p>
          <div className="scroll">
            <table className="list" aria-label={`Rows of ${stream}`}>
              <thead>
                <tr>
                  {page.columns
                    .filter((c) => c !== '_ashpipe_raw')
                    .map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                </tr>
              </thead>
              <tbody>
                {page.rows.map((r, i) => (
                  <tr key={String(r.id ?? i)}>
                    {page.columns
                      .filter((c) => c !== '_ashpipe_raw')
                      .map((c) => (
                        <td key={c}>{show(r[c])}</td>
                      ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 25))}>
            Previous
          </button>
          <button type="button" disabled={offset + 25 >= page.total} onClick={() => setOffset(offset + 25)}>
            Next
          </button>
        </>
      ) : null}
    </section>
  );
}

interface QItem {
  id: string;
  flowId?: string;
  operation: string;
  source?: string;
  errorCode: string;
  errorMessage: string;
  createdAt: string;
}

export function QuarantineView() {
  const [items, setItems] = useState<QItem[]>([]);
  const [message, setMessage] = useState<string>();
  const load = useCallback(
    () =>
      api<{ items: QItem[] }>('GET', '/quarantine').then(
        (r) => setItems(r.items),
        (e: Error) => setMessage(e.message),
      ),
    [],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const replay = async (item: QItem) => {
    try {
      const r = await api<{ replayed: number; failed: number }>('POST', '/quarantine/replay', {
        ids: [item.id],
        flowId: item.flowId,
      });
      setMessage(`Replayed ${r.replayed}, failed ${r.failed}.`);
      await load();
    } catch (e) {
      setMessage(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section aria-labelledby="q-title">
      <h1 id="q-title">Quarantine</h1>
      <a className="button" href="/api/v1/quarantine/export">
        Export (JSON lines)
      </a>
      {message ? <p role="status">{message}</p> : null}
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Operation</th>
            <th scope="col">Row</th>
            <th scope="col">Error</th>
            <th scope="col">When</th>
            <th scope="col">Replay</th>
          </tr>
        </thead>
        <tbody>
          {items.map((q) => (
            <tr key={q.id} data-quarantine={q.id}>
              <td>{q.operation}</td>
              <td>{q.source ?? ''}</td>
              <td>
                {q.errorMessage} ({q.errorCode})
              </td>
              <td>{new Date(q.createdAt).toLocaleString()}</td>
              <td>
                <button type="button" onClick={() => replay(q)}>
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
