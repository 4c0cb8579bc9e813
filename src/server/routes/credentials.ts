import { Hono } from 'hono';
import { describeScope, type Scope } from '../../ashby/catalogue.js';
import { registerSecret } from '../../util/redact.js';
import type { CredentialInfo, Verification } from '../../vault/types.js';
import {
  type ApiResponse,
  type Credential,
  editCredentialBody,
  newCredentialBody,
  rotateBody,
  sampleBody,
} from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { checkBaseUrl } from '../base-url.js';
import { readBody, type ServerDeps } from '../context.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { OperationInfo, StreamInfo } from '../services.js';

export { MAX_SAMPLE } from '../api-schema.js';

/** Whether a verification says the key may use `scope`: `true`, `false` or `null` (unknown). */
export function mayUse(verification: Verification | undefined, scope: Scope): boolean | null {
  if (!verification) return null;
  const { module, access } = describeScope(scope);
  const entry = verification.permissions.find((p) => p.module === module);
  const value = access === 'Read' ? entry?.read : entry?.write;
  return value === 'allowed' ? true : value === 'missing' ? false : null;
}

async function view(
  deps: ServerDeps,
  c: CredentialInfo,
  ops: OperationInfo[],
  streams: StreamInfo[],
): Promise<Credential> {
  return {
    ...c,
    usedBy: (await deps.store.flowsUsingCredential(c.id)).map((f) => ({
      id: f.id,
      name: f.name,
      kind: f.kind,
    })),
    failingOperations: ops
      .filter((o) => mayUse(c.verification, o.scope) === false)
      .map((o) => ({ name: o.name, permission: o.permission })),
    unreadableStreams: streams.filter((s) => mayUse(c.verification, s.scope) === false).map((s) => s.name),
  };
}

/**
 * `/api/v1/credentials`. The API key is write-only: accepted on create and rotate, registered for
 * redaction at once, verified against Ashby before it is stored, and never returned.
 */
export function credentialRoutes(deps: ServerDeps): Hono<AppEnv> {
  const { services } = deps;
  const app = new Hono<AppEnv>();
  const toView = (c: CredentialInfo) => view(deps, c, services.operations(), services.streams());

  // The server's defaults come with the list: the "Add New Credential" form starts from them.
  app.get('/', async (c) =>
    c.json({
      credentials: await Promise.all((await services.credentials.list()).map(toView)),
      defaultBaseUrl: services.credentials.defaultBaseUrl,
      allowHttpBaseUrl: deps.allowHttpBaseUrl,
    } satisfies ApiResponse<'credentials'>),
  );

  app.post('/', async (c) => {
    const body = await readBody(c, newCredentialBody);
    registerSecret(body.apiKey);
    const baseUrl =
      body.baseUrl !== undefined ? checkBaseUrl(body.baseUrl, deps.allowHttpBaseUrl) : undefined;
    const created = await services.credentials.add({
      name: body.name,
      apiKey: body.apiKey,
      ...(body.description ? { description: body.description } : {}),
      ...(baseUrl ? { baseUrl } : {}),
      ...(body.saveUnverified ? { saveUnverified: true } : {}),
    });
    return c.json({ credential: await toView(created) }, 201);
  });

  app.get('/:id', async (c) =>
    c.json({ credential: await toView(await services.credentials.get(c.req.param('id'))) }),
  );

  app.patch('/:id', async (c) => {
    const body = await readBody(c, editCredentialBody);
    const changes: { name?: string; description?: string } = {};
    if (body.name !== undefined) changes.name = body.name;
    if (body.description !== undefined) changes.description = body.description;
    return c.json({ credential: await toView(await services.credentials.edit(c.req.param('id'), changes)) });
  });

  app.post('/:id/rotate', async (c) => {
    const body = await readBody(c, rotateBody);
    registerSecret(body.apiKey);
    const rotated = await services.credentials.rotate(c.req.param('id'), body.apiKey, {
      ...(body.saveUnverified ? { saveUnverified: true } : {}),
    });
    return c.json({ credential: await toView(rotated) });
  });

  app.post('/:id/probe', async (c) => {
    const verified = await services.credentials.verify(c.req.param('id'));
    return c.json({ credential: await toView(verified) });
  });

  app.post('/:id/probe/sample', async (c) => {
    const body = await readBody(c, sampleBody);
    const stream = services.streams().find((s) => s.name === body.stream);
    if (!stream) throw new ValidationError(`unknown stream "${body.stream}"`);
    const access = await services.credentials.access(c.req.param('id'), `sample ${stream.name}`);
    const records = await services.sample(access, stream.name, body.limit);
    return c.json({
      stream: stream.name,
      records: records.slice(0, body.limit),
    } satisfies ApiResponse<'sample'>);
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const credential = await services.credentials.get(id);
    const flows = await deps.store.flowsUsingCredential(id);
    if (flows.length > 0 && c.req.query('force') !== 'true') {
      throw new ConflictError(
        `Credential "${credential.name}" is used by ${flows.length} flow(s): ${flows.map((f) => f.name).join(', ')}. Delete or re-point them first, or pass force=true to pause them.`,
        'credential_in_use',
        { flows: flows.map((f) => ({ id: f.id, name: f.name })) },
      );
    }
    for (const flow of flows) {
      await deps.store.setFlowStatus(
        flow.id,
        'paused',
        `paused when its credential "${credential.name}" was deleted`,
      );
      await deps.scheduler.refresh(flow.id);
    }
    await services.credentials.remove(id);
    return c.body(null, 204);
  });

  return app;
}
