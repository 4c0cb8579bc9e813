import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  LabelList,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { type ApiResponse, api, type Flow, type InsightsRows, type InsightsStatus } from '../api';
import { ErrorAlert, errorText } from '../form';
import { ChartFigure, NumbersTable } from '../ui/chart-figure';

type Row = InsightsRows['rows'][number];
type Filters = { jobId: string; departmentId: string; from: string; to: string };
const NO_FILTERS: Filters = { jobId: '', departmentId: '', from: '', to: '' };

/** The views the page charts, by the name the insights routes take. */
const VIEWS = ['application_funnel', 'time_in_stage', 'hires_by_source', 'open_jobs_aging'] as const;
type ViewName = (typeof VIEWS)[number];

type Cell = Row[string] | undefined;
const num = (v: Cell) => (typeof v === 'number' ? v : v === null || v === undefined ? 0 : Number(v));
const str = (v: Cell) => (v === null || v === undefined ? '' : String(v));
const days = (seconds: Cell) => Math.round((num(seconds) / 86_400) * 10) / 10;
const percent = (part: number, whole: number) => (whole === 0 ? '—' : `${Math.round((part / whole) * 100)}%`);

/**
 * Fills that differ by pattern as well as by colour, so series stay apart in grey, in print and for
 * readers who do not tell the colours apart: a light solid tint, diagonal hatch, dots, cross-hatch, horizontal
 * lines — light enough that a dark value label on a bar stays legible.
 */
const PATTERNS = [
  { id: 'ins-solid', colour: '#2f5fd0', draw: null, tint: '#b3c6f5' },
  { id: 'ins-hatch', colour: '#b54708', draw: 'M0,8 L8,0', tint: '#fff' },
  { id: 'ins-dots', colour: '#067647', draw: 'dots', tint: '#fff' },
  { id: 'ins-cross', colour: '#6941c6', draw: 'M0,0 L8,8 M0,8 L8,0', tint: '#fff' },
  { id: 'ins-lines', colour: '#c11574', draw: 'M0,4 L8,4', tint: '#fff' },
] as const;
const fillOf = (i: number) => `url(#${PATTERNS[i % PATTERNS.length]?.id})`;
const strokeOf = (i: number) => PATTERNS[i % PATTERNS.length]?.colour;
/** Value labels in one dark colour: a label would otherwise take its bar's pattern as its fill. */
const LABEL = '#1d2430';

/** The pattern definitions, once per page: an SVG the charts' fills refer to. */
function PatternDefs() {
  return (
    <svg width="0" height="0" aria-hidden="true" style={{ position: 'absolute' }}>
      <defs>
        {PATTERNS.map((p) => (
          <pattern key={p.id} id={p.id} width="8" height="8" patternUnits="userSpaceOnUse">
            <rect width="8" height="8" fill={p.tint} />
            {p.draw === 'dots' ? (
              <circle cx="4" cy="4" r="2" fill={p.colour} />
            ) : p.draw ? (
              <path d={p.draw} stroke={p.colour} strokeWidth="2" />
            ) : null}
          </pattern>
        ))}
      </defs>
    </svg>
  );
}

function Empty(props: { id: string; title: string; children: React.ReactNode }) {
  return (
    <section className="insight" aria-labelledby={`${props.id}-title`} data-testid={props.id}>
      <h2 id={`${props.id}-title`}>{props.title}</h2>
      <p className="empty" role="note">
        {props.children}
      </p>
    </section>
  );
}

// ------------------------------------------------------------------------------------------ funnel

interface FunnelStage {
  stage: string;
  /** Archive stages come after every stage of the plan, whatever their number. */
  archive: boolean;
  order: number;
  entered: number;
  advanced: number;
  archived: number;
  currentlyIn: number;
}

/** The funnel of the jobs shown, per stage title: jobs share stage names, not stage ids. */
function funnelStages(rows: Row[]): FunnelStage[] {
  const by = new Map<string, FunnelStage>();
  for (const r of rows) {
    const stage = str(r.stage_title) || str(r.stage_id);
    const s = by.get(stage) ?? {
      stage,
      archive: false,
      order: num(r.stage_number),
      entered: 0,
      advanced: 0,
      archived: 0,
      currentlyIn: 0,
    };
    s.order = Math.min(s.order, num(r.stage_number));
    s.archive ||= num(r.archive_stage) === 1;
    s.entered += num(r.entered);
    s.advanced += num(r.advanced);
    s.archived += num(r.archived);
    s.currentlyIn += num(r.currently_in);
    by.set(stage, s);
  }
  return [...by.values()].sort(
    (a, b) =>
      Number(a.archive) - Number(b.archive) ||
      a.order - b.order ||
      b.entered - a.entered ||
      a.stage.localeCompare(b.stage),
  );
}

function Funnel(props: { rows: Row[] }) {
  const stages = funnelStages(props.rows);
  if (stages.length === 0)
    return (
      <Empty id="insight-funnel" title="Application funnel">
        No stage history for these filters yet: the funnel needs the application_stage_history stream synced,
        and applications that have entered a stage.
      </Empty>
    );
  return (
    <ChartFigure
      id="insight-funnel"
      title="Application funnel"
      summary={`Applications that entered each stage, ${stages[0]?.entered ?? 0} at the first; each bar is labelled with its count.`}
      chart={
        <ResponsiveContainer width="100%" height={Math.max(160, stages.length * 34 + 40)}>
          <BarChart data={stages} layout="vertical" margin={{ left: 8, right: 48 }}>
            <CartesianGrid horizontal={false} strokeDasharray="3 3" />
            <XAxis type="number" allowDecimals={false} />
            <YAxis type="category" dataKey="stage" width={170} />
            <Tooltip />
            <Bar
              dataKey="entered"
              name="Entered"
              fill={fillOf(0)}
              stroke={strokeOf(0)}
              isAnimationActive={false}
            >
              <LabelList fill={LABEL} dataKey="entered" position="right" />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      }
      table={
        <NumbersTable
          label="Funnel numbers"
          columns={['Stage', 'Entered', 'Advanced', 'Archived', 'In it now', 'Conversion to next']}
          rows={stages}
          keyOf={(s) => s.stage}
          cells={(s) => [
            s.stage,
            s.entered,
            s.advanced,
            s.archived,
            s.currentlyIn,
            percent(s.advanced, s.entered),
          ]}
          rowHeader
        />
      }
    />
  );
}

// ---------------------------------------------------------------------------------- time in stage

function TimeInStage(props: { rows: Row[]; funnel: Row[]; jobName: (id: string, title: string) => string }) {
  // Stages in their funnel order (archive stages last, then the stage's number), jobs by title: the view
  // orders by ids. An archive stage has no stays that ended, but stays are kept in order all the same.
  const order = new Map(
    props.funnel.map((f) => [
      `${str(f.job_id)}/${str(f.stage_id)}`,
      num(f.archive_stage) * 1e6 + num(f.stage_number),
    ]),
  );
  const at = (r: Row) => order.get(`${str(r.job_id)}/${str(r.stage_id)}`) ?? 0;
  const rows = props.rows
    .filter((r) => num(r.stays) > 0)
    .sort(
      (a, b) =>
        str(a.job_title).localeCompare(str(b.job_title)) ||
        str(a.job_id).localeCompare(str(b.job_id)) ||
        at(a) - at(b),
    );
  if (rows.length === 0)
    return (
      <Empty id="insight-time" title="Time in stage">
        No application has left a stage yet for these filters: time in stage counts stays that ended, so it
        needs more history.
      </Empty>
    );
  const oneJob = new Set(rows.map((r) => r.job_id)).size === 1;
  const data = rows.map((r) => ({
    label: oneJob
      ? str(r.stage_title)
      : `${props.jobName(str(r.job_id), str(r.job_title))} · ${str(r.stage_title)}`,
    median: days(r.median_seconds),
    p90: days(r.p90_seconds),
    stays: num(r.stays),
    key: `${str(r.job_id)}/${str(r.stage_id)}`,
  }));
  return (
    <ChartFigure
      id="insight-time"
      title="Time in stage"
      summary="Median and 90th percentile days in each stage, over the stays that ended; solid bars are medians, hatched bars p90s, each labelled in days."
      chart={
        <ResponsiveContainer width="100%" height={Math.max(180, data.length * 46 + 60)}>
          <BarChart data={data} layout="vertical" margin={{ left: 8, right: 48 }}>
            <CartesianGrid horizontal={false} strokeDasharray="3 3" />
            <XAxis type="number" unit=" d" />
            <YAxis type="category" dataKey="label" width={oneJob ? 170 : 300} />
            <Tooltip />
            <Legend />
            <Bar
              dataKey="median"
              name="Median (days)"
              fill={fillOf(0)}
              stroke={strokeOf(0)}
              isAnimationActive={false}
            >
              <LabelList fill={LABEL} dataKey="median" position="right" />
            </Bar>
            <Bar
              dataKey="p90"
              name="p90 (days)"
              fill={fillOf(1)}
              stroke={strokeOf(1)}
              isAnimationActive={false}
            >
              <LabelList fill={LABEL} dataKey="p90" position="right" />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      }
      table={
        <NumbersTable
          label="Time in stage numbers"
          columns={[oneJob ? 'Stage' : 'Job · stage', 'Stays ended', 'Median (days)', 'p90 (days)']}
          rows={data}
          keyOf={(d) => d.key}
          cells={(d) => [d.label, d.stays, d.median, d.p90]}
          rowHeader
        />
      }
    />
  );
}

// ---------------------------------------------------------------------------------- hires by source

/** The period a hire day falls in: its month, or its year when the hires span more than two years. */
function periods(daysHired: string[]): {
  of: (day: string) => string;
  all: string[];
  unit: 'month' | 'year';
} {
  const sorted = [...daysHired].sort();
  const first = sorted[0] ?? '';
  const last = sorted[sorted.length - 1] ?? '';
  const month = (d: string) => Number(d.slice(0, 4)) * 12 + Number(d.slice(5, 7)) - 1;
  const span = month(last) - month(first);
  if (span > 24) {
    const all: string[] = [];
    for (let y = Number(first.slice(0, 4)); y <= Number(last.slice(0, 4)); y++) all.push(String(y));
    return { of: (d) => d.slice(0, 4), all, unit: 'year' };
  }
  const all: string[] = [];
  for (let m = month(first); m <= month(last); m++)
    all.push(`${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}`);
  return { of: (d) => d.slice(0, 7), all, unit: 'month' };
}

function HiresBySource(props: { rows: Row[] }) {
  const { rows } = props;
  if (rows.length === 0)
    return (
      <Empty id="insight-hires" title="Hires by source over time">
        No hires for these filters: a hire is an application with status Hired, dated when it entered its last
        stage.
      </Empty>
    );
  const sources = [...new Set(rows.map((r) => str(r.source_title) || 'No source'))].sort();
  const p = periods(rows.map((r) => str(r.hired_on)));
  const counts = new Map<string, number>();
  for (const r of rows) {
    const k = `${p.of(str(r.hired_on))}|${str(r.source_title) || 'No source'}`;
    counts.set(k, (counts.get(k) ?? 0) + num(r.hires));
  }
  const data = p.all.map((period) => {
    const point: Record<string, string | number> = { period };
    for (const s of sources) point[s] = counts.get(`${period}|${s}`) ?? 0;
    return point;
  });
  const total = rows.reduce((n, r) => n + num(r.hires), 0);
  return (
    <ChartFigure
      id="insight-hires"
      title="Hires by source over time"
      summary={`${total} hires, counted per ${p.unit} and stacked by source; each source has its own pattern and each part is labelled with its count.`}
      chart={
        <>
          {p.all.length < 2 ? (
            <p className="note" role="note">
              All these hires fall in one {p.unit}: a trend needs more history.
            </p>
          ) : null}
          <ResponsiveContainer width="100%" height={280}>
            <BarChart data={data} margin={{ top: 16, right: 16 }}>
              <CartesianGrid vertical={false} strokeDasharray="3 3" />
              <XAxis dataKey="period" />
              <YAxis allowDecimals={false} />
              <Tooltip />
              <Legend />
              {sources.map((s, i) => (
                <Bar
                  key={s}
                  dataKey={s}
                  stackId="hires"
                  fill={fillOf(i)}
                  stroke={strokeOf(i)}
                  isAnimationActive={false}
                >
                  <LabelList
                    fill={LABEL}
                    dataKey={s}
                    position="center"
                    formatter={(v: unknown) => (Number(v) > 0 ? String(v) : '')}
                  />
                </Bar>
              ))}
            </BarChart>
          </ResponsiveContainer>
        </>
      }
      table={
        <NumbersTable
          label="Hires by source numbers"
          columns={[p.unit === 'year' ? 'Year' : 'Month', 'Source', 'Hires']}
          rows={p.all.flatMap((period) =>
            sources.filter((s) => (counts.get(`${period}|${s}`) ?? 0) > 0).map((s) => ({ period, s })),
          )}
          keyOf={(r) => `${r.period}|${r.s}`}
          cells={(r) => [r.period, r.s, counts.get(`${r.period}|${r.s}`)]}
          rowHeader
        />
      }
    />
  );
}

// ---------------------------------------------------------------------------------- open jobs aging

function OpenJobsAging(props: {
  rows: Row[];
  departmentName: (id: string) => string;
  jobName: (id: string, title: string) => string;
}) {
  const { rows } = props;
  if (rows.length === 0)
    return (
      <Empty id="insight-aging" title="Open jobs aging">
        No open job for these filters.
      </Empty>
    );
  const data = rows.map((r) => ({
    job: props.jobName(str(r.job_id), str(r.job_title)),
    key: str(r.job_id),
    age: r.age_days === null ? 0 : num(r.age_days),
    known: r.age_days !== null,
    active: num(r.active_applications),
    department: props.departmentName(str(r.department_id)),
    opened: str(r.opened_at).slice(0, 10),
  }));
  return (
    <ChartFigure
      id="insight-aging"
      title="Open jobs aging"
      summary="Days each open job has been open, labelled with the days and the applications still active on it."
      chart={
        <ResponsiveContainer width="100%" height={Math.max(140, data.length * 34 + 40)}>
          <BarChart data={data} layout="vertical" margin={{ left: 8, right: 140 }}>
            <CartesianGrid horizontal={false} strokeDasharray="3 3" />
            <XAxis type="number" unit=" d" allowDecimals={false} />
            <YAxis type="category" dataKey="job" width={300} />
            <Tooltip />
            <Bar
              dataKey="age"
              name="Days open"
              fill={fillOf(3)}
              stroke={strokeOf(3)}
              isAnimationActive={false}
            >
              <LabelList
                position="right"
                content={(label) => {
                  const d = data[Number(label.index)];
                  if (!d) return null;
                  const x = Number(label.x ?? 0) + Number(label.width ?? 0) + 6;
                  const y = Number(label.y ?? 0) + Number(label.height ?? 0) / 2 + 4;
                  return (
                    <text x={x} y={y} fontSize={12} fill={LABEL}>
                      {d.known ? `${d.age} d` : 'never opened'} · {d.active} active
                    </text>
                  );
                }}
              />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      }
      table={
        <NumbersTable
          label="Open jobs aging numbers"
          columns={['Job', 'Department', 'Opened', 'Days open', 'Active applications']}
          rows={data}
          keyOf={(d) => d.key}
          cells={(d) => [d.job, d.department, d.opened || '—', d.known ? d.age : '—', d.active]}
          classes={[undefined, undefined, 'nowrap']}
          rowHeader
        />
      }
    />
  );
}

// ----------------------------------------------------------------------------------------- the page

const query = (f: Filters) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};

/**
 * A source flow's Insights: the analytics views of its target as charts, each with its numbers as a
 * table, filtered by job, department and date range on the server.
 */
export function InsightsPage(props: { flowId: string }) {
  const { flowId } = props;
  const [flow, setFlow] = useState<Flow>();
  const [status, setStatus] = useState<InsightsStatus>();
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [data, setData] = useState<Partial<Record<ViewName, Row[]>>>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);

  const loadStatus = useCallback(async () => {
    try {
      const [f, s] = await Promise.all([
        api<ApiResponse<'flow'>>('GET', `/flows/${flowId}`),
        api<InsightsStatus>('GET', `/flows/${flowId}/insights`),
      ]);
      setFlow(f.flow);
      setStatus(s);
    } catch (e) {
      setError(errorText(e));
    }
  }, [flowId]);
  useEffect(() => {
    void loadStatus();
  }, [loadStatus]);

  const ready =
    status?.supported === true &&
    VIEWS.every((v) => status.views.find((x) => x.name === `analytics_${v}`)?.installed);

  // Only the latest request may set the charts: filters changed quickly answer out of order.
  const generation = useRef(0);
  useEffect(() => {
    if (!ready) return;
    const mine = ++generation.current;
    setData(undefined);
    void (async () => {
      try {
        const answers = await Promise.all(
          VIEWS.map((v) => api<InsightsRows>('GET', `/flows/${flowId}/insights/${v}${query(filters)}`)),
        );
        if (mine !== generation.current) return;
        setData(Object.fromEntries(VIEWS.map((v, i) => [v, answers[i]?.rows ?? []])));
        setError(undefined);
      } catch (e) {
        if (mine === generation.current) setError(errorText(e));
      }
    })();
  }, [ready, flowId, filters]);

  const install = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<ApiResponse<'insightsInstalled'>>('POST', `/flows/${flowId}/insights/install`);
      setStatus(r.status);
      const made = r.views.filter((v) => v.status === 'installed').length;
      setNotice(`Installed ${made} analytics views.`);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const departmentName = useMemo(() => {
    const names = new Map((status?.departments ?? []).map((d) => [d.id, d.name ?? d.id]));
    return (id: string) => (id ? (names.get(id) ?? id) : '—');
  }, [status]);
  // Jobs may share a title (a role reopened): those are told apart by status and the end of their id.
  const jobName = useMemo(() => {
    const all = status?.jobs ?? [];
    const count = new Map<string, number>();
    for (const j of all) count.set(j.title ?? '', (count.get(j.title ?? '') ?? 0) + 1);
    const byId = new Map(all.map((j) => [j.id, j]));
    return (id: string, title: string) => {
      const j = byId.get(id);
      const name = title || j?.title || id;
      return (count.get(j?.title ?? title) ?? 0) > 1
        ? `${name} (${j?.status ?? '?'} …${id.slice(-4)})`
        : name;
    };
  }, [status]);
  const jobs = (status?.jobs ?? []).filter(
    (j) => !filters.departmentId || j.departmentId === filters.departmentId,
  );
  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));

  const heading = (
    <>
      <h1 id="ins-title">Insights{flow ? ` — ${flow.name}` : ''}</h1>
      <p className="hint">
        Recruiting analytics from the views in this flow’s target (<a href="#/flows">flows</a>): the funnel,
        time in stage, hires by source and open jobs. They read the synced tables live, so they show the
        latest run’s data.
      </p>
    </>
  );

  if (status && !status.supported)
    return (
      <section aria-labelledby="ins-title">
        {heading}
        <div className="empty" role="status" data-testid="insights-unsupported">
          <strong>Insights need a SQLite or PostgreSQL target.</strong>
          <p>
            This flow writes JSONL files, which have no SQL to hold the analytics views. Create a source flow
            into SQLite or PostgreSQL to see its insights.
          </p>
        </div>
      </section>
    );

  const missingViews = (status?.views ?? []).filter(
    (v) => VIEWS.some((n) => `analytics_${n}` === v.name) && !v.installed,
  );
  if (status && missingViews.length > 0) {
    const needTables = [...new Set(missingViews.flatMap((v) => v.missing))];
    return (
      <section aria-labelledby="ins-title">
        {heading}
        <ErrorAlert error={error} />
        <div className="empty" role="status" data-testid="insights-not-installed">
          <strong>The analytics views are not installed in this flow’s target.</strong>
          {needTables.length > 0 ? (
            <p>
              They read tables the target does not have yet: sync the streams{' '}
              {needTables.map((t, i) => (
                <span key={t}>
                  {i > 0 ? ', ' : ''}
                  <code>{t}</code>
                </span>
              ))}{' '}
              first (edit the flow, then run it).
            </p>
          ) : (
            <p>
              Install them now, or turn on “Install analytics views” in the flow’s settings so every run keeps
              them up to date with this version of ashpipe.
            </p>
          )}
          <button type="button" className="primary" disabled={busy} onClick={() => void install()}>
            Install analytics views
          </button>
        </div>
      </section>
    );
  }

  return (
    <section aria-labelledby="ins-title" className="insights">
      {heading}
      <PatternDefs />
      <ErrorAlert error={error} />
      {notice ? (
        <p className="note" role="status">
          {notice}
        </p>
      ) : null}
      <fieldset className="toolbar filters" aria-describedby="ins-filter-note">
        <legend className="sr-only">Filters</legend>
        <label htmlFor="ins-department">Department</label>
        <select
          id="ins-department"
          value={filters.departmentId}
          onChange={(e) => set({ departmentId: e.target.value, jobId: '' })}
        >
          <option value="">All departments</option>
          {(status?.departments ?? []).map((d) => (
            <option key={d.id} value={d.id}>
              {d.name ?? d.id}
            </option>
          ))}
        </select>
        <label htmlFor="ins-job">Job</label>
        <select id="ins-job" value={filters.jobId} onChange={(e) => set({ jobId: e.target.value })}>
          <option value="">All jobs</option>
          {jobs.map((j) => (
            <option key={j.id} value={j.id}>
              {jobName(j.id, j.title ?? '')}
            </option>
          ))}
        </select>
        <label htmlFor="ins-from">From</label>
        <input
          id="ins-from"
          type="date"
          value={filters.from}
          max={filters.to || undefined}
          onChange={(e) => set({ from: e.target.value })}
        />
        <label htmlFor="ins-to">To</label>
        <input
          id="ins-to"
          type="date"
          value={filters.to}
          min={filters.from || undefined}
          onChange={(e) => set({ to: e.target.value })}
        />
        <button
          type="button"
          disabled={Object.values(filters).every((v) => !v)}
          onClick={() => setFilters(NO_FILTERS)}
        >
          Clear filters
        </button>
      </fieldset>
      <p className="hint" id="ins-filter-note">
        Filters are applied by the server to the views’ rows. The date range (UTC days, both included) applies
        to hires (the day hired) and open jobs (the day opened); the funnel and time in stage cover all time.
      </p>
      {data ? (
        <div className="insight-grid" aria-busy="false">
          <Funnel rows={data.application_funnel ?? []} />
          <TimeInStage
            rows={data.time_in_stage ?? []}
            funnel={data.application_funnel ?? []}
            jobName={jobName}
          />
          <HiresBySource rows={data.hires_by_source ?? []} />
          <OpenJobsAging
            rows={data.open_jobs_aging ?? []}
            departmentName={departmentName}
            jobName={jobName}
          />
        </div>
      ) : (
        <p className="muted" aria-busy="true">
          Loading…
        </p>
      )}
    </section>
  );
}
