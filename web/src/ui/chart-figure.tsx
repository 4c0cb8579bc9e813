import type { ReactNode } from 'react';
import { ColumnHeads } from './record-table';

/**
 * A chart with its title, a sentence saying what it shows, and its numbers as a table under it: the
 * sentence is also the chart's accessible name, and the table is what a screen reader (or a test) reads.
 */
export function ChartFigure(props: {
  /** Id of the figure: `data-testid`, and `<id>-title` for its heading. Example: `health-duration`. */
  id: string;
  title: string;
  /** One sentence saying what the chart shows, with its headline number. */
  summary: string;
  chart: ReactNode;
  table: ReactNode;
}) {
  return (
    <figure className="insight" aria-labelledby={`${props.id}-title`} data-testid={props.id}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      <figcaption className="hint">{props.summary}</figcaption>
      <div role="img" aria-label={`${props.title}: ${props.summary}`} className="chart">
        {props.chart}
      </div>
      {props.table}
    </figure>
  );
}

/**
 * A plain numbers table: a header row, then one row per item. `rowHeader` makes the first cell of each
 * row a `<th scope="row">` (default false).
 */
export function NumbersTable<T>(props: {
  /** The table's accessible name, e.g. `Outcome numbers`. */
  label: string;
  columns: readonly string[];
  rows: readonly T[];
  keyOf: (row: T) => string;
  cells: (row: T) => readonly ReactNode[];
  rowHeader?: boolean;
  /** A class per column for its body cells, e.g. `[undefined, 'nowrap']`; default none. */
  classes?: readonly (string | undefined)[];
}) {
  return (
    <table className="list compact" aria-label={props.label}>
      <ColumnHeads columns={props.columns} />
      <tbody>
        {props.rows.map((row) => {
          const [first, ...rest] = props.cells(row);
          return (
            <tr key={props.keyOf(row)}>
              {props.rowHeader ? (
                <th scope="row" className={props.classes?.[0]}>
                  {first}
                </th>
              ) : (
                <td className={props.classes?.[0]}>{first}</td>
              )}
              {rest.map((c, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: a cell's identity is its column, fixed per table
                <td key={i} className={props.classes?.[i + 1]}>
                  {c}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
