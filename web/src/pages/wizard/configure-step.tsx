import { type Dispatch, useState } from 'react';
import { type Credential, type OperationInfo, type StreamInfo, uploadFile } from '../../api';
import { errorText } from '../../form';
import { type InputType, parseMapping, type TargetType, type WizardAction, type WizardState } from './state';
import { access, StreamPicker } from './stream-picker';

const TARGET_LABEL: Record<TargetType, string> = {
  sqlite: 'Target SQLite file *',
  postgres: 'Target PostgreSQL URL *',
  jsonl: 'Target directory for JSONL files *',
};

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

/** Step 3: the flow's name and, for a source, streams and target; for a destination, operation, input and mapping. */
export function ConfigureStep(props: {
  state: WizardState;
  dispatch: Dispatch<WizardAction>;
  credential: Credential | undefined;
  streams: StreamInfo[];
  operations: OperationInfo[];
  setError: (message: string | undefined) => void;
}) {
  const { state, dispatch } = props;
  const set = (patch: Partial<WizardState>) => dispatch({ type: 'set', patch });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const mappingError = parseMapping(state.mappingText).error;
        if (state.kind === 'destination' && mappingError) {
          props.setError(mappingError);
          return;
        }
        if (state.kind === 'source' && (state.streams ?? []).length === 0) {
          props.setError('Choose at least one stream.');
          return;
        }
        props.setError(undefined);
        dispatch({ type: 'next' });
      }}
    >
      <label htmlFor="flow-name">Flow name *</label>
      <input id="flow-name" required value={state.name} onChange={(e) => set({ name: e.target.value })} />
      {state.kind === 'source' ? (
        <SourceFields {...props} set={set} />
      ) : (
        <DestinationFields {...props} set={set} />
      )}
      <button type="submit" className="primary">
        Continue
      </button>
    </form>
  );
}

function SourceFields(props: {
  state: WizardState;
  credential: Credential | undefined;
  streams: StreamInfo[];
  set: (patch: Partial<WizardState>) => void;
}) {
  const { state, set } = props;
  return (
    <>
      <StreamPicker
        streams={props.streams}
        chosen={state.streams ?? []}
        credential={props.credential}
        onChange={(streams) => set({ streams })}
      />
      <fieldset>
        <legend>Target</legend>
        {(['sqlite', 'postgres', 'jsonl'] as TargetType[]).map((t) => (
          <label key={t} className="inline">
            <input
              type="radio"
              name="target-type"
              value={t}
              checked={state.targetType === t}
              onChange={() => set({ targetType: t })}
            />{' '}
            {{ sqlite: 'SQLite', postgres: 'PostgreSQL', jsonl: 'JSONL' }[t]}
          </label>
        ))}
        <label htmlFor="target-path">{TARGET_LABEL[state.targetType]}</label>
        <input
          id="target-path"
          required
          placeholder={
            state.targetType === 'postgres'
              ? 'postgres://user@host:5432/db'
              : state.targetType === 'jsonl'
                ? 'exports/'
                : 'ashby.db'
          }
          value={state.targetPath}
          onChange={(e) => set({ targetPath: e.target.value })}
        />
        {state.targetType === 'postgres' ? (
          <>
            <label htmlFor="target-schema">Schema (default public)</label>
            <input
              id="target-schema"
              value={state.targetSchema}
              onChange={(e) => set({ targetSchema: e.target.value })}
            />
          </>
        ) : null}
      </fieldset>
      {state.targetType === 'jsonl' ? null : (
        <>
          <label className="inline">
            <input
              type="checkbox"
              checked={state.analytics}
              onChange={(e) => set({ analytics: e.target.checked })}
            />{' '}
            Install analytics views
          </label>
          <p className="hint">
            After each run, create or replace the analytics_* views (funnel, time in stage, …) in the target.
          </p>
        </>
      )}
      <label htmlFor="history">Keep history of</label>
      <input
        id="history"
        placeholder="applications, candidates (or all)"
        value={state.history}
        onChange={(e) => set({ history: e.target.value })}
      />
      <p className="hint">
        {state.targetType === 'jsonl'
          ? 'A JSONL stream file already holds every version of its records.'
          : 'Every version of these streams’ records is kept in <stream>_history tables (history mode).'}
      </p>
    </>
  );
}

function DestinationFields(props: {
  state: WizardState;
  credential: Credential | undefined;
  operations: OperationInfo[];
  set: (patch: Partial<WizardState>) => void;
  setError: (message: string | undefined) => void;
}) {
  const { state, set } = props;
  const [uploaded, setUploaded] = useState<string>();
  const { mapping, error: mappingError } = parseMapping(state.mappingText);
  return (
    <>
      <label htmlFor="operation">Operation template</label>
      <select id="operation" value={state.operation} onChange={(e) => set({ operation: e.target.value })}>
        {props.operations.map((o) => (
          <option key={o.name} value={o.name}>
            {o.description} ({o.name}) — key may write: {access(props.credential, o.permission)}
          </option>
        ))}
      </select>
      <label htmlFor="endpoint">Or a manual endpoint</label>
      <input
        id="endpoint"
        placeholder="candidate.addTag"
        value={state.endpoint}
        onChange={(e) => set({ endpoint: e.target.value })}
      />
      <label htmlFor="input-type">Input format</label>
      <select
        id="input-type"
        value={state.inputType}
        onChange={(e) => set({ inputType: e.target.value as InputType })}
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
          props.setError(undefined);
          uploadFile(file).then(
            (u) => {
              const ext = u.path.split('.').pop()?.toLowerCase();
              set({
                inputPath: u.path,
                inputType: ext === 'csv' ? 'csv' : ext === 'json' ? 'json' : 'jsonl',
              });
              setUploaded(`Uploaded ${u.name} (${u.bytes} bytes) as ${u.path}`);
            },
            (err) => props.setError(errorText(err)),
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
      <input id="input-path" value={state.inputPath} onChange={(e) => set({ inputPath: e.target.value })} />
      {state.inputPath ? null : (
        <>
          <label htmlFor="csv">Input records *</label>
          <textarea
            id="csv"
            required
            rows={6}
            value={state.csv}
            onChange={(e) => set({ csv: e.target.value })}
          />
        </>
      )}
      <label htmlFor="mapping">Mapping (Ashby field → input column, JSON)</label>
      <textarea
        id="mapping"
        rows={5}
        value={state.mappingText}
        aria-invalid={mappingError ? true : undefined}
        onChange={(e) => set({ mappingText: e.target.value })}
      />
      {mappingError ? <p className="error">{mappingError}</p> : null}
      {state.inputType === 'csv' && !state.inputPath ? (
        <>
          <h3>First request body</h3>
          <pre data-testid="first-request-body">
            {JSON.stringify(previewBody(state.csv, mapping) ?? {}, null, 2)}
          </pre>
        </>
      ) : null}
    </>
  );
}
