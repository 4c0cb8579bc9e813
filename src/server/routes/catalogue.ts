import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../auth.js';
import { paging, readBody, type ServerDeps } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Flow } from '../model.js';
import { resolveFlowPaths } from '../paths.js';
import type { ReplayResult } from '../services.js';

/** `/api/v1/streams` and `/api/v1/operations`: what sources can read and destinations can write. */
export function catalogueRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/streams', (c) => c.json({ streams: deps.services.streams() }));
  app.get('/operations', (c) => c.json({ operations: deps.services.operations() }));
  return app;
}

/**
 * `/api/v1/datasets?flowId=…`: the synced tables of a source flow with their row counts;
 * `/api/v1/datasets/:stream/preview?flowId=…[&includeDeleted=true]`: a page of one of them.
 */
export function datasetRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const flowId = c.req.query('flowId');
    if (!flowId) throw new ValidationError('choose the source flow whose tables to list (flowId)');
    const flow = deps.store.getFlow(flowId);
    if (!flow) throw new NotFoundError('flow', flowId);
    if (flow.config.kind !== 'source') throw new ValidationError(`flow "${flow.name}" is not a source flow`);
    const resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
    return c.json({ flowId: flow.id, tables: await deps.services.datasets.tables(resolved) });
  });
  app.get('/:stream/preview', async (c) => {
    const stream = c.req.param('stream');
    const flowId = c.req.query('flowId');
    let flow: Flow | undefined;
    if (flowId) {
      flow = deps.store.getFlow(flowId);
      if (!flow) throw new NotFoundError('flow', flowId);
    } else {
      // Without a flow: the first source flow that syncs this stream (an empty list means every stream).
      flow = deps.store
        .listFlows()
        .find(
          (f) =>
            f.config.kind === 'source' &&
            (f.config.streams.length === 0 || f.config.streams.includes(stream)),
        );
      if (!flow)
        throw new ValidationError(`no source flow syncs "${stream}"; choose the flow to preview (flowId)`);
    }
    const page = paging(c, { limit: 50, max: 500 });
    const includeDeleted = z.enum(['true', 'false']).default('false').parse(c.req.query('includeDeleted'));
    // The target is read where the flow's checked, real path says, never where a link now points.
    const resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
    return c.json(
      await deps.services.datasets.preview(resolved, stream, page, {
        includeDeleted: includeDeleted === 'true',
      }),
    );
  });
  return app;
}

/** One CSV cell (RFC 4180 quoting); a leading formula character is neutralised for spreadsheets. */
function csvCell(value: unknown): string {
  let text =
    value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = [
  'id',
  'createdAt',
  'flowId',
  'runId',
  'operation',
  'row',
  'errorCode',
  'fieldPath',
  'errorMessage',
  'status',
  'record',
] as const;

const statusParam = z.enum(['open', 'replayed', 'resolved', 'dismissed', 'all']).default('open');

/** `/api/v1/quarantine`: records the destination engine set aside; list, export (JSONL or CSV), replay. */
export function quarantineRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const service = () => {
    const q = deps.services.quarantine;
    if (!q) throw new NotFoundError('feature', 'quarantine');
    return q;
  };
  const filter = (c: Parameters<typeof paging>[0]) => {
    const flowId = c.req.query('flowId');
    const runId = c.req.query('runId');
    const operation = c.req.query('operation');
    return {
      ...(flowId ? { flowId } : {}),
      ...(runId ? { runId } : {}),
      ...(operation ? { operation } : {}),
      status: statusParam.parse(c.req.query('status')),
    };
  };
  app.get('/', (c) => {
    const page = paging(c, { limit: 50, max: 500 });
    return c.json({ items: service().list({ ...filter(c), ...page }), ...page });
  });
  app.get('/export', (c) => {
    const format = z.enum(['jsonl', 'csv']).default('jsonl').parse(c.req.query('format'));
    const items = service().list({ ...filter(c), limit: 1_000_000, offset: 0 });
    if (format === 'csv') {
      const lines = [
        CSV_COLUMNS.join(','),
        ...items.map((i) => CSV_COLUMNS.map((k) => csvCell(i[k])).join(',')),
      ];
      c.header('Content-Type', 'text/csv; charset=utf-8');
      c.header('Content-Disposition', 'attachment; filename="quarantine.csv"');
      return c.body(`${lines.join('\r\n')}\r\n`);
    }
    c.header('Content-Type', 'application/x-ndjson');
    c.header('Content-Disposition', 'attachment; filename="quarantine.jsonl"');
    return c.body(items.map((i) => JSON.stringify(i)).join('\n') + (items.length > 0 ? '\n' : ''));
  });
  app.get('/:id', (c) => c.json({ item: service().get(c.req.param('id')) }));
  // Closing by hand: resolved (fixed elsewhere) or dismissed (not to be pushed); 409 unless open.
  for (const action of ['resolve', 'dismiss'] as const) {
    app.post(`/:id/${action}`, (c) => {
      const q = service();
      if (!q.close) throw new NotFoundError('feature', `quarantine ${action}`);
      return c.json({ item: q.close(c.req.param('id'), action === 'resolve' ? 'resolved' : 'dismissed') });
    });
  }
  // Replays run as a run of the flow (trigger `replay`): 409 while the flow runs, recorded in its history.
  app.post('/replay', async (c) => {
    const body = await readBody(
      c,
      z
        .object({
          ids: z.array(z.string().min(1)).min(1).max(10_000),
          /** The flow whose credential replays records the CLI quarantined (they name no flow). */
          flowId: z.string().optional(),
          dryRun: z.boolean().optional(),
        })
        .strict(),
    );
    const items = body.ids.map((id) => service().get(id));
    // An explicit flowId wins: records of a deleted flow, or quarantined by the CLI, replay with its key.
    const flowIds = new Set(items.map((i) => body.flowId ?? i.flowId));
    if (flowIds.size > 1)
      throw new ValidationError('the entries come from several flows; replay them one flow at a time');
    const flowId = [...flowIds][0];
    if (!flowId) throw new ValidationError('pass the flowId whose credential replays the records');
    const flow = deps.store.getFlow(flowId);
    if (!flow) throw new NotFoundError('flow', flowId);
    if (flow.kind !== 'destination') throw new ValidationError(`flow "${flow.name}" is not a destination`);
    const result: ReplayResult = { replayed: 0, failed: 0 };
    const engine = service().replayEngine(body.ids, result);
    const run = deps.scheduler.trigger(flow.id, 'replay', {
      engine,
      ...(body.dryRun ? { dryRun: true } : {}),
    });
    const finished = await deps.scheduler.waitFor(run.id);
    return c.json({ ...result, run: finished ?? run });
  });
  return app;
}
