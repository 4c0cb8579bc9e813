import type { Context } from 'hono';
import type { z } from 'zod';
import type { Control } from '../control/open.js';
import type { Logger } from '../util/logger.js';
import type { AlertChannelStore } from './alert-store.js';
import type { FlowAlerting } from './alerting.js';
import type { LoginLimiter } from './auth.js';
import { BadRequestError } from './errors.js';
import type { MetricsAccess, ServerMetrics } from './metrics.js';
import type { PathPolicy } from './paths.js';
import type { Scheduler } from './scheduler.js';
import type { ServerServices } from './services.js';
import type { ServerStore } from './store.js';

/** What every sub-app of the API receives. */
export interface ServerDeps {
  /** The open control store (SQLite or PostgreSQL). */
  control: Control;
  store: ServerStore;
  services: ServerServices;
  scheduler: Scheduler;
  logger: Logger;
  /** Slows and locks out repeated failed logins, per client address. */
  loginLimiter: LoginLimiter;
  /** Mark cookies `Secure` (the server sits behind HTTPS). */
  secureCookies: boolean;
  /** IANA time zone of cron schedules. */
  timezone?: string;
  /** Where flow files may be: the data directories, and the home whose own files are never a flow's. */
  paths: PathPolicy;
  /** Credentials may name a plain-http base URL on this machine (a sandbox); otherwise https only. */
  allowHttpBaseUrl: boolean;
  /** The Prometheus series of `GET /metrics`; absent: no such route. */
  metrics?: ServerMetrics;
  /**
   * Who may read `GET /metrics` ({@link MetricsAccess}).
   * @default 'loopback'
   */
  metricsAccess?: MetricsAccess;
  /** Alerts and auto-pause after runs and for freshness promises. */
  alerting?: FlowAlerting;
  /** Notification channels stored in the control store, their secrets sealed with the master key. */
  alertChannels?: AlertChannelStore;
}

/** Parses a JSON body with a zod schema: 400 when it is not JSON, 422 when the values do not fit. */
export async function readBody<S extends z.ZodTypeAny>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new BadRequestError('The request body is not valid JSON.', 'invalid_json');
  }
  return schema.parse(raw);
}

/** `limit` and `offset` query parameters, bounded. */
export function paging(
  c: Context,
  defaults: { limit: number; max: number },
): { limit: number; offset: number } {
  const limit = Number.parseInt(c.req.query('limit') ?? '', 10);
  const offset = Number.parseInt(c.req.query('offset') ?? '', 10);
  return {
    limit: Number.isFinite(limit) && limit > 0 ? Math.min(limit, defaults.max) : defaults.limit,
    offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
  };
}
