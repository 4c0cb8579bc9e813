/** Whether a column holds ids, which stay on one line. */
function isIdColumn(name: string): boolean {
  return name === 'id' || /(_id|Id)$/.test(name);
}

/** One cell: a scalar as text; an object or array folded, expandable to its JSON. */
export function Cell(props: { value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined) return <span className="muted">—</span>;
  if (typeof v === 'object') {
    const summary = Array.isArray(v) ? `[${v.length} items]` : `{${Object.keys(v).length} fields}`;
    return (
      <details className="json-cell">
        <summary>{summary}</summary>
        <pre>{JSON.stringify(v, null, 2)}</pre>
      </details>
    );
  }
  const text = String(v);
  return (
    <span title={text.length > 120 ? text : undefined}>
      {text.length > 120 ? `${text.slice(0, 120)}…` : text}
    </span>
  );
}

/** The columns of a set of records, in first-seen order. */
export function columnsOf(records: readonly unknown[]): string[] {
  const seen = new Set<string>();
  for (const r of records) {
    if (typeof r === 'object' && r !== null) for (const k of Object.keys(r)) seen.add(k);
  }
  return [...seen];
}

/** A table's header row: one column heading per name. */
export function ColumnHeads(props: { columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** Records as a table: ids on one line, nested values expandable. */
export function RecordTable(props: {
  label: string;
  columns: readonly string[];
  rows: ReadonlyArray<Record<string, unknown>>;
  testId?: string;
}) {
  return (
    <div className="scroll" data-testid={props.testId}>
      <table className="list records" aria-label={props.label}>
        <ColumnHeads columns={props.columns} />
        <tbody>
          {props.rows.map((r, i) => (
            <tr key={typeof r.id === 'string' ? r.id : i}>
              {props.columns.map((c) => (
                <td key={c} className={isIdColumn(c) ? 'nowrap' : undefined}>
                  <Cell value={r[c]} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
