import { Hono } from 'hono';
import { type ApiResponse, newTokenBody } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { readBody, type ServerDeps } from '../context.js';
import { NotFoundError } from '../errors.js';

/** `/api/v1/tokens`: API tokens for scripts. The value is returned once, at creation; only its hash is kept. */
export function tokenRoutes(deps: ServerDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) =>
    c.json({ tokens: await deps.store.listApiTokens() } satisfies ApiResponse<'tokens'>),
  );
  app.post('/', async (c) => {
    const body = await readBody(c, newTokenBody);
    const { info, token } = await deps.store.createApiToken(body.name);
    // `plaintext`, not `token`: the response redaction masks fields named like secrets, and this one
    // response is the only time the value is ever shown.
    return c.json({ apiToken: info, plaintext: token } satisfies ApiResponse<'tokenCreated'>, 201);
  });
  app.delete('/:id', async (c) => {
    if (!(await deps.store.deleteApiToken(c.req.param('id'))))
      throw new NotFoundError('API token', c.req.param('id'));
    return c.body(null, 204);
  });
  return app;
}
