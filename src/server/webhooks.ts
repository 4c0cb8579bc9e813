/**
 * `POST /webhooks/ashby/{flowId}`: Ashby's deliveries for a source flow whose options enable webhooks
 * (`"options": {"webhooks": true}`). No session and no CSRF token: the signature is the authentication
 * (the secret stored in the vault for the flow's credential by `ashpipe webhooks install` or the console).
 * The Host allowlist still applies. `routes/webhooks.ts` manages a flow's webhooks under `/api/v1`.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AshbyClient } from '../ashby/client.js';
import { eraseFromControlStore } from '../privacy/erase.js';
import type { PiiTransformer } from '../privacy/index.js';
import { candidatePurger } from '../privacy/purge.js';
import { openSink, type Sink } from '../sinks/index.js';
import {
  type ApplierOptions,
  type Inbox,
  inboxFor,
  MAX_BODY_BYTES,
  type ReceiveAnswer,
  receiveDelivery,
  type SettledEvent,
  SIGNATURE_HEADER,
  WebhookApplier,
} from '../webhooks/index.js';
import type { AppEnv } from './auth.js';
import type { ServerDeps } from './context.js';
import { flowOnDelete, flowPiiPolicy, targetString } from './engines.js';
import { HttpError, NotFoundError } from './errors.js';
import type { Flow } from './model.js';

interface FlowReceiver {
  /** The flow as metrics label it. */
  flow: { id: string; name: string };
  target: string;
  sink: Sink;
  inbox: Inbox;
  applier: WebhookApplier;
  /** The flow's PII policy: events are stored and applied transformed. */
  pii: PiiTransformer | undefined;
}

/** Whether a source flow takes webhooks (`"options": {"webhooks": true}`). */
export function webhooksEnabled(flow: Flow | undefined): flow is Flow {
  return flow?.config.kind === 'source' && flow.config.options.webhooks === true;
}

/**
 * 410 for a delivery to a source flow whose webhooks were turned off. Turning them off is a decision, not
 * an outage: Ashby does not retry a 410, so it stops spending its ten attempts on a receiver that will
 * not take the event, and the next incremental sync brings the tables up to date. A transient problem
 * (target or vault unreachable) is a 503 instead, which Ashby retries.
 */
export class WebhooksDisabledError extends HttpError {
  constructor(flowId: string) {
    super(410, 'webhooks_disabled', `webhooks are turned off for flow ${flowId}`);
  }
}

/** Options of {@link WebhookHub}. */
export interface WebhookHubOptions {
  /**
   * How the flows' appliers retry and park failed events.
   * @default the applier's (8 attempts, 1 s doubling up to 5 min)
   * @example { maxAttempts: 3 }
   */
  applier?: Pick<ApplierOptions, 'maxAttempts' | 'retryBaseMs' | 'maxRetryMs' | 'pollMs'>;
}

/** The receivers of the server's flows, opened on first delivery and kept until {@link WebhookHub.close}. */
export class WebhookHub {
  private readonly open = new Map<string, Promise<FlowReceiver>>();

  constructor(
    private readonly deps: ServerDeps,
    private readonly options: WebhookHubOptions = {},
  ) {}

  get logger() {
    return this.deps.logger;
  }

  /** The flow's receiver; throws a 404 for a flow that does not take webhooks. */
  async receiverOf(flowId: string): Promise<FlowReceiver> {
    const flow = await this.deps.store.getFlow(flowId);
    if (flow?.config.kind === 'source' && !webhooksEnabled(flow)) throw new WebhooksDisabledError(flowId);
    if (!webhooksEnabled(flow) || flow.config.kind !== 'source')
      throw new NotFoundError('webhook flow', flowId);
    const target = targetString(flow.config.target);
    const known = this.open.get(flowId);
    if (known) return known;
    const opening = (async () => {
      const access = await this.deps.services.credentials.access(flow.credentialId, 'webhooks apply');
      const sink = openSink(target);
      await sink.open();
      const inbox = inboxFor(target);
      await inbox.open();
      const client = new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
      const pii = await flowPiiPolicy(flow.config.options, this.deps.services.piiHashKey);
      // The flow's id on every line its events cause.
      const logger = this.deps.logger.child({ flowId: flow.id });
      const onSettled = await this.settledHandler(flow, inbox);
      const applier = new WebhookApplier({
        inbox,
        sink,
        client,
        logger,
        ...this.options.applier,
        ...(pii ? { pii } : {}),
        ...(onSettled ? { onSettled } : {}),
        ...(flowOnDelete(flow.config.options) === 'purge'
          ? {
              purge: candidatePurger(target, {
                logger,
                eraseFromControl: async (needles) => {
                  await eraseFromControlStore(this.deps.control, needles);
                },
              }),
            }
          : {}),
      });
      applier.start();
      return { flow: { id: flow.id, name: flow.name }, target, sink, inbox, applier, pii };
    })();
    this.open.set(flowId, opening);
    opening.catch(() => this.open.delete(flowId));
    return opening;
  }

  /**
   * What is told of each settled batch of the flow's events: the metrics, and alerting when the number of
   * parked events may have changed (one was parked, or some are parked and others were applied).
   */
  private async settledHandler(
    flow: Flow,
    inbox: FlowReceiver['inbox'],
  ): Promise<((events: SettledEvent[], at: Date) => void) | undefined> {
    const metrics = this.deps.metrics?.webhookSettled(flow);
    const alerting = this.deps.alerting;
    if (!alerting) return metrics;
    // Events parked before a restart count: their retry and apply must still end the incident.
    let parked = (await inbox.stats(new Date().toISOString())).parked;
    let checking = Promise.resolve();
    return (events, at) => {
      metrics?.(events, at);
      if (parked === 0 && !events.some((e) => e.outcome === 'parked')) return;
      checking = checking.then(async () => {
        try {
          const now = (await inbox.stats(at.toISOString())).parked;
          if (now === parked) return;
          parked = now;
          await alerting.parkedEvents(flow, now, at);
        } catch (error) {
          this.deps.logger.error('parked events not counted', {
            flowId: flow.id,
            error: (error as Error).message,
          });
        }
      });
    };
  }

  /** Counts a delivery's answer (metrics). */
  received(receiver: FlowReceiver, answer: ReceiveAnswer): void {
    this.deps.metrics?.webhookReceived(receiver.flow, answer);
  }

  /** The secret token of the flow's credential, or `undefined` when none is stored. */
  async secretOf(flowId: string): Promise<string | undefined> {
    const flow = await this.deps.store.getFlow(flowId);
    if (!flow) return undefined;
    return this.deps.services.webhooks?.secret(flow.credentialId);
  }

  /** Stops the flow's receiver (webhooks turned off, flow deleted); stored events stay in the inbox. */
  async closeFlow(flowId: string): Promise<void> {
    const opening = this.open.get(flowId);
    this.open.delete(flowId);
    const r = await opening?.catch(() => undefined);
    if (!r) return;
    await r.applier.stop();
    await r.inbox.close();
    await r.sink.close();
  }

  async close(): Promise<void> {
    for (const opening of this.open.values()) {
      const r = await opening.catch(() => undefined);
      if (!r) continue;
      await r.applier.stop();
      await r.inbox.close();
      await r.sink.close();
    }
    this.open.clear();
  }
}

/** `POST /webhooks/ashby/:flowId`, mounted outside the session-protected API. */
export function webhookReceiveRoutes(hub: WebhookHub): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post(
    '/:flowId',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        c.header('Connection', 'close');
        return c.json(
          { error: { code: 'payload_too_large', message: `body over ${MAX_BODY_BYTES} bytes` } },
          413,
        );
      },
    }),
    async (c) => {
      const flowId = c.req.param('flowId');
      let receiver: FlowReceiver;
      try {
        receiver = await hub.receiverOf(flowId);
      } catch (error) {
        if (error instanceof HttpError) throw error;
        // The target or the vault is unreachable for now: Ashby retries a 503.
        return c.json({ error: { code: 'unavailable', message: 'the flow cannot take events now' } }, 503);
      }
      const secret = await hub.secretOf(flowId);
      if (secret === undefined) {
        // A setup not finished yet (no secret stored): 503 keeps Ashby retrying while it is fixed.
        return c.json(
          { error: { code: 'no_webhook_secret', message: 'no webhook secret is stored for this flow' } },
          503,
        );
      }
      const raw = new Uint8Array(await c.req.arrayBuffer());
      const answer = await receiveDelivery(
        { raw, contentType: c.req.header('content-type'), signature: c.req.header(SIGNATURE_HEADER) },
        {
          inbox: receiver.inbox,
          secret,
          onStored: () => receiver.applier.kick(),
          logger: hub.logger,
          ...(receiver.pii ? { pii: receiver.pii } : {}),
        },
      );
      hub.received(receiver, answer);
      return c.json(answer.body, answer.status as 200);
    },
  );
  return app;
}
