import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../auth.js';
import { paging, readBody, type ServerDeps } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Flow } from '../model.js';

/** `/api/v1/streams` and `/api/v1/operations`: what sources can read and destinations can write. */
export function catalogueRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/streams', (c) => c.json({ streams: deps.services.streams() }));
  app.get('/operations', (c) => c.json({ operations: deps.services.operations() }));
  return app;
}

/** `/api/v1/datasets/:stream/preview?flowId=…`: a page of a synced table. */
export function datasetRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
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
      if (!flow) throw new ValidationError(`no source flow syncs "${stream}"; pass flowId`);
    }
    const page = paging(c, { limit: 50, max: 500 });
    return c.json(await deps.services.datasets.preview(flow, stream, page));
  });
  return app;
}

/** `/api/v1/quarantine`: records the destination engine set aside; list, export, replay. */
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
    return { ...(flowId ? { flowId } : {}), ...(runId ? { runId } : {}) };
  };
  app.get('/', (c) => {
    const page = paging(c, { limit: 50, max: 500 });
    return c.json({ items: service().list({ ...filter(c), ...page }), ...page });
  });
  app.get('/export', (c) => {
    const items = service().list({ ...filter(c), limit: 100_000, offset: 0 });
    c.header('Content-Type', 'application/x-ndjson');
    c.header('Content-Disposition', 'attachment; filename="quarantine.jsonl"');
    return c.body(items.map((i) => JSON.stringify(i)).join('\n') + (items.length > 0 ? '\n' : ''));
  });
  app.post('/replay', async (c) => {
    const body = await readBody(
      c,
      z.object({ ids: z.array(z.string().min(1)).min(1).max(10_000), flowId: z.string().optional() }),
    );
    const flow = body.flowId ? deps.store.getFlow(body.flowId) : undefined;
    if (body.flowId && !flow) throw new NotFoundError('flow', body.flowId);
    if (!flow) throw new ValidationError('pass the flowId whose credential replays the records');
    const access = deps.services.credentials.access(flow.credentialId, `replay quarantine of ${flow.name}`);
    return c.json(await service().replay(body.ids, { flow, apiKey: access.apiKey, baseUrl: access.baseUrl }));
  });
  return app;
}
