import { mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { ChannelConfig } from '../alerts/index.js';
import { type Control, openControl } from '../control/open.js';
import type { FleetWorker } from '../fleet/queue.js';
import { defined } from '../util/defined.js';
import { ConfigError } from '../util/errors.js';
import { Logger } from '../util/logger.js';
import { registerSecret } from '../util/redact.js';
import { loadMasterKey } from '../vault/master-key.js';
import { AlertChannelStore, ControlIncidentStore } from './alert-store.js';
import { controlAlertingStore, FlowAlerting } from './alerting.js';
import { bodyLimitOf, createApp, isLoopback } from './app.js';
import { type AppEnv, LoginLimiter, type LoginLimitOptions } from './auth.js';
import { isHttpLoopback } from './base-url.js';
import type { ServerDeps } from './context.js';
import {
  type Fleet,
  type FleetTimings,
  fleetTimings,
  openFleet,
  queueDispatch,
  type RunDispatch,
  startFlowWorker,
} from './fleet.js';
import { type MetricsAccess, ServerMetrics } from './metrics.js';
import { defaultDataDir, type PathPolicy } from './paths.js';
import { DEFAULT_MAX_UPLOAD_BYTES, PayloadTooLargeError } from './routes/uploads.js';
import { type MissedRunPolicy, Scheduler } from './scheduler.js';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './security/crypto.js';
import type { ServerServices } from './services.js';
import { ServerStore } from './store.js';
import { WebhookHub, type WebhookHubOptions } from './webhooks.js';
import { type DefaultServicesOptions, defaultServices } from './wiring.js';

export { createApp } from './app.js';
export type { ServerDeps } from './context.js';
export {
  dryRunDestination,
  type PushEngineOptions,
  pushEngine,
  syncEngine,
} from './engines.js';
export { LedgerQuarantineService } from './quarantine.js';
export { Scheduler } from './scheduler.js';
export type * from './services.js';
export { ServerStore } from './store.js';

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** The ashpipe home directory (master key, data directory; the control store unless `controlUrl`). */
  home: string;
  /**
   * A PostgreSQL control store (`--control`, `ASHPIPE_CONTROL_URL`) instead of `control.db` in the home.
   * @default none (SQLite in the home directory)
   * @example 'postgres://ashpipe@db.internal/ashpipe?schema=ashpipe'
   */
  controlUrl?: string;
  /** Environment (`ASHPIPE_ADMIN_PASSWORD`, `ASHPIPE_MASTER_KEY`, `ASHBY_BASE_URL`). */
  env: NodeJS.ProcessEnv;
  /**
   * TCP port; 0 picks a free one.
   * @default 4100
   */
  port?: number;
  /**
   * Interface to listen on. Anything but loopback (127.0.0.0/8, ::1, localhost) exposes the console to
   * the network, and is refused until the admin password is set.
   * @default '127.0.0.1'
   * @example '0.0.0.0'
   */
  host?: string;
  /**
   * Host names the server answers to besides IP addresses and `localhost` (the name people use to reach
   * it); requests naming any other host are refused, so a DNS-rebinding page cannot reach the API.
   * @default none
   * @example ['ashpipe.internal.example.com']
   */
  allowedHosts?: readonly string[];
  /** Built console to serve at `/`. @example 'web/dist' */
  webRoot?: string;
  /** Mark cookies `Secure` (behind an HTTPS proxy). @default false */
  secureCookies?: boolean;
  /** @default 'run-once' */
  missedRuns?: MissedRunPolicy;
  /** IANA time zone of cron schedules. @default the server's local zone */
  timezone?: string;
  logger?: Logger;
  loginLimits?: LoginLimitOptions;
  /** Services to use instead of the defaults (tests). */
  services?: (control: Control) => ServerServices;
  /** Passed to the default services. */
  serviceOptions?: DefaultServicesOptions;
  /**
   * Directories the files of flows must be inside (inputs, SQLite and JSONL targets, uploads go to the
   * first). Each must exist; relative flow paths are taken from the first.
   * @default [`$ASHPIPE_HOME/data`] (created, mode 0700)
   * @example ['/srv/exports', '/srv/imports']
   */
  dataDirs?: readonly string[];
  /**
   * Largest file the upload route accepts, in bytes.
   * @default 100 MiB
   * @example 20 * 1024 * 1024
   */
  maxUploadBytes?: number;
  /**
   * Let credentials name a plain-http base URL on this machine (a sandbox). Everything else must be https.
   * @default true when the server's own Ashby base URL is plain http on this machine (sandbox mode), else false
   */
  allowHttpBaseUrl?: boolean;
  /**
   * Who may read `GET /metrics`: `loopback` (this machine without a token, others with an API token),
   * `token` (an API token from everyone) or `off` (no route).
   * @default 'loopback'
   * @example 'token'
   */
  metrics?: MetricsAccess;
  /** How the webhook receivers of source flows retry and park events. @default the hub's */
  webhooks?: WebhookHubOptions;
  /**
   * Where alerts go besides the channels stored in the control store (`serve --alert-channels FILE`):
   * webhooks and SMTP, listed read-only by the API. Auto-pause works without any.
   * @default none
   */
  alertChannels?: readonly ChannelConfig[];
  /**
   * With a PostgreSQL control store, the server runs a fleet worker in its process that takes runs from
   * the queue (`serve --no-worker`: false, and runs wait for `ashpipe worker` processes). Ignored with the
   * SQLite control store, where the server runs every flow itself.
   * @default { concurrency: 2, name: `${hostname()}:${pid}` }
   * @example false
   */
  worker?: false | { concurrency?: number; name?: string };
  /**
   * The run queue's timings (PostgreSQL control store).
   * @default from the `ASHPIPE_QUEUE_*` environment variables, else the queue's defaults
   */
  fleetTimings?: FleetTimings;
}

/** A running server. */
export interface RunningServer {
  url: string;
  port: number;
  app: Hono<AppEnv>;
  deps: ServerDeps;
  /** The fleet (PostgreSQL control store): its queue and this process's worker, when it runs one. */
  fleet?: { fleet: Fleet; worker?: FleetWorker };
  close(): Promise<void>;
}

/** Builds the dependencies of the app on an open control store and starts the scheduler. */
export async function buildDeps(
  control: Control,
  options: Omit<StartServerOptions, 'home' | 'controlUrl' | 'port' | 'host'> & {
    /** The fleet's run queue: runs are queued for workers instead of run here. */
    dispatch?: RunDispatch;
  },
): Promise<ServerDeps> {
  const logger = options.logger ?? new Logger({});
  const store = new ServerStore(control.db);
  const paths = pathPolicy(control.home, options.dataDirs);
  const envPassword = options.env.ASHPIPE_ADMIN_PASSWORD;
  if (envPassword) {
    registerSecret(envPassword);
    if (envPassword.length < MIN_PASSWORD_LENGTH) {
      throw new Error(`ASHPIPE_ADMIN_PASSWORD must have at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    // The variable only seeds the first password: one changed in the console since stays changed.
    const current = await store.passwordHash();
    if (current === undefined) await store.setPasswordHash(await hashPassword(envPassword));
    else if (!(await verifyPassword(envPassword, current)))
      logger.warn(
        'ASHPIPE_ADMIN_PASSWORD is ignored: the admin password was set before (it only seeds the first one); change it in the console',
      );
  }
  const services =
    options.services?.(control) ?? defaultServices(control, options.env, options.serviceOptions);
  const metricsAccess = options.metrics ?? 'loopback';
  const metrics = metricsAccess === 'off' ? undefined : new ServerMetrics(control.db);
  // Channel secrets are sealed with the vault's master key (created, as the vault would, when missing).
  const alertChannels = new AlertChannelStore(control.db, undefined, () =>
    loadMasterKey(control, { home: control.home, env: options.env, create: true }),
  );
  const alerting = new FlowAlerting({
    channels: options.alertChannels ?? [],
    channelStore: alertChannels,
    // Open incidents outlive a restart: no second alert for one, and its recovery is still told.
    incidents: new ControlIncidentStore(control.db),
    env: options.env,
    logger,
    store: controlAlertingStore(store, services),
  });
  await alerting.reloadChannels();
  const scheduler = new Scheduler(store, services, logger, {
    alerting,
    ...(metrics ? { metrics } : {}),
    ...(options.missedRuns ? { missedRuns: options.missedRuns } : {}),
    ...(options.timezone ? { timezone: options.timezone } : {}),
    ...(options.dispatch ? { dispatch: options.dispatch } : {}),
    paths,
  });
  return {
    control,
    store,
    services,
    scheduler,
    logger,
    loginLimiter: new LoginLimiter(options.loginLimits),
    secureCookies: options.secureCookies ?? false,
    paths,
    allowHttpBaseUrl:
      options.allowHttpBaseUrl ??
      isHttpLoopback(options.serviceOptions?.baseUrl ?? options.env.ASHBY_BASE_URL),
    ...(options.timezone ? { timezone: options.timezone } : {}),
    ...(metrics ? { metrics } : {}),
    metricsAccess,
    alerting,
    alertChannels,
  };
}

/**
 * The data directories of a server: the ones given (each must be an existing directory), else
 * `$ASHPIPE_HOME/data`, created 0700 when missing.
 */
export function pathPolicy(home: string, dataDirs: readonly string[] | undefined): PathPolicy {
  if (dataDirs === undefined || dataDirs.length === 0) {
    const dir = defaultDataDir(home);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { dataDirs: [path.resolve(dir)], home };
  }
  for (const dir of dataDirs) {
    let ok = false;
    try {
      ok = statSync(dir).isDirectory();
    } catch {}
    if (!ok) throw new ConfigError(`--data-dir ${dir} is not an existing directory`);
  }
  return { dataDirs: dataDirs.map((d) => path.resolve(d)), home };
}

/** The worker options of the fleet's timings. */
export function workerTimings(t: FleetTimings) {
  return {
    leaseSeconds: t.leaseSeconds,
    heartbeatSeconds: t.heartbeatSeconds,
    pollSeconds: t.pollSeconds,
    drainSeconds: t.drainSeconds,
  };
}

/** Opens the control store, starts the scheduler and listens. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const control = await openControl({
    home: options.home,
    ...(options.controlUrl ? { url: options.controlUrl } : {}),
  });
  let fleet: Fleet | undefined;
  let worker: FleetWorker | undefined;
  try {
    if (options.controlUrl !== undefined) {
      const timings = options.fleetTimings ?? fleetTimings(options.env);
      fleet = await openFleet(options.controlUrl, timings);
    }
    const deps = await buildDeps(control, {
      ...options,
      ...(fleet
        ? {
            dispatch: queueDispatch(fleet.queue, new ServerStore(control.db), {
              leaseSeconds: fleet.timings.leaseSeconds,
              reconcileSeconds: fleet.timings.maintenanceSeconds,
              ...(options.logger ? { logger: options.logger } : {}),
            }),
          }
        : {}),
    });
    if (fleet) deps.metrics?.observeFleet(fleet.queue);
    const host = options.host ?? '127.0.0.1';
    if (!isLoopback(host) && (await deps.store.passwordHash()) === undefined) {
      await deps.scheduler.stop({ abort: true });
      // Whoever reaches a fresh server first sets the password: on the network, that could be anyone.
      throw new ConfigError(
        `refusing to listen on ${host} before the admin password is set: set ASHPIPE_ADMIN_PASSWORD, or start on 127.0.0.1 and set it in the console first`,
      );
    }
    const webhookHub = new WebhookHub(deps, options.webhooks);
    const app = createApp(deps, {
      webhookHub,
      ...(options.webRoot ? { webRoot: options.webRoot } : {}),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
      ...defined({ maxUploadBytes: options.maxUploadBytes }),
    });
    const listener = getRequestListener(app.fetch);
    const maxUpload = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    const server = http.createServer((req, res) => {
      // A body announced larger than its route accepts is refused here, before anything is built for it:
      // a flood of such requests costs the server as little as possible.
      const length = Number(req.headers['content-length']);
      const limit = bodyLimitOf(new URL(req.url ?? '/', 'http://localhost').pathname, maxUpload);
      if (Number.isFinite(length) && length > limit && req.headers['transfer-encoding'] === undefined) {
        res.writeHead(413, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          connection: 'close',
        });
        res.end(
          JSON.stringify({
            error: { code: 'payload_too_large', message: new PayloadTooLargeError(limit).message },
          }),
        );
        return;
      }
      void listener(req, res);
    });
    // Slow clients: headers must arrive within 20 s; a whole request within 5 minutes (an upload).
    server.headersTimeout = 20_000;
    server.requestTimeout = 300_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 4100, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    await deps.scheduler.start();
    if (fleet && options.worker !== false) {
      const f = fleet;
      worker = startFlowWorker(
        f.queue,
        {
          store: deps.store,
          services: deps.services,
          logger: deps.logger,
          paths: deps.paths,
          ...(deps.metrics ? { metrics: deps.metrics } : {}),
        },
        {
          name: options.worker?.name ?? `${hostname()}:${process.pid}`,
          ...(options.worker?.concurrency !== undefined ? { concurrency: options.worker.concurrency } : {}),
          ...workerTimings(f.timings),
          budgetPool: f.budgetPool,
          budgetSchema: f.schema,
          onRunFinished: (flow, run) => {
            deps.metrics?.runFinished(flow, run);
            void deps.alerting?.runFinished(flow, run);
          },
          onEvent: (event) => {
            if (event.type === 'error') deps.logger.warn('run queue', { error: event.error });
          },
        },
      );
      deps.logger.info('fleet worker started in the server', { worker: worker.name });
    }
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shownHost}:${port}`,
      port,
      app,
      deps,
      ...(fleet ? { fleet: { fleet, ...(worker ? { worker } : {}) } } : {}),
      close: async () => {
        // The worker first, while the queue is still open. Its runs are cut at their next checkpoint and
        // handed back, as the scheduler's own runs are aborted: another worker resumes them.
        worker?.abort();
        await worker?.stop();
        await deps.scheduler.stop({ abort: true });
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ('closeAllConnections' in server) server.closeAllConnections();
        });
        await webhookHub.close();
        await fleet?.close();
        await control.close();
      },
    };
  } catch (error) {
    await worker?.stop().catch(() => undefined);
    await fleet?.close().catch(() => undefined);
    await control.close();
    throw error;
  }
}
