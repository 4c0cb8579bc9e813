import { Hono } from 'hono';
import {
  type AnalyticsTarget,
  findView,
  installAnalytics,
  listAnalytics,
  openAnalyticsTarget,
  placeholder,
  quoteIdent,
} from '../../analytics/index.js';
import { redact } from '../../util/redact.js';
import { type ApiResponse, INSIGHT_VIEWS, type InsightView } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import type { ServerDeps } from '../context.js';
import { targetString } from '../engines.js';
import { ConflictError, HttpError, NotFoundError, ValidationError } from '../errors.js';
import type { Flow, SourceFlowConfig } from '../model.js';

/** 502: the flow's database could not be read (down, refused the login, schema gone). */
class TargetUnreachable extends HttpError {
  constructor(error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    super(502, 'target_unreachable', `The flow's target could not be read: ${redact(message)}`);
  }
}

/** The filters of a view's rows, checked. */
interface Filters {
  jobId: string | null;
  departmentId: string | null;
  from: string | null;
  to: string | null;
}

/** Views whose rows carry a date the date range filters on, and that column's first 10 characters. */
const DATE_COLUMN: Partial<Record<InsightView, string>> = {
  hires_by_source: 'hired_on',
  open_jobs_aging: 'opened_at',
};

/** `YYYY-MM-DD` that is a real day, or a 422 naming the parameter. */
function day(name: 'from' | 'to', value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  const ok =
    /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  if (!ok)
    throw new ValidationError(`${name}: expected a day as YYYY-MM-DD, got ${JSON.stringify(value)}`, [
      { path: name, message: 'expected YYYY-MM-DD' },
    ]);
  return value;
}

function filtersOf(query: Record<string, string | undefined>): Filters {
  const from = day('from', query.from);
  const to = day('to', query.to);
  if (from && to && from > to)
    throw new ValidationError(`from (${from}) is after to (${to})`, [{ path: 'from', message: 'after to' }]);
  return { jobId: query.jobId || null, departmentId: query.departmentId || null, from, to };
}

/**
 * `/api/v1/flows/{id}/insights`: the Insights page's data — the analytics views of a source flow's SQLite
 * or PostgreSQL target, read through the analytics store (the same connection code as `ashpipe
 * analytics`), filtered by job, department and date range on the server.
 */
export function insightsRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const source = async (id: string): Promise<Flow & { config: SourceFlowConfig }> => {
    const flow = await deps.store.getFlow(id);
    if (!flow) throw new NotFoundError('flow', id);
    if (flow.config.kind !== 'source')
      throw new ValidationError(`flow "${flow.name}" is a destination; insights read a source flow's target`);
    return flow as Flow & { config: SourceFlowConfig };
  };

  /** Opens the flow's target, runs `use`, closes it; an unreachable database is a 502. */
  const withTarget = async <T>(
    flow: Flow & { config: SourceFlowConfig },
    use: (t: AnalyticsTarget) => Promise<T>,
  ) => {
    if (flow.config.target.type === 'jsonl')
      throw new ValidationError(
        'Insights need a SQLite or PostgreSQL target: this flow writes JSONL files, which have no SQL to hold the analytics views',
        [{ path: 'target.type', message: 'needs sqlite or postgres' }],
        'insights_need_sql_target',
      );
    let target: AnalyticsTarget;
    try {
      target = openAnalyticsTarget(targetString(flow.config.target));
    } catch (error) {
      throw new TargetUnreachable(error);
    }
    try {
      return await use(target);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new TargetUnreachable(error);
    } finally {
      await target.close().catch(() => {});
    }
  };

  /** Views, jobs and departments of the target. */
  const status = async (
    target: AnalyticsTarget,
  ): Promise<Omit<ApiResponse<'insights'>, 'target' | 'supported'>> => {
    const views = await listAnalytics(target);
    const { tables } = await target.relations();
    const d = target.dialect;
    const jobs = tables.has('jobs')
      ? await target.query(
          `SELECT ${d.text('j', ['id'])} AS id, ${d.text('j', ['title'])} AS title,
             ${d.text('j', ['departmentId'])} AS department_id, ${d.text('j', ['status'])} AS status
           FROM ${d.table('jobs')} AS j WHERE j."_ashpipe_deleted_at" IS NULL ORDER BY 2, 1`,
        )
      : [];
    const names = new Map<string, string | null>();
    if (tables.has('departments')) {
      const rows = await target.query(
        `SELECT ${d.text('x', ['id'])} AS id, ${d.text('x', ['name'])} AS name
         FROM ${d.table('departments')} AS x WHERE x."_ashpipe_deleted_at" IS NULL`,
      );
      for (const r of rows) names.set(String(r.id), r.name === null ? null : String(r.name));
    }
    const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));
    const departmentIds = [...new Set(jobs.map((j) => str(j.department_id)).filter((v) => v !== null))];
    return {
      views: views.map((v) => ({ name: v.name, installed: v.installed, missing: v.missing })),
      jobs: jobs.map((j) => ({
        id: String(j.id),
        title: str(j.title),
        departmentId: str(j.department_id),
        status: str(j.status),
      })),
      departments: departmentIds
        .map((id) => ({ id, name: names.get(id) ?? null }))
        .sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id)),
    };
  };

  const fullStatus = async (flow: Flow & { config: SourceFlowConfig }): Promise<ApiResponse<'insights'>> => {
    const type = flow.config.target.type;
    if (type === 'jsonl') return { target: type, supported: false, views: [], jobs: [], departments: [] };
    return { target: type, supported: true, ...(await withTarget(flow, status)) };
  };

  app.get('/:id/insights', async (c) => c.json(await fullStatus(await source(c.req.param('id')))));

  app.post('/:id/insights/install', async (c) => {
    const flow = await source(c.req.param('id'));
    const views = await withTarget(flow, (t) => installAnalytics(t));
    return c.json({ views, status: await fullStatus(flow) } satisfies ApiResponse<'insightsInstalled'>);
  });

  app.get('/:id/insights/:view', async (c) => {
    const flow = await source(c.req.param('id'));
    const name = c.req.param('view').replace(/^analytics_/, '');
    if (!(INSIGHT_VIEWS as readonly string[]).includes(name))
      throw new NotFoundError('insights view', `${name} (one of ${INSIGHT_VIEWS.join(', ')})`);
    const insight = name as InsightView;
    const view = findView(`analytics_${insight}`);
    if (!view) throw new NotFoundError('analytics view', `analytics_${insight}`);
    const filters = filtersOf(c.req.query());
    const body = await withTarget(flow, async (target): Promise<ApiResponse<'insightsRows'>> => {
      const { views } = await target.relations();
      if (!views.has(view.name))
        throw new ConflictError(
          `${view.name} is not installed in the flow's target: install the analytics views (POST /flows/${flow.id}/insights/install, or the flow's "Install analytics views" option)`,
          'analytics_not_installed',
        );
      const d = target.dialect;
      const where: string[] = [];
      const params: string[] = [];
      const bind = (v: string) => {
        params.push(v);
        return placeholder(d, params.length);
      };
      if (filters.jobId) where.push(`v.job_id = ${bind(filters.jobId)}`);
      if (filters.departmentId) {
        where.push(
          insight === 'open_jobs_aging'
            ? `v.department_id = ${bind(filters.departmentId)}`
            : `v.job_id IN (SELECT ${d.text('j', ['id'])} FROM ${d.table('jobs')} AS j
                 WHERE j."_ashpipe_deleted_at" IS NULL AND ${d.text('j', ['departmentId'])} = ${bind(filters.departmentId)})`,
        );
      }
      const dated = DATE_COLUMN[insight];
      if (dated && filters.from) where.push(`SUBSTR(v.${quoteIdent(dated)}, 1, 10) >= ${bind(filters.from)}`);
      if (dated && filters.to) where.push(`SUBSTR(v.${quoteIdent(dated)}, 1, 10) <= ${bind(filters.to)}`);
      const columns = view.columns.map((col) => col.name);
      const order = view.orderBy.map((col) => `v.${quoteIdent(col)} NULLS FIRST`).join(', ');
      const rows = await target.query(
        `SELECT ${columns.map((col) => `v.${quoteIdent(col)}`).join(', ')} FROM ${d.table(view.name)} AS v
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`,
        params,
      );
      return {
        view: view.name,
        columns,
        rows,
        filters,
        dateRangeApplied: dated !== undefined && (filters.from !== null || filters.to !== null),
      };
    });
    return c.json(body);
  });

  return app;
}
