import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { resolveHome } from '../../control/home.js';
import { controlUrl, openControl } from '../../control/open.js';
import { controlAlertingStore, FlowAlerting, readAlertChannels } from '../../server/alerting.js';
import { type Fleet, fleetTimings, openFleet, reconcileRuns, startFlowWorker } from '../../server/fleet.js';
import { pathPolicy, workerTimings } from '../../server/index.js';
import { ServerMetrics } from '../../server/metrics.js';
import { ServerStore } from '../../server/store.js';
import { defaultServices } from '../../server/wiring.js';
import { redact } from '../../util/redact.js';
import type { CliContext } from '../context.js';
import { ExitCode, ExitError, UsageError } from '../exit-codes.js';
import { parseBaseUrl } from '../key-options.js';
import { addLogFileOption, addLogFormatOption, openRunLog } from '../run-log.js';

/** Names a worker may take: they are written on runs and in logs. */
const WORKER_NAME = /^[A-Za-z0-9._:@-]{1,100}$/;

/**
 * `ashpipe worker`: takes runs from the fleet's queue (a PostgreSQL control store) and runs them with the
 * server's engines, until SIGTERM (drain, exit 0) or a second signal (runs cut at their next checkpoint
 * and handed back, exit 130).
 */
export function workerCommand(ctx: CliContext): Command {
  const cmd = new Command('worker')
    .description('Run flows queued by `ashpipe serve` (a PostgreSQL control store); SIGTERM drains')
    .addOption(
      new Option(
        '--control <url>',
        'the PostgreSQL control store, postgres://USER@HOST:PORT/DB?schema=NAME (env ASHPIPE_CONTROL_URL)',
      ),
    )
    .addOption(new Option('--concurrency <n>', 'runs at once in this worker').default('2'))
    .addOption(new Option('--name <name>', 'the worker name on runs and in logs (default HOST:PID)'))
    .addOption(
      new Option(
        '--data-dir <dir>',
        'directory the files of flows must be inside, as `serve --data-dir`; repeat for several (default: $ASHPIPE_HOME/data)',
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .addOption(
      new Option(
        '--metrics-port <port>',
        "serve GET /metrics (Prometheus) of this worker's runs on 127.0.0.1:PORT (0 picks one); default: none",
      ),
    )
    .addOption(
      new Option(
        '--alert-channels <file>',
        'where alerts of the runs this worker ends go, as `serve --alert-channels` (auto-pause works without)',
      ),
    )
    .addOption(
      new Option(
        '--base-url <url>',
        'Ashby-compatible server of credentials that name none, as `serve --base-url` (env ASHBY_BASE_URL)',
      ),
    );
  return addLogFormatOption(addLogFileOption(cmd)).action(
    async (opts: {
      control?: string;
      concurrency: string;
      name?: string;
      dataDir?: string[];
      baseUrl?: string;
      alertChannels?: string;
      metricsPort?: string;
      logFile?: string;
      logFormat?: string;
    }) => {
      const url = controlUrl(opts.control, ctx.env);
      if (url === undefined)
        throw new UsageError(
          'ashpipe worker needs the PostgreSQL control store its server uses: --control postgres://USER@HOST:PORT/DB?schema=NAME or ASHPIPE_CONTROL_URL',
        );
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
        throw new UsageError(`--concurrency ${opts.concurrency} is not a whole number from 1 to 64`);
      const name = opts.name ?? `${hostname()}:${process.pid}`;
      if (!WORKER_NAME.test(name))
        throw new UsageError(
          `--name ${JSON.stringify(opts.name)}: use up to 100 letters, digits and . _ : @ -`,
        );
      const baseUrl = opts.baseUrl
        ? parseBaseUrl(opts.baseUrl, '--base-url')
        : ctx.env.ASHBY_BASE_URL
          ? parseBaseUrl(ctx.env.ASHBY_BASE_URL, 'ASHBY_BASE_URL')
          : undefined;
      const timings = fleetTimings(ctx.env);
      const metricsPort = opts.metricsPort === undefined ? undefined : Number(opts.metricsPort);
      if (
        metricsPort !== undefined &&
        (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
      )
        throw new UsageError(`--metrics-port ${opts.metricsPort} is not a port`);
      const channels = opts.alertChannels ? readAlertChannels(opts.alertChannels) : [];
      const home = resolveHome(ctx.env);
      const paths = pathPolicy(home, opts.dataDir);
      const { logger } = openRunLog(ctx, 'worker', opts, true);
      const out = ctx.output(false);
      // Migrations are applied here when this worker starts first; others wait and find them applied.
      const control = await openControl({ home, url });
      let fleet: Fleet | undefined;
      let metricsServer: http.Server | undefined;
      try {
        // The series of serve's GET /metrics: what this worker's runs feed, and freshness from the store.
        const metrics = metricsPort === undefined ? undefined : new ServerMetrics(control.db);
        if (metrics && metricsPort !== undefined) {
          const server = http.createServer((req, res) => {
            if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
              res.writeHead(404).end();
              return;
            }
            metrics.text().then(
              (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(redact(text)),
              () => res.writeHead(500).end(),
            );
          });
          metricsServer = server;
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            // Loopback only: a worker has no API tokens to check; scrape it on the machine or through a proxy.
            server.listen(metricsPort, '127.0.0.1', () => resolve());
          });
          out.info(`metrics on http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
        }
        const services = defaultServices(control, ctx.env, baseUrl ? { baseUrl } : {});
        fleet = await openFleet(url, timings);
        metrics?.observeFleet(fleet.queue);
        const store = new ServerStore(control.db);
        // Alerts and auto-pause after the runs this worker ends: a key Ashby refuses pauses its own flows.
        const alerting = new FlowAlerting({
          channels,
          env: ctx.env,
          logger,
          store: controlAlertingStore(store, services),
        });
        const worker = startFlowWorker(
          fleet.queue,
          { store, services, logger, paths, ...(metrics ? { metrics } : {}) },
          {
            name,
            concurrency,
            ...workerTimings(timings),
            budgetPool: fleet.budgetPool,
            budgetSchema: fleet.schema,
            onRunFinished: (flow, run) => {
              metrics?.runFinished(flow, run);
              void alerting.runFinished(flow, run);
            },
            onEvent: (event) => {
              if (event.type === 'error') logger.warn('run queue', { error: event.error });
              else if (event.type === 'lease-lost')
                logger.warn('lease lost: the run goes on on another worker', { runId: event.job.runId });
            },
          },
        );
        // Runs whose job ended without them (retries exhausted, the worker died after the end) are
        // closed by whichever process looks first: every worker looks, so none stays open without a server.
        const queue = fleet.queue;
        const reconcile = setInterval(() => {
          reconcileRuns(queue, store, logger).catch(() => undefined);
        }, timings.maintenanceSeconds * 1000);
        reconcile.unref();
        logger.info('worker started', { worker: name, concurrency, control: control.location });
        out.info(
          `ashpipe worker ${name} taking runs from ${control.location} (concurrency ${concurrency}); SIGTERM drains`,
        );
        const aborted = await new Promise<boolean>((resolve) => {
          const second = () => {
            out.info('stopping now: runs stop at their next checkpoint and go back to the queue');
            worker.abort();
            resolve(true);
          };
          const first = () => {
            process.off('SIGINT', first);
            process.off('SIGTERM', first);
            process.once('SIGINT', second);
            process.once('SIGTERM', second);
            out.info(
              `stopping: taking no more runs; running ones have ${timings.drainSeconds} s to finish (a second signal stops them now)`,
            );
            void worker.stop().then(() => resolve(false));
          };
          process.on('SIGINT', first);
          process.on('SIGTERM', first);
        });
        await worker.stop();
        clearInterval(reconcile);
        await alerting.idle();
        logger.info('worker stopped', { worker: name, aborted });
        out.info('stopped');
        if (aborted) throw new ExitError(ExitCode.Interrupted, '');
      } finally {
        metricsServer?.close();
        await fleet?.close().catch(() => undefined);
        await control.close();
      }
    },
  );
}
