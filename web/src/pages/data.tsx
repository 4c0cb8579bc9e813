import { useEffect, useState } from 'react';
import { api } from '../api';
import { ErrorAlert } from '../form';

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
