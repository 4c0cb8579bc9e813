import { Hono } from 'hono';
import type { AppEnv } from '../auth.js';
import { paging, type ServerDeps } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Flow } from '../model.js';
import { resolveFlowPaths } from '../paths.js';

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
    // The target is read where the flow's checked, real path says, never where a link now points.
    const resolved = { ...flow, config: resolveFlowPaths(deps.paths, flow.config) };
    return c.json(await deps.services.datasets.preview(resolved, stream, page));
  });
  return app;
}
