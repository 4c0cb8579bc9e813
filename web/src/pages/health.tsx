import { useEffect, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { api, type Flow, type Run } from '../api';
import { ErrorAlert, errorText } from '../form';

/** Runs the charts cover: enough to see a trend, few enough to read each bar. */
const RUNS = 30;

/** Outcome colours that stay apart in grey too (solid, light, dark). */
const OUTCOME: Record<Run['status'], string> = {
  succeeded: '#067647',
  partial: '#b54708',
  failed: '#b42318',
  cancelled: '#667085',
  running: '#2f5fd0',
  queued: '#98a2b3',
};

/** One finished run as the charts see it, oldest first. */
interface Point {
  id: string;
  /** `#n`: the run's place in the window, for the x axis. */
  label: string;
  startedAt: string;
  status: Run['status'];
  seconds: number;
  records: number;
  requests: number;
  rateLimited: number;
}

function pointsOf(runs: readonly Run[]): Point[] {
  return runs
    .filter((r) => !r.dryRun && r.finishedAt !== null)
    .reverse()
    .map((r, i) => ({
      id: r.id,
      label: `#${i + 1}`,
      startedAt: r.startedAt,
      status: r.status,
      seconds: Math.round((Date.parse(r.finishedAt ?? r.startedAt) - Date.parse(r.startedAt)) / 100) / 10,
      records: r.counts.reduce((n, c) => n + c.read, 0),
      requests: r.counts.reduce((n, c) => n + (c.requests ?? 0), 0),
      rateLimited: r.counts.reduce((n, c) => n + (c.rateLimited ?? 0), 0),
    }));
}

/** How old each stream's data is: since the last run that read it completely. */
interface Freshness {
  stream: string;
  lastGoodAt: string | null;
  /** Hours, one decimal; null when no run has read it. */
  ageHours: number | null;
}

function freshnessOf(flow: Flow, runs: readonly Run[], now: number): Freshness[] {
  const streams =
    flow.config.kind === 'source'
      ? flow.config.streams
      : [...new Set(runs.flatMap((r) => r.counts.map((c) => c.name)))];
  return streams.map((stream) => {
    // Runs are newest first: the first that read the stream completely is the last good one.
    const good = runs.find(
      (r) => !r.dryRun && r.finishedAt && r.counts.some((c) => c.name === stream && c.status === 'succeeded'),
    );
    const lastGoodAt = good?.finishedAt ?? null;
    return {
      stream,
      lastGoodAt,
      ageHours: lastGoodAt === null ? null : Math.round((now - Date.parse(lastGoodAt)) / 360_000) / 10,
    };
  });
}

/** A chart with its title, a sentence saying what it shows, and its numbers as a table under it. */
function Figure(props: {
  id: string;
  title: string;
  summary: string;
  chart: React.ReactNode;
  table: React.ReactNode;
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

const when = (iso: string) => new Date(iso).toLocaleString();

function RunTable(props: {
  label: string;
  points: Point[];
  columns: Array<[string, (p: Point) => string | number]>;
}) {
  return (
    <table className="list compact" aria-label={props.label}>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Started</th>
          {props.columns.map(([name]) => (
            <th key={name} scope="col">
              {name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.points.map((p) => (
          <tr key={p.id}>
            <td>
              <a href={`#/runs/${p.id}`}>{p.label}</a>
            </td>
            <td>{when(p.startedAt)}</td>
            {props.columns.map(([name, value]) => (
              <td key={name}>{value(p)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Run health of one flow: its last runs (duration, records, requests, 429s, outcome) and its data's age. */
export function HealthPage(props: { flowId: string }) {
  const [flow, setFlow] = useState<Flow>();
  const [runs, setRuns] = useState<Run[]>([]);
  const [error, setError] = useState<string>();
  const [now] = useState(() => Date.now());
  useEffect(() => {
    Promise.all([
      api<{ flow: Flow }>('GET', `/flows/${props.flowId}`),
      api<{ runs: Run[] }>('GET', `/runs?flowId=${encodeURIComponent(props.flowId)}&limit=${RUNS}`),
    ]).then(
      ([f, r]) => {
        setFlow(f.flow);
        setRuns(r.runs);
      },
      (e) => setError(errorText(e)),
    );
  }, [props.flowId]);
  if (!flow)
    return (
      <section>
        <h1>Run health</h1>
        <ErrorAlert error={error} />
        {error ? null : <p className="muted">Loading…</p>}
      </section>
    );
  const points = pointsOf(runs);
  const outcomes = (['succeeded', 'partial', 'failed', 'cancelled'] as const).map((status) => ({
    status,
    runs: points.filter((p) => p.status === status).length,
  }));
  const freshness = freshnessOf(flow, runs, now);
  const promise = (flow.config.options as { alerts?: { freshnessMinutes?: number } }).alerts
    ?.freshnessMinutes;
  const axis = { fontSize: 12 };
  return (
    <section aria-labelledby="health-title" className="insights">
      <h1 id="health-title">Run health — {flow.name}</h1>
      <p className="muted">
        The last {points.length} finished run(s), oldest first. <a href="#/flows">Back to flows</a>
      </p>
      <ErrorAlert error={error} />
      {points.length === 0 ? (
        <p className="empty" role="note">
          No finished run yet: run the flow, then come back.
        </p>
      ) : (
        <div className="insight-grid">
          <Figure
            id="health-duration"
            title="Duration"
            summary={`Seconds per run; the longest took ${Math.max(...points.map((p) => p.seconds))} s.`}
            chart={
              <ResponsiveContainer width="100%" height={220}>
                <BarChart data={points} margin={{ top: 8, right: 16 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="label" tick={axis} />
                  <YAxis tick={axis} unit=" s" />
                  <Tooltip />
                  <Bar dataKey="seconds" name="Duration (s)" isAnimationActive={false}>
                    {points.map((p) => (
                      <Cell key={p.id} fill={OUTCOME[p.status]} />
                    ))}
                  </Bar>
                </BarChart>
              </ResponsiveContainer>
            }
            table={
              <RunTable
                label="Duration numbers"
                points={points}
                columns={[
                  ['Outcome', (p) => p.status],
                  ['Seconds', (p) => p.seconds],
                ]}
              />
            }
          />
          <Figure
            id="health-records"
            title="Records"
            summary={`Records read per run; ${points.reduce((n, p) => n + p.records, 0)} in all.`}
            chart={
              <ResponsiveContainer width="100%" height={220}>
                <BarChart data={points} margin={{ top: 8, right: 16 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="label" tick={axis} />
                  <YAxis tick={axis} allowDecimals={false} />
                  <Tooltip />
                  <Bar dataKey="records" name="Records read" fill="#2f5fd0" isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            }
            table={
              <RunTable
                label="Records numbers"
                points={points}
                columns={[['Records read', (p) => p.records]]}
              />
            }
          />
          <Figure
            id="health-requests"
            title="Requests and 429s"
            summary={`Requests to Ashby per run, and those answered 429 (rate limited): ${points.reduce((n, p) => n + p.rateLimited, 0)} in all.`}
            chart={
              <ResponsiveContainer width="100%" height={220}>
                <BarChart data={points} margin={{ top: 8, right: 16 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="label" tick={axis} />
                  <YAxis tick={axis} allowDecimals={false} />
                  <Tooltip />
                  <Legend />
                  <Bar dataKey="requests" name="Requests" fill="#6941c6" isAnimationActive={false} />
                  <Bar dataKey="rateLimited" name="429s" fill="#b42318" isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            }
            table={
              <RunTable
                label="Requests numbers"
                points={points}
                columns={[
                  ['Requests', (p) => p.requests],
                  ['429s', (p) => p.rateLimited],
                ]}
              />
            }
          />
          <Figure
            id="health-outcomes"
            title="Outcomes"
            summary={outcomes
              .filter((o) => o.runs > 0)
              .map((o) => `${o.runs} ${o.status}`)
              .join(', ')}
            chart={
              <ResponsiveContainer width="100%" height={180}>
                <BarChart data={outcomes} layout="vertical" margin={{ left: 8, right: 32 }}>
                  <XAxis type="number" tick={axis} allowDecimals={false} />
                  <YAxis type="category" dataKey="status" tick={axis} width={80} />
                  <Tooltip />
                  <Bar dataKey="runs" name="Runs" isAnimationActive={false}>
                    {outcomes.map((o) => (
                      <Cell key={o.status} fill={OUTCOME[o.status]} />
                    ))}
                  </Bar>
                </BarChart>
              </ResponsiveContainer>
            }
            table={
              <table className="list compact" aria-label="Outcome numbers">
                <thead>
                  <tr>
                    <th scope="col">Outcome</th>
                    <th scope="col">Runs</th>
                  </tr>
                </thead>
                <tbody>
                  {outcomes.map((o) => (
                    <tr key={o.status}>
                      <td>{o.status}</td>
                      <td>{o.runs}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            }
          />
        </div>
      )}
      <Figure
        id="health-freshness"
        title="Freshness per stream"
        summary={`Hours since each stream was last read completely${promise ? `; the promise is at most ${promise} min` : ''}.`}
        chart={
          <ResponsiveContainer width="100%" height={Math.max(120, freshness.length * 34 + 40)}>
            <BarChart
              data={freshness.map((f) => ({ ...f, age: f.ageHours ?? 0 }))}
              layout="vertical"
              margin={{ left: 8, right: 32 }}
            >
              <XAxis type="number" tick={axis} unit=" h" />
              <YAxis type="category" dataKey="stream" tick={axis} width={140} />
              <Tooltip />
              <Bar dataKey="age" name="Age (h)" fill="#067647" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        }
        table={
          <table className="list compact" aria-label="Freshness numbers">
            <thead>
              <tr>
                <th scope="col">Stream</th>
                <th scope="col">Last read completely</th>
                <th scope="col">Age (hours)</th>
                {promise ? <th scope="col">Within the promise</th> : null}
              </tr>
            </thead>
            <tbody>
              {freshness.map((f) => (
                <tr key={f.stream} data-stream={f.stream}>
                  <td>{f.stream}</td>
                  <td>{f.lastGoodAt ? when(f.lastGoodAt) : 'never'}</td>
                  <td>{f.ageHours ?? '—'}</td>
                  {promise ? (
                    <td>{f.ageHours !== null && f.ageHours * 60 <= promise ? 'yes' : 'no'}</td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        }
      />
    </section>
  );
}
