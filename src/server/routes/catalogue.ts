import { Hono } from 'hono';
import type { ApiResponse } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import type { ServerDeps } from '../context.js';

/** `/api/v1/streams` and `/api/v1/operations`: what sources can read and destinations can write. */
export function catalogueRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/streams', (c) => c.json({ streams: deps.services.streams() } satisfies ApiResponse<'streams'>));
  app.get('/operations', (c) =>
    c.json({ operations: deps.services.operations() } satisfies ApiResponse<'operations'>),
  );
  return app;
}
