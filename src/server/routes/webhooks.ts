import { Hono } from 'hono';
import { isAppliedAction } from '../../webhooks/actions.js';
import { INSTALLABLE_EVENTS, WebhookPermissionError } from '../../webhooks/install.js';
import { type ApiResponse, webhookInstallBody, webhookToggleBody } from '../api-schema.js';
import type { AppEnv } from '../auth.js';
import { readBody, type ServerDeps } from '../context.js';
import { HttpError, NotFoundError, ValidationError } from '../errors.js';
import type { Flow } from '../model.js';
import type { WebhookService } from '../services.js';
import { type WebhookHub, webhooksEnabled } from '../webhooks.js';

/** 403 for a key that may not manage webhooks, with what to do about it. */
class WebhookPermissionRefused extends HttpError {
  constructor() {
    super(
      403,
      'webhook_permission_missing',
      'The API key may not manage webhooks: give it the "API Keys: Write" permission in Ashby (Admin > Integrations > API Keys) and install again, or create the webhooks by hand in Admin > Integrations > Webhooks with the receiving URL and a new secret token.',
    );
  }
}

/**
 * `/api/v1/flows/{id}/webhooks`: a source flow's webhook receiver — on or off, registered in Ashby or not,
 * its secret (shown once, when it is made), how it is doing, and the events it gave up on.
 */
export function webhookRoutes(deps: ServerDeps, hub: WebhookHub): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const source = async (id: string): Promise<Flow> => {
    const flow = await deps.store.getFlow(id);
    if (!flow) throw new NotFoundError('flow', id);
    if (flow.config.kind !== 'source')
      throw new ValidationError(`flow "${flow.name}" is a destination; webhooks feed source flows`);
    return flow;
  };
  const service = (): WebhookService => {
    const s = deps.services.webhooks;
    if (!s) throw new NotFoundError('feature', 'webhooks');
    return s;
  };

  const status = async (flow: Flow): Promise<ApiResponse<'webhooks'>> => {
    const enabled = webhooksEnabled(flow);
    const webhooks = deps.services.webhooks;
    let stats: ApiResponse<'webhooks'>['stats'] = null;
    if (enabled) {
      const receiver = await hub.receiverOf(flow.id);
      const s = await receiver.inbox.stats(`${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`);
      stats = {
        lastPingAt: s.lastPingAt,
        lastEventAt: s.lastEventAt,
        eventsToday: s.eventsSince,
        lagMs: s.lastLagMs,
        lagP50Ms: s.lagP50Ms,
        lagP95Ms: s.lagP95Ms,
        pending: s.pending,
        parked: s.parked,
        applied: s.applied,
        ignored: s.ignored,
      };
    }
    return {
      enabled,
      path: `/webhooks/ashby/${flow.id}`,
      secretStored: (await webhooks?.secret(flow.credentialId)) !== undefined,
      installed: ((await webhooks?.installed(flow.credentialId)) ?? []).map((w) => ({
        webhookId: w.webhookId,
        webhookType: w.webhookType,
        requestUrl: w.requestUrl,
        createdAt: w.createdAt,
      })),
      eventTypes: [...INSTALLABLE_EVENTS],
      stats,
    };
  };

  app.get('/:id/webhooks', async (c) => c.json(await status(await source(c.req.param('id')))));

  app.put('/:id/webhooks', async (c) => {
    const flow = await source(c.req.param('id'));
    const { enabled } = await readBody(c, webhookToggleBody);
    if (flow.config.kind !== 'source') throw new ValidationError('not a source flow');
    const updated = await deps.store.updateFlow(flow.id, {
      ...flow.config,
      options: { ...flow.config.options, webhooks: enabled },
    });
    if (!updated) throw new NotFoundError('flow', flow.id);
    // Events already stored stay in the inbox; they are applied when webhooks are turned on again.
    if (!enabled) await hub.closeFlow(flow.id);
    return c.json(await status(updated));
  });

  app.post('/:id/webhooks/install', async (c) => {
    const flow = await source(c.req.param('id'));
    const body = await readBody(c, webhookInstallBody);
    const unknown = (body.events ?? []).filter((e) => !isAppliedAction(e));
    if (unknown.length > 0)
      throw new ValidationError(`unknown event type(s): ${unknown.join(', ')}`, [
        { path: 'events', message: `use some of ${INSTALLABLE_EVENTS.join(', ')}` },
      ]);
    let secret: string;
    try {
      ({ secret } = await service().install(
        flow.credentialId,
        body.url,
        body.events ? [...new Set(body.events)] : INSTALLABLE_EVENTS,
      ));
    } catch (error) {
      if (error instanceof WebhookPermissionError) throw new WebhookPermissionRefused();
      throw error;
    }
    c.set('revealed', secret);
    return c.json({ secret, status: await status(flow) } satisfies ApiResponse<'webhookSecret'>, 201);
  });

  app.delete('/:id/webhooks/install', async (c) => {
    const flow = await source(c.req.param('id'));
    let removed: Awaited<ReturnType<WebhookService['uninstall']>>;
    try {
      removed = await service().uninstall(flow.credentialId);
    } catch (error) {
      if (error instanceof WebhookPermissionError) throw new WebhookPermissionRefused();
      throw error;
    }
    return c.json({
      removed: removed.map((w) => ({
        webhookId: w.webhookId,
        webhookType: w.webhookType,
        requestUrl: w.requestUrl,
        createdAt: w.createdAt,
      })),
      status: await status(flow),
    } satisfies ApiResponse<'webhookUninstalled'>);
  });

  app.post('/:id/webhooks/secret', async (c) => {
    const flow = await source(c.req.param('id'));
    const secret = await service().newSecret(flow.credentialId);
    c.set('revealed', secret);
    return c.json({ secret, status: await status(flow) } satisfies ApiResponse<'webhookSecret'>, 201);
  });

  app.get('/:id/webhooks/parked', async (c) => {
    const flow = await source(c.req.param('id'));
    if (!webhooksEnabled(flow)) return c.json({ events: [] } satisfies ApiResponse<'parkedEvents'>);
    const receiver = await hub.receiverOf(flow.id);
    const events = await receiver.inbox.list('parked', 500);
    return c.json({
      events: events.map((e) => ({
        actionId: e.actionId,
        action: e.action,
        receivedAt: e.receivedAt,
        attempts: e.attempts,
        reason: e.lastError,
      })),
    } satisfies ApiResponse<'parkedEvents'>);
  });

  app.post('/:id/webhooks/parked/:actionId/retry', async (c) => {
    const flow = await source(c.req.param('id'));
    const actionId = c.req.param('actionId');
    if (!webhooksEnabled(flow)) throw new NotFoundError('parked event', actionId);
    const receiver = await hub.receiverOf(flow.id);
    if (!(await receiver.inbox.requeue(actionId, new Date().toISOString())))
      throw new NotFoundError('parked event', actionId);
    receiver.applier.kick();
    return c.json({ actionId, requeued: true } satisfies ApiResponse<'parkedRetry'>);
  });

  return app;
}
