import { type FormEvent, useEffect, useState } from 'react';
import {
  api,
  type Credential,
  type Flow,
  type OperationInfo,
  type Run,
  type StreamInfo,
  setCsrf,
  uploadFile,
} from './api';
import { CredentialGrid } from './credentials';
import { ErrorAlert, errorText, useApiList } from './form';

/** The tiles of the wizard's first step. */
const FLOW_KINDS = [
  { kind: 'source', title: 'Ashby source', text: 'Sync Ashby streams into a database.' },
  { kind: 'destination', title: 'Ashby destination', text: 'Push records from a file into Ashby.' },
] as const;

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
type TargetType = 'sqlite' | 'postgres' | 'jsonl';
type InputType = 'csv' | 'jsonl' | 'json';

interface DryRunResult {
  row: number;
  status: string;
  wouldSend?: { endpoint: string; body: unknown };
  error?: { code: string; message: string; path?: string };
}
type TestReport =
  | { kind: 'source'; stream: string; records: unknown[] }
  | { kind: 'destination'; total: number; results: DryRunResult[] };

const TARGET_LABEL: Record<TargetType, string> = {
  sqlite: 'Target SQLite file *',
  postgres: 'Target PostgreSQL URL *',
  jsonl: 'Target directory for JSONL files *',
};

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

/**
 * New data flow: kind → Authenticate → configure → Test → schedule → Save and activate. With `initial`,
 * the same steps edit that flow (its kind is fixed) and Save keeps its status.
 */
export function FlowWizard(props: {
  credentials: Credential[];
  reload: () => void;
  onDone: (flowId: string) => void;
  initial?: Flow | undefined;
}) {
  const init = props.initial;
  const cfg = (init?.config ?? {}) as Record<string, unknown>;
  const initTarget = (cfg.target ?? {}) as Record<string, unknown>;
  const initInput = (cfg.input ?? {}) as Record<string, unknown>;
  const [step, setStep] = useState<Step>(init ? 'auth' : 'kind');
  const [kind, setKind] = useState<'source' | 'destination'>(init?.kind ?? 'source');
  const [credentialId, setCredentialId] = useState<string | undefined>(init?.credentialId);
  const [streams, setStreams] = useState<StreamInfo[]>([]);
  const [operations, setOperations] = useState<OperationInfo[]>([]);
  const [chosen, setChosen] = useState<string[]>(
    Array.isArray(cfg.streams) ? (cfg.streams as string[]) : ['candidates'],
  );
  const [name, setName] = useState(init?.name ?? '');
  const [targetType, setTargetType] = useState<TargetType>(str(initTarget.type, 'sqlite') as TargetType);
  const [targetPath, setTargetPath] = useState(
    str(initTarget.path) || str(initTarget.url) || (init ? '' : 'ashby.db'),
  );
  const [targetSchema, setTargetSchema] = useState(str(initTarget.schema));
  const [operation, setOperation] = useState(str(cfg.operation, 'candidate.create'));
  const [endpoint, setEndpoint] = useState(str(cfg.endpoint));
  const [inputType, setInputType] = useState<InputType>(str(initInput.type, 'csv') as InputType);
  const [inputPath, setInputPath] = useState(str(initInput.path));
  const [csv, setCsv] = useState(str(initInput.content));
  const [uploaded, setUploaded] = useState<string>();
  const [mappingText, setMappingText] = useState(
    cfg.mapping ? JSON.stringify(cfg.mapping, null, 2) : '{\n  "name": "Name",\n  "email": "Email"\n}',
  );
  const [schedule, setSchedule] = useState(init?.schedule ?? '');
  const [report, setReport] = useState<TestReport>();
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
  let mappingError: string | undefined;
  try {
    mapping = JSON.parse(mappingText) as Record<string, string>;
  } catch {
    mappingError = 'The mapping is not valid JSON.';
  }

  const target = () =>
    targetType === 'postgres'
      ? { type: targetType, url: targetPath, ...(targetSchema ? { schema: targetSchema } : {}) }
      : { type: targetType, path: targetPath };

  const body = () =>
    kind === 'source'
      ? {
          kind,
          name,
          credentialId,
          streams: chosen,
          target: target(),
          schedule: schedule || null,
          options: (cfg.options as Record<string, unknown> | undefined) ?? {},
        }
      : {
          kind,
          name,
          credentialId,
          ...(endpoint ? { endpoint } : { operation }),
          input: inputPath ? { type: inputType, path: inputPath } : { type: inputType, content: csv },
          mapping,
          schedule: schedule || null,
          options: (cfg.options as Record<string, unknown> | undefined) ?? {},
        };

  const test = async () => {
    setError(undefined);
    setReport(undefined);
    try {
      setReport(await api<TestReport>('POST', '/flows/test?limit=5', body()));
    } catch (e) {
      setError(errorText(e));
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = init
        ? await api<{ flow: Flow }>('PUT', `/flows/${init.id}`, body())
        : await api<{ flow: Flow }>('POST', '/flows?activate=true', body());
      props.onDone(r.flow.id);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section aria-labelledby="wizard-title">
      <h1 id="wizard-title">{init ? `Edit ${init.name}` : 'New data flow'}</h1>
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
      <ErrorAlert error={error} />
      {step === 'kind' ? (
        <div className="grid">
          {FLOW_KINDS.map((k) => (
            <button
              key={k.kind}
              type="button"
              className="tile selectable"
              onClick={() => {
                setKind(k.kind);
                setStep('auth');
              }}
            >
              <h3>{k.title}</h3>
              <p>{k.text}</p>
            </button>
          ))}
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
            if (kind === 'destination' && mappingError) {
              setError(mappingError);
              return;
            }
            setError(undefined);
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
              <fieldset>
                <legend>Target</legend>
                {(['sqlite', 'postgres', 'jsonl'] as TargetType[]).map((t) => (
                  <label key={t} className="inline">
                    <input
                      type="radio"
                      name="target-type"
                      value={t}
                      checked={targetType === t}
                      onChange={() => setTargetType(t)}
                    />{' '}
                    {{ sqlite: 'SQLite', postgres: 'PostgreSQL', jsonl: 'JSONL' }[t]}
                  </label>
                ))}
                <label htmlFor="target-path">{TARGET_LABEL[targetType]}</label>
                <input
                  id="target-path"
                  required
                  placeholder={
                    targetType === 'postgres'
                      ? 'postgres://user@host:5432/db'
                      : targetType === 'jsonl'
                        ? 'exports/'
                        : 'ashby.db'
                  }
                  value={targetPath}
                  onChange={(e) => setTargetPath(e.target.value)}
                />
                {targetType === 'postgres' ? (
                  <>
                    <label htmlFor="target-schema">Schema (default public)</label>
                    <input
                      id="target-schema"
                      value={targetSchema}
                      onChange={(e) => setTargetSchema(e.target.value)}
                    />
                  </>
                ) : null}
              </fieldset>
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
              <label htmlFor="input-type">Input format</label>
              <select
                id="input-type"
                value={inputType}
                onChange={(e) => setInputType(e.target.value as InputType)}
              >
                <option value="csv">CSV</option>
                <option value="jsonl">JSON lines</option>
                <option value="json">JSON array</option>
              </select>
              <label htmlFor="input-file">Upload a file (CSV, JSON lines or JSON)</label>
              <input
                id="input-file"
                type="file"
                accept=".csv,.jsonl,.ndjson,.json"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  if (!file) return;
                  setError(undefined);
                  uploadFile(file).then(
                    (u) => {
                      setInputPath(u.path);
                      const ext = u.path.split('.').pop()?.toLowerCase();
                      if (ext === 'csv') setInputType('csv');
                      else if (ext === 'json') setInputType('json');
                      else setInputType('jsonl');
                      setUploaded(`Uploaded ${u.name} (${u.bytes} bytes) as ${u.path}`);
                    },
                    (err) => setError(errorText(err)),
                  );
                }}
              />
              {uploaded ? (
                <p className="muted" role="status">
                  {uploaded}
                </p>
              ) : null}
              <label htmlFor="input-path">
                Input file in the server’s data directory (leave empty to paste the records)
              </label>
              <input id="input-path" value={inputPath} onChange={(e) => setInputPath(e.target.value)} />
              {inputPath ? null : (
                <>
                  <label htmlFor="csv">Input records *</label>
                  <textarea id="csv" required rows={6} value={csv} onChange={(e) => setCsv(e.target.value)} />
                </>
              )}
              <label htmlFor="mapping">Mapping (Ashby field → input column, JSON)</label>
              <textarea
                id="mapping"
                rows={5}
                value={mappingText}
                aria-invalid={mappingError ? true : undefined}
                onChange={(e) => setMappingText(e.target.value)}
              />
              {mappingError ? <p className="error">{mappingError}</p> : null}
              {inputType === 'csv' && !inputPath ? (
                <>
                  <h3>First request body</h3>
                  <pre data-testid="first-request-body">
                    {JSON.stringify(previewBody(csv, mapping) ?? {}, null, 2)}
                  </pre>
                </>
              ) : null}
            </>
          )}
          <button type="submit">Continue</button>
        </form>
      ) : null}
      {step === 'test' ? (
        <>
          <h2>Test</h2>
          <p className="muted">
            {kind === 'source'
              ? 'Reads a few records of the first stream with this key; nothing is stored.'
              : 'A dry run of the first records: mapping, validation and look-ups in Ashby; nothing is written.'}
          </p>
          <button type="button" onClick={test}>
            {kind === 'source' ? 'Fetch sample records' : 'Dry run'}
          </button>
          {report?.kind === 'source' ? (
            <pre data-testid="sample">{JSON.stringify(report.records, null, 2).slice(0, 4000)}</pre>
          ) : null}
          {report?.kind === 'destination' ? (
            <table className="list" aria-label="Dry run">
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Request body or reason</th>
                </tr>
              </thead>
              <tbody>
                {report.results.map((r) => (
                  <tr key={r.row} data-dry-row={r.row}>
                    <td>{r.row}</td>
                    <td>{r.status === 'quarantined' ? 'would be quarantined' : r.status}</td>
                    <td>
                      {r.wouldSend ? (
                        <pre>
                          {r.wouldSend.endpoint} {JSON.stringify(r.wouldSend.body, null, 2)}
                        </pre>
                      ) : (
                        (r.error?.message ?? '')
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
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
          <button type="submit">{init ? 'Save changes' : 'Save and activate'}</button>
        </form>
      ) : null}
    </section>
  );
}

/** Loads a flow, then edits it with the wizard. */
export function FlowEditor(props: {
  flowId: string;
  credentials: Credential[];
  reload: () => void;
  onDone: () => void;
}) {
  const [flow, setFlow] = useState<Flow>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<{ flow: Flow }>('GET', `/flows/${props.flowId}`).then(
      (r) => setFlow(r.flow),
      (e: Error) => setError(e.message),
    );
  }, [props.flowId]);
  if (error) return <ErrorAlert error={error} />;
  if (!flow) return <p>Loading flow…</p>;
  return (
    <FlowWizard credentials={props.credentials} reload={props.reload} onDone={props.onDone} initial={flow} />
  );
}

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
                <a className="button" href={`#/flows/${f.id}/edit`}>
                  Edit
                </a>
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
      <ErrorAlert error={error} />
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

interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Changes the admin password; every other browser is logged out, and API tokens go too when asked. */
function PasswordChange(props: { onTokensRevoked: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [revoke, setRevoke] = useState(false);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setDone(undefined);
    try {
      const r = await api<{ csrfToken: string; revokedTokens: number }>('PUT', '/session/password', {
        currentPassword: current,
        newPassword: next,
        revokeTokens: revoke,
      });
      // The session was replaced: the next mutating call needs its CSRF token.
      setCsrf(r.csrfToken);
      setCurrent('');
      setNext('');
      setDone(
        `Password changed; other browsers are logged out${revoke ? ` and ${r.revokedTokens} API token(s) revoked` : ''}.`,
      );
      if (revoke) props.onTokensRevoked();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Admin password</h2>
      <label htmlFor="current-password">Current password *</label>
      <input
        id="current-password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <label htmlFor="new-password">New password (at least 10 characters) *</label>
      <input
        id="new-password"
        type="password"
        autoComplete="new-password"
        required
        minLength={10}
        value={next}
        onChange={(e) => setNext(e.target.value)}
      />
      <label>
        <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.target.checked)} /> Also revoke
        every API token
      </label>
      <button type="submit">Change password</button>
      <ErrorAlert error={error} />
      {done ? <p role="status">{done}</p> : null}
    </form>
  );
}

/** API tokens for scripts: created here and shown once, listed by prefix, revoked. */
export function TokensPage() {
  const [name, setName] = useState('');
  const [shown, setShown] = useState<{ name: string; value: string }>();
  const [error, setError] = useState<string>();
  const { items: tokens, load } = useApiList('/tokens', (r: { tokens: ApiToken[] }) => r.tokens, setError);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<{ apiToken: ApiToken; plaintext: string }>('POST', '/tokens', { name });
      setShown({ name: r.apiToken.name, value: r.plaintext });
      setName('');
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const revoke = async (t: ApiToken) => {
    if (!window.confirm(`Revoke the API token "${t.name}"? Scripts using it stop working.`)) return;
    try {
      await api('DELETE', `/tokens/${t.id}`);
      if (shown?.name === t.name) setShown(undefined);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <p className="muted">
        Scripts call <code>/api/v1</code> with <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <form onSubmit={create}>
        <label htmlFor="token-name">Token name *</label>
        <input id="token-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit">Create token</button>
      </form>
      <ErrorAlert error={error} />
      {shown ? (
        <div className="warning" role="status">
          <p>
            Token <strong>{shown.name}</strong> — copy it now; it is not shown again:
          </p>
          <code data-testid="new-token">{shown.value}</code>
        </div>
      ) : null}
      <table className="list" aria-label="API tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Starts with</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Revoke</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td>{t.name}</td>
              <td>
                <code>{t.prefix}…</code>
              </td>
              <td>{new Date(t.createdAt).toLocaleString()}</td>
              <td>{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : 'never'}</td>
              <td>
                <button type="button" onClick={() => revoke(t)}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <PasswordChange
        onTokensRevoked={() => {
          setShown(undefined);
          void load();
        }}
      />
    </section>
  );
}
