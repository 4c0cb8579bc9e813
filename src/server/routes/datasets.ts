import { Hono } from 'hono';
import { type ApiResponse, includeDeletedParam } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { paging, type ServerDeps } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Flow } from '../model.js';
import { resolveFlowPaths } from '../paths.js';

/**
 * `/api/v1/datasets?flowId=…`: the synced tables of a source flow with their row counts;
 * `/api/v1/datasets/:stream/preview?flowId=…[&includeDeleted=true]`: a page of one of them.
 */
export function datasetRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const flowId = c.req.query('flowId');
    if (!flowId) throw new ValidationError('choose the source flow whose tables to list (flowId)');
    const flow = await deps.store.getFlow(flowId);
    if (!flow) throw new NotFoundError('flow', flowId);
    if (flow.config.kind !== 'source') throw new ValidationError(`flow "${flow.name}" is not a source flow`);
    const resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
    return c.json({
      flowId: flow.id,
      tables: await deps.services.datasets.tables(resolved),
    } satisfies ApiResponse<'datasets'>);
  });
  app.get('/:stream/preview', async (c) => {
    const stream = c.req.param('stream');
    const flowId = c.req.query('flowId');
    let flow: Flow | undefined;
    if (flowId) {
      flow = await deps.store.getFlow(flowId);
      if (!flow) throw new NotFoundError('flow', flowId);
    } else {
      // Without a flow: the first source flow that syncs this stream (an empty list means every stream).
      flow = (await deps.store.listFlows()).find(
        (f) =>
          f.config.kind === 'source' && (f.config.streams.length === 0 || f.config.streams.includes(stream)),
      );
      if (!flow)
        throw new ValidationError(`no source flow syncs "${stream}"; choose the flow to preview (flowId)`);
    }
    const page = paging(c, { limit: 50, max: 500 });
    const includeDeleted = includeDeletedParam.parse(c.req.query('includeDeleted'));
    // The target is read where the flow's checked, real path says, never where a link now points.
    const resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
    return c.json(
      (await deps.services.datasets.preview(resolved, stream, page, {
        includeDeleted: includeDeleted === 'true',
      })) satisfies ApiResponse<'preview'>,
    );
  });
  return app;
}
