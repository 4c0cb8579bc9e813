import { type Dispatch, useState } from 'react';
import { api, type DryRunResult } from '../../api';
import { errorText } from '../../form';
import { columnsOf, RecordTable } from '../../ui/record-table';
import { flowBody, type WizardAction, type WizardState } from './state';

/** Step 4: a source reads a few records per chosen stream; a destination is dry-run. Nothing is stored. */
export function TestStep(props: {
  state: WizardState;
  dispatch: Dispatch<WizardAction>;
  previousOptions: Record<string, unknown>;
  setError: (message: string | undefined) => void;
}) {
  const { state } = props;
  const streams = state.streams ?? [];
  const [stream, setStream] = useState(streams[0] ?? '');
  const [samples, setSamples] = useState<Record<string, unknown[]>>({});
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<DryRunResult[]>();
  const fetchSample = async (name: string) => {
    setStream(name);
    if (samples[name] || !state.credentialId) return;
    setBusy(true);
    props.setError(undefined);
    try {
      const r = await api<{ records: unknown[] }>('POST', `/credentials/${state.credentialId}/probe/sample`, {
        stream: name,
        limit: 5,
      });
      setSamples((s) => ({ ...s, [name]: r.records }));
    } catch (e) {
      props.setError(`${name}: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const dryRun = async () => {
    setBusy(true);
    props.setError(undefined);
    try {
      const r = await api<{ results: DryRunResult[] }>(
        'POST',
        '/flows/test?limit=5',
        flowBody(state, props.previousOptions),
      );
      setResults(r.results);
    } catch (e) {
      props.setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const records = samples[stream];
  return (
    <>
      <h2>Test</h2>
      <p className="muted">
        {state.kind === 'source'
          ? 'Reads the first five records of a stream with this key; nothing is stored.'
          : 'A dry run of the first records: mapping, validation and look-ups in Ashby; nothing is written.'}
      </p>
      {state.kind === 'source' ? (
        <>
          <div className="toolbar">
            <label htmlFor="sample-stream">Stream</label>
            <select id="sample-stream" value={stream} onChange={(e) => void fetchSample(e.target.value)}>
              {streams.map((s) => (
                <option key={s} value={s}>
                  {s}
                  {samples[s] ? ` (${samples[s].length})` : ''}
                </option>
              ))}
            </select>
            <button type="button" disabled={busy || !stream} onClick={() => void fetchSample(stream)}>
              {busy ? 'Reading…' : 'Fetch sample records'}
            </button>
          </div>
          {records ? (
            records.length === 0 ? (
              <p className="muted" data-testid="sample">
                {stream} has no records to show.
              </p>
            ) : (
              <RecordTable
                label={`Sample of ${stream}`}
                columns={columnsOf(records)}
                rows={records as Array<Record<string, unknown>>}
                testId="sample"
              />
            )
          ) : null}
        </>
      ) : (
        <>
          <button type="button" disabled={busy} onClick={() => void dryRun()}>
            Dry run
          </button>
          {results ? (
            <table className="list" aria-label="Dry run">
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Request body or reason</th>
                </tr>
              </thead>
              <tbody>
                {results.map((r) => (
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
        </>
      )}
      <button type="button" className="primary" onClick={() => props.dispatch({ type: 'next' })}>
        Continue
      </button>
    </>
  );
}
