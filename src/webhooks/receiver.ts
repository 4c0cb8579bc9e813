/**
 * Receiving a delivery: size and type checked, signature verified on the raw bytes before anything is
 * parsed, then stored in the inbox, then 200. Shared by `ashpipe webhooks receive` and `ashpipe serve`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PiiTransformer, transformWebhookPayload } from '../privacy/index.js';
import type { Logger } from '../util/logger.js';
import { isAppliedAction } from './actions.js';
import type { Inbox } from './inbox.js';
import { SIGNATURE_HEADER, signatureProblem } from './signature.js';

/** Largest body accepted; larger ones get 413. Ashby's payloads are a few kilobytes. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Path the standalone receiver listens on. */
export const RECEIVER_PATH = '/webhooks/ashby';

/** Options of {@link receiveDelivery}. */
export interface ReceiveOptions {
  inbox: Inbox;
  /**
   * The webhook's secret token; `undefined` accepts unsigned deliveries (`--insecure-no-signature`).
   * @example process.env.ASHBY_WEBHOOK_SECRET
   */
  secret: string | undefined;
  /**
   * The PII policy: the event is stored with its records already transformed, so the inbox never holds
   * what the tables may not.
   * @default none: stored as received
   */
  pii?: PiiTransformer;
  /** Called after an event is stored (to start applying it). */
  onStored?: () => void;
  logger?: Logger;
  /** The clock (tests). @default () => new Date() */
  now?: () => Date;
}

/** A delivery as the HTTP layer read it. */
export interface Delivery {
  raw: Uint8Array;
  contentType: string | undefined;
  signature: string | undefined;
}

/** The answer to Ashby. */
export interface ReceiveAnswer {
  status: number;
  body: { ok: true; duplicate?: boolean; ignored?: boolean } | { error: { code: string; message: string } };
}

function refuse(status: number, code: string, message: string): ReceiveAnswer {
  return { status, body: { error: { code, message } } };
}

/**
 * Checks and stores one delivery. 401 for a missing or wrong signature (nothing stored), 413 for a body
 * over {@link MAX_BODY_BYTES}, 415 for a body that is not JSON, 400 for JSON without an `action`, 503 when
 * the inbox cannot store it (Ashby retries 5xx; never 404/410, which would stop its retries).
 */
export async function receiveDelivery(delivery: Delivery, options: ReceiveOptions): Promise<ReceiveAnswer> {
  if (delivery.raw.byteLength > MAX_BODY_BYTES)
    return refuse(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
  if (options.secret !== undefined) {
    const problem = signatureProblem(delivery.raw, delivery.signature, options.secret);
    if (problem !== undefined) {
      options.logger?.warn('webhook refused', { reason: problem });
      return refuse(401, 'invalid_signature', problem);
    }
  }
  const type = delivery.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return refuse(415, 'unsupported_media_type', 'expected application/json');
  const text = Buffer.from(delivery.raw).toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return refuse(400, 'invalid_json', 'the body is not valid JSON');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
    return refuse(400, 'invalid_payload', 'expected a JSON object');
  const p = payload as Record<string, unknown>;
  const isPing = p.action === 'ping' || p.webhookActionType === 'ping';
  const action = isPing ? 'ping' : p.action;
  if (typeof action !== 'string' || action === '')
    return refuse(400, 'invalid_payload', 'the payload has no "action"');
  const receivedAt = (options.now?.() ?? new Date()).toISOString();
  // Without a webhookActionId, retries of one delivery still carry the same body.
  const actionId = isPing
    ? `ping:${randomUUID()}`
    : typeof p.webhookActionId === 'string' && p.webhookActionId !== ''
      ? p.webhookActionId
      : `sha256:${createHash('sha256').update(delivery.raw).digest('hex')}`;
  const applied = isAppliedAction(action);
  const status = isPing ? 'ping' : applied ? 'pending' : 'ignored';
  let stored: boolean;
  try {
    const body = options.pii && !isPing ? JSON.stringify(transformWebhookPayload(p, options.pii)) : text;
    stored = await options.inbox.add({ actionId, action, body, receivedAt, status });
  } catch (error) {
    options.logger?.error('webhook not stored', { action, error: (error as Error).message });
    return refuse(503, 'inbox_unavailable', 'the event could not be stored; retry later');
  }
  if (stored && status === 'pending') options.onStored?.();
  return {
    status: 200,
    body: {
      ok: true,
      ...(stored ? {} : { duplicate: true }),
      ...(applied || isPing ? {} : { ignored: true }),
    },
  };
}

/** Reads a request body, stopping at `limit` bytes (`undefined` then). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Options of {@link startReceiver}. */
export interface ReceiverServerOptions extends ReceiveOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 4200; 0 picks a free port */
  port?: number;
}

/** A running standalone receiver. */
export interface RunningReceiver {
  server: Server;
  /** `http://HOST:PORT/webhooks/ashby` */
  url: string;
  close(): Promise<void>;
}

/** The standalone receiver: `POST /webhooks/ashby` only. */
export async function startReceiver(options: ReceiverServerOptions): Promise<RunningReceiver> {
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (url.pathname !== RECEIVER_PATH)
      return send(404, { error: { code: 'not_found', message: 'not found' } });
    if (req.method !== 'POST')
      return send(405, { error: { code: 'method_not_allowed', message: 'use POST' } });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      res.setHeader('connection', 'close');
      return send(413, {
        error: { code: 'payload_too_large', message: `body over ${MAX_BODY_BYTES} bytes` },
      });
    }
    readBody(req, MAX_BODY_BYTES)
      .then(async (raw) => {
        if (raw === undefined) {
          res.setHeader('connection', 'close');
          return send(413, {
            error: { code: 'payload_too_large', message: `body over ${MAX_BODY_BYTES} bytes` },
          });
        }
        const sig = req.headers[SIGNATURE_HEADER];
        const answer = await receiveDelivery(
          {
            raw,
            contentType: req.headers['content-type'],
            signature: typeof sig === 'string' ? sig : undefined,
          },
          options,
        );
        send(answer.status, answer.body);
      })
      .catch(() => {
        if (!res.headersSent)
          send(400, { error: { code: 'bad_request', message: 'the request could not be read' } });
      });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4200, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${port}${RECEIVER_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
