import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { redact } from '../util/redact.js';
import { MAX_BODY_BYTES } from '../webhooks/index.js';
import { type AppEnv, clientAddress, requireAuth } from './auth.js';
import { isLoopbackHost } from './base-url.js';
import type { ServerDeps } from './context.js';
import { errorHandler, NotFoundError, UnauthorizedError } from './errors.js';
import type { MetricsAccess } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { alertChannelRoutes } from './routes/alert-channels.js';
import { catalogueRoutes } from './routes/catalogue.js';
import { credentialRoutes } from './routes/credentials.js';
import { datasetRoutes } from './routes/datasets.js';
import { flowRoutes } from './routes/flows.js';
import { insightsRoutes } from './routes/insights.js';
import { quarantineRoutes } from './routes/quarantine.js';
import { runRoutes } from './routes/runs.js';
import { sessionRoutes } from './routes/session.js';
import { tokenRoutes } from './routes/tokens.js';
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  MULTIPART_OVERHEAD,
  PayloadTooLargeError,
  uploadRoutes,
} from './routes/uploads.js';
import { webhookRoutes } from './routes/webhooks.js';
import { WebhookHub, webhookReceiveRoutes } from './webhooks.js';

/** Options of {@link createApp} beyond its dependencies. */
export interface AppOptions {
  /**
   * Directory of the built console (`web/dist`); the console is not served when it does not exist.
   * @default none
   * @example 'web/dist'
   */
  webRoot?: string;
  /**
   * Host names the server answers to besides IP addresses and `localhost`; any other `Host` gets 403
   * before a route runs. A web page whose own name resolves to this server (DNS rebinding) sends its own
   * name, never an address, so it cannot reach the API — notably the first-run setup, which has no session
   * to check yet. Applied on every listen address.
   * @default none: IP addresses and localhost only
   * @example ['ashpipe.internal.example.com']
   */
  allowedHosts?: readonly string[];
  /**
   * Largest file `POST /api/v1/uploads` accepts, in bytes.
   * @default 100 MiB ({@link DEFAULT_MAX_UPLOAD_BYTES})
   * @example 20 * 1024 * 1024
   */
  maxUploadBytes?: number;
  /**
   * The receivers of flows that take Ashby's webhooks (`POST /webhooks/ashby/{flowId}`); the caller closes it.
   * @default a new {@link WebhookHub}
   */
  webhookHub?: WebhookHub;
}

/**
 * Largest request bodies, by route, in bytes: a body announced larger is answered 413 before it is read,
 * a chunked one is cut when it passes the limit. Uploads have their own limit.
 */
export const BODY_LIMITS = {
  /** Login, first-run setup and password change: a password and little else (unauthenticated routes). */
  session: 16 * 1024,
  /** Flows, which may carry a pasted CSV inline. */
  flows: 2 * 1024 * 1024,
  /** Every other route (credentials, tokens, quarantine replay of up to 10,000 ids). */
  other: 256 * 1024,
} as const;

/** The body limit of a request path (uploads: the file limit plus room for the multipart framing). */
export function bodyLimitOf(pathname: string, maxUploadBytes = DEFAULT_MAX_UPLOAD_BYTES): number {
  if (pathname.startsWith('/api/v1/uploads')) return maxUploadBytes + MULTIPART_OVERHEAD;
  if (pathname.startsWith('/webhooks/')) return MAX_BODY_BYTES;
  if (pathname.startsWith('/api/v1/session')) return BODY_LIMITS.session;
  if (pathname.startsWith('/api/v1/flows')) return BODY_LIMITS.flows;
  return BODY_LIMITS.other;
}

/** Whether a listen address is this machine only (localhost, 127.0.0.0/8, ::1). */
export const isLoopback = isLoopbackHost;

/** A Host header's name without its port (and IPv6 brackets kept off). */
function hostName(c: Context): string {
  return new URL(c.req.url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

/** Whether a connection's remote address is this machine (in-process requests have none and are). */
function isLoopbackClient(address: string): boolean {
  if (address === 'local' || address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * `GET /metrics` is read by a Prometheus server, which holds no console session: an API token
 * (`Authorization: Bearer`) is accepted always; without one, only clients on this machine, and only
 * when the access is `loopback`.
 * @throws UnauthorizedError (401) naming what is missing
 */
async function checkMetricsAccess(c: Context, deps: ServerDeps, access: MetricsAccess): Promise<void> {
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!(match?.[1] && (await deps.store.verifyApiToken(match[1]))))
      throw new UnauthorizedError('The API token is not valid.', 'invalid_token');
    return;
  }
  if (access === 'loopback' && isLoopbackClient(clientAddress(c))) return;
  throw new UnauthorizedError(
    access === 'loopback'
      ? 'GET /metrics from another machine needs an API token (Authorization: Bearer ashp_…).'
      : 'GET /metrics needs an API token (Authorization: Bearer ashp_…).',
  );
}

/**
 * The server: the REST API under `/api/v1` (sub-apps, one error translator, every response body redacted)
 * and the console's static files at `/`.
 */
export function createApp(deps: ServerDeps, options: AppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const names = new Set(['localhost', ...(options.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  app.use(async (c, next) => {
    const host = hostName(c);
    if (isIP(host) === 0 && !names.has(host)) {
      return c.json(
        {
          error: {
            code: 'host_not_allowed',
            message: `this server answers to IP addresses${names.size > 1 ? `, ${[...names].join(', ')}` : ' and localhost'} only; start it with --allowed-host ${host} to serve this name`,
          },
        },
        403,
      );
    }
    await next();
  });
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
    }),
  );

  // Ashby's deliveries: no session, the signature is the authentication; the Host check above applies.
  const hub = options.webhookHub ?? new WebhookHub(deps);
  const hooks = new Hono<AppEnv>();
  hooks.route('/', webhookReceiveRoutes(hub));
  hooks.onError(errorHandler(deps.logger));
  app.route('/webhooks/ashby', hooks);

  const metrics = deps.metrics;
  if (metrics && deps.metricsAccess !== 'off') {
    const access = deps.metricsAccess ?? 'loopback';
    app.get('/metrics', async (c) => {
      await checkMetricsAccess(c, deps, access);
      // The series hold names and ids only; the redactor still runs, as on every other answer.
      const text = redact(await metrics.text());
      return c.body(text, 200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
    });
  }

  const api = new Hono<AppEnv>();
  const limiters = new Map<number, MiddlewareHandler>();
  api.use(async (c, next) => {
    if (c.req.path.startsWith('/api/v1/uploads')) return next();
    const max = bodyLimitOf(c.req.path);
    let limit = limiters.get(max);
    if (!limit) {
      limit = bodyLimit({
        maxSize: max,
        onError: (ctx) => {
          // The rest of the body is not read: the connection is closed after the answer.
          ctx.header('Connection', 'close');
          return ctx.json(
            { error: { code: 'payload_too_large', message: new PayloadTooLargeError(max).message } },
            413,
          );
        },
      });
      limiters.set(max, limit);
    }
    return limit(c, next);
  });
  // Redaction of every API response body: a key that reached any message (an error from a lower layer,
  // a record echoed back) is masked before it leaves the process.
  api.use(async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
    const type = c.res.headers.get('content-type') ?? '';
    if (
      type.includes('application/json') ||
      type.includes('ndjson') ||
      type.startsWith('text/plain') ||
      type.startsWith('text/csv')
    ) {
      const text = await c.res.text();
      const headers = new Headers(c.res.headers);
      headers.delete('content-length');
      const revealed = c.get('revealed');
      const safe = revealed ? text.split(revealed).map(redact).join(revealed) : redact(text);
      c.res = new Response(safe, { status: c.res.status, headers });
    }
  });
  api.get('/openapi.json', (c) => c.json(openApiDocument()));
  api.get('/health', (c) => c.json({ ok: true }));
  api.route('/session', sessionRoutes(deps));

  const secured = new Hono<AppEnv>();
  secured.use(requireAuth(deps.store));
  secured.route('/tokens', tokenRoutes(deps));
  secured.route('/credentials', credentialRoutes(deps));
  secured.route('/flows', flowRoutes(deps, { onDeleted: (flowId) => hub.closeFlow(flowId) }));
  secured.route('/flows', webhookRoutes(deps, hub));
  secured.route('/flows', insightsRoutes(deps));
  secured.route('/runs', runRoutes(deps));
  secured.route('/datasets', datasetRoutes(deps));
  secured.route('/quarantine', quarantineRoutes(deps));
  secured.route('/alert-channels', alertChannelRoutes(deps));
  secured.route('/uploads', uploadRoutes(deps, options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES));
  secured.route('/', catalogueRoutes(deps));
  api.route('/', secured);
  api.all('*', (c) => {
    throw new NotFoundError('route', `${c.req.method} ${c.req.path}`);
  });
  api.onError(errorHandler(deps.logger));
  app.route('/api/v1', api);
  app.onError(errorHandler(deps.logger));

  const webRoot = options.webRoot;
  if (webRoot && existsSync(path.join(webRoot, 'index.html'))) {
    const root = path.relative(process.cwd(), path.resolve(webRoot)) || '.';
    const index = readFileSync(path.join(webRoot, 'index.html'), 'utf8');
    app.use('/assets/*', serveStatic({ root }));
    app.get('/favicon.svg', serveStatic({ root }));
    // Every other path is a console route: the single page app decides.
    app.get('*', (c) => c.html(index));
  }
  return app;
}
