import type { Context } from 'hono';
import { Hono } from 'hono';
import {
  type ApiResponse,
  exportFormatParam,
  quarantineStatusParam,
  recordCheckBody,
  replayBody,
} from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { paging, readBody, type ServerDeps } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { ReplayResult } from '../services.js';

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
  'account',
  'record',
] as const;

/** Who acts, as recorded with the entries a request closes. */
function actorOf(c: Context<AppEnv>): string {
  const principal = c.get('principal');
  return principal.kind === 'token' ? `API token ${principal.tokenId}` : 'console';
}

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
      status: quarantineStatusParam.parse(c.req.query('status')),
    };
  };
  app.get('/', async (c) => {
    const page = paging(c, { limit: 50, max: 500 });
    return c.json({
      items: await service().list({ ...filter(c), ...page }),
      ...page,
    } satisfies ApiResponse<'quarantine'>);
  });
  app.get('/export', async (c) => {
    const format = exportFormatParam.parse(c.req.query('format'));
    const items = await service().list({ ...filter(c), limit: 1_000_000, offset: 0 });
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
  app.get('/:id', async (c) =>
    c.json({ item: await service().get(c.req.param('id')) } satisfies ApiResponse<'quarantineItem'>),
  );
  // Closing by hand: resolved (fixed elsewhere) or dismissed (not to be pushed); 409 unless open.
  for (const action of ['resolve', 'dismiss'] as const) {
    app.post(`/:id/${action}`, async (c) => {
      const q = service();
      if (!q.close) throw new NotFoundError('feature', `quarantine ${action}`);
      return c.json({
        item: await q.close(c.req.param('id'), action === 'resolve' ? 'resolved' : 'dismissed', actorOf(c)),
      } satisfies ApiResponse<'quarantineItem'>);
    });
  }
  app.post('/:id/check', async (c) => {
    const body = await readBody(c, recordCheckBody);
    const q = service();
    if (!q.check) throw new NotFoundError('feature', 'quarantine check');
    return c.json((await q.check(c.req.param('id'), body.record)) satisfies ApiResponse<'recordCheck'>);
  });
  // Replays run as a run of the flow (trigger `replay`): 409 while the flow runs, recorded in its history.
  app.post('/replay', async (c) => {
    const body = await readBody(c, replayBody);
    const items = await Promise.all(body.ids.map((id) => service().get(id)));
    // An explicit flowId wins: records of a deleted flow, or quarantined by the CLI, replay with its key.
    const flowIds = new Set(items.map((i) => body.flowId ?? i.flowId));
    if (flowIds.size > 1)
      throw new ValidationError('the entries come from several flows; replay them one flow at a time');
    const flowId = [...flowIds][0];
    if (!flowId) throw new ValidationError('pass the flowId whose credential replays the records');
    const flow = await deps.store.getFlow(flowId);
    if (!flow) throw new NotFoundError('flow', flowId);
    if (flow.kind !== 'destination') throw new ValidationError(`flow "${flow.name}" is not a destination`);
    const result: ReplayResult = { replayed: 0, failed: 0 };
    const engine = await service().replayEngine(body.ids, result, {
      ...(body.records ? { records: new Map(Object.entries(body.records)) } : {}),
      closedBy: actorOf(c),
      credentialId: flow.credentialId,
    });
    const run = await deps.scheduler.trigger(flow.id, 'replay', {
      engine,
      ...(body.dryRun ? { dryRun: true } : {}),
    });
    const finished = await deps.scheduler.waitFor(run.id);
    return c.json({ ...result, run: finished ?? run } satisfies ApiResponse<'replay'>);
  });
  return app;
}
