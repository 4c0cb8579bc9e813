import { useState } from 'react';
import type { Credential, StreamInfo } from '../../api';

/** Whether the credential may use a permission (`Candidates: Read`): yes, no or unknown. */
export function access(c: Credential | undefined, permission: string): string {
  const [module, level] = permission.split(': ');
  const p = c?.verification?.permissions.find((x) => x.module === module);
  const v = level === 'Write' ? p?.write : p?.read;
  return v === 'allowed' ? 'yes' : v === 'missing' ? 'no' : 'unknown';
}

/**
 * The streams of a source flow: a search box, select all / none over what the search shows, and per
 * stream its mode (incremental reads only changes after the first run; full re-reads every run), the
 * requests a full pass takes, and whether the key may read it.
 */
export function StreamPicker(props: {
  streams: StreamInfo[];
  chosen: string[];
  credential: Credential | undefined;
  onChange: (chosen: string[]) => void;
}) {
  const [search, setSearch] = useState('');
  const needle = search.trim().toLowerCase();
  const shown = props.streams.filter((s) => needle === '' || s.name.includes(needle));
  const chosen = new Set(props.chosen);
  const setAll = (on: boolean) => {
    const next = new Set(chosen);
    for (const s of shown) {
      if (on) next.add(s.name);
      else next.delete(s.name);
    }
    props.onChange(props.streams.map((s) => s.name).filter((n) => next.has(n)));
  };
  return (
    <fieldset className="stream-picker">
      <legend>Streams</legend>
      <div className="toolbar">
        <label htmlFor="stream-search" className="sr-only">
          Search streams
        </label>
        <input
          id="stream-search"
          type="search"
          placeholder="Search streams"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="button" onClick={() => setAll(true)}>
          Select all{needle ? ' shown' : ''}
        </button>
        <button type="button" onClick={() => setAll(false)}>
          Select none{needle ? ' shown' : ''}
        </button>
        <span className="muted" data-testid="streams-chosen">
          {props.chosen.length} of {props.streams.length} selected
        </span>
      </div>
      <div className="scroll-y">
        <table className="list compact">
          <thead>
            <tr>
              <th scope="col">Sync</th>
              <th scope="col">Stream</th>
              <th scope="col">Mode</th>
              <th scope="col">Requests per full pass</th>
              <th scope="col">Needs</th>
              <th scope="col">Key may read</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((s) => {
              const may = access(props.credential, s.permission);
              return (
                <tr key={s.name} data-stream-choice={s.name}>
                  <td>
                    <input
                      type="checkbox"
                      id={`stream-${s.name}`}
                      checked={chosen.has(s.name)}
                      onChange={(e) =>
                        props.onChange(
                          e.target.checked
                            ? props.streams.map((x) => x.name).filter((n) => chosen.has(n) || n === s.name)
                            : props.chosen.filter((x) => x !== s.name),
                        )
                      }
                    />
                  </td>
                  <td>
                    <label htmlFor={`stream-${s.name}`} className="inline" title={s.description}>
                      {s.name}
                    </label>
                  </td>
                  <td>
                    <span
                      className="badge"
                      title={
                        s.incremental
                          ? 'After the first run, reads only what changed'
                          : 'Reads every record on every run'
                      }
                    >
                      {s.incremental ? 'incremental' : 'full'}
                    </span>
                  </td>
                  <td className="cost" data-testid="stream-cost">
                    {s.cost}
                  </td>
                  <td className="muted">{s.permission}</td>
                  <td className={`access ${may === 'yes' ? 'allowed' : may === 'no' ? 'missing' : ''}`}>
                    {may}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </fieldset>
  );
}
