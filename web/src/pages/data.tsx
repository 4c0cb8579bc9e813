import { useEffect, useState } from 'react';
import { ApiError, type ApiResponse, api, type Flow } from '../api';
import { ErrorAlert, errorText, useApiList } from '../form';
import { RecordTable } from '../ui/record-table';

type Tables = ApiResponse<'datasets'>['tables'];
type Page = ApiResponse<'preview'>;

const PAGE = 25;

/** A preview error in words a person can act on. */
function previewError(e: unknown, table: string): string {
  if (e instanceof ApiError && e.status === 404)
    return `"${table}" has not been synced yet: run the flow, then come back.`;
  return `The table could not be read: ${errorText(e)}`;
}

/**
 * The synced tables of a source flow: pick the flow, then a table from its list (with row counts); the
 * rows show business columns first and bookkeeping (`_ashpipe_*`) last, ids on one line, JSON folded.
 */
export function DataPreview(props: { flowId?: string | undefined }) {
  const [error, setError] = useState<string>();
  const [loaded, setLoaded] = useState(false);
  const { items: flows } = useApiList(
    '/flows',
    (r: ApiResponse<'flows'>) => {
      setLoaded(true);
      return r.flows;
    },
    setError,
  );
  const sources = flows.filter((f: Flow) => f.kind === 'source');
  const [chosenFlow, setChosenFlow] = useState(props.flowId);
  const flowId = chosenFlow ?? sources[0]?.id;
  const [tables, setTables] = useState<Tables>();
  const [table, setTable] = useState<string>();
  const [offset, setOffset] = useState(0);
  const [includeDeleted, setIncludeDeleted] = useState(false);
  const [page, setPage] = useState<Page>();

  useEffect(() => {
    setTables(undefined);
    setPage(undefined);
    if (!flowId) return;
    api<ApiResponse<'datasets'>>('GET', `/datasets?flowId=${encodeURIComponent(flowId)}`).then(
      (r) => {
        setTables(r.tables);
        setTable((t) =>
          t && r.tables.some((x) => x.name === t)
            ? t
            : (r.tables.find((x) => x.name === 'candidates') ?? r.tables[0])?.name,
        );
        setOffset(0);
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, [flowId]);

  useEffect(() => {
    if (!flowId || !table) return;
    setError(undefined);
    const q = new URLSearchParams({
      flowId,
      limit: String(PAGE),
      offset: String(offset),
      ...(includeDeleted ? { includeDeleted: 'true' } : {}),
    });
    api<Page>('GET', `/datasets/${encodeURIComponent(table)}/preview?${q}`).then(setPage, (e: unknown) => {
      setPage(undefined);
      setError(previewError(e, table));
    });
  }, [flowId, table, offset, includeDeleted]);

  const noSources = loaded && sources.length === 0 && !props.flowId;
  return (
    <section aria-labelledby="data-title" className="data-preview">
      <h1 id="data-title">Data preview</h1>
      {noSources ? (
        <div className="empty" data-testid="data-empty">
          No source flow yet. <a href="#/flows/new">Create a source flow</a>, run it, and its tables show
          here.
        </div>
      ) : (
        <div className="toolbar">
          <label htmlFor="data-flow">Flow</label>
          <select
            id="data-flow"
            value={flowId ?? ''}
            onChange={(e) => {
              setChosenFlow(e.target.value);
              setTable(undefined);
            }}
          >
            {sources.map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
          </select>
          <label className="inline">
            <input
              type="checkbox"
              checked={includeDeleted}
              onChange={(e) => {
                setIncludeDeleted(e.target.checked);
                setOffset(0);
              }}
            />{' '}
            Show deleted rows
          </label>
        </div>
      )}
      <ErrorAlert error={error} />
      {tables && tables.length === 0 ? (
        <div className="empty" data-testid="data-empty">
          Nothing synced yet. Run the flow (<a href={`#/flows`}>Flows</a> → Run now) and its tables show here.
        </div>
      ) : null}
      {tables && tables.length > 0 ? (
        <div className="data-layout">
          <nav aria-label="Tables">
            <ul className="table-list">
              {tables.map((t) => (
                <li key={t.name}>
                  <button
                    type="button"
                    aria-current={t.name === table ? 'true' : undefined}
                    data-table={t.name}
                    onClick={() => {
                      setTable(t.name);
                      setOffset(0);
                    }}
                  >
                    <span>{t.name}</span> <span className="muted">{t.rows.toLocaleString()}</span>
                  </button>
                </li>
              ))}
            </ul>
          </nav>
          <div className="data-rows">
            {page && page.stream === table ? (
              <>
                <p>
                  {page.total === 0
                    ? `${page.stream} has no rows${page.deleted > 0 && !includeDeleted ? ` (${page.deleted} deleted)` : ''}.`
                    : `${page.total.toLocaleString()} rows · showing ${page.offset + 1}–${Math.min(page.offset + page.limit, page.total)}`}
                </p>
                {page.rows.length > 0 ? (
                  <RecordTable label={`Rows of ${page.stream}`} columns={page.columns} rows={page.rows} />
                ) : null}
                <div className="toolbar">
                  <button
                    type="button"
                    disabled={offset === 0}
                    onClick={() => setOffset(Math.max(0, offset - PAGE))}
                  >
                    Previous
                  </button>
                  <button
                    type="button"
                    disabled={offset + PAGE >= page.total}
                    onClick={() => setOffset(offset + PAGE)}
                  >
                    Next
                  </button>
                </div>
              </>
            ) : null}
          </div>
        </div>
      ) : null}
    </section>
  );
}
