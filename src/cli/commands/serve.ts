import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { DEFAULT_BASE_URL } from '../../ashby/client.js';
import { resolveHome } from '../../control/home.js';
import { controlUrl } from '../../control/open.js';
import { readAlertChannels } from '../../server/alerting.js';
import { isLoopback } from '../../server/app.js';
import { startServer } from '../../server/index.js';
import type { MetricsAccess } from '../../server/metrics.js';
import { defined } from '../../util/defined.js';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { parseBaseUrl } from '../key-options.js';
import { addLogFileOption, addLogFormatOption, openRunLog } from '../run-log.js';

/** The built console beside the package: `<root>/web/dist` (from `src/cli/commands` and `dist/cli/commands` alike). */
function defaultWebRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..', 'web', 'dist');
}

/** `ashpipe serve`: the REST API, the scheduler and the console. */
export function serveCommand(ctx: CliContext): Command {
  const cmd = new Command('serve')
    .description('Run the console and REST API (/api/v1) with the flow scheduler')
    .addOption(new Option('--port <port>', 'TCP port').default('4100'))
    .addOption(
      new Option(
        '--control <url>',
        'a PostgreSQL control store, postgres://USER@HOST:PORT/DB?schema=NAME (env ASHPIPE_CONTROL_URL; default: control.db in $ASHPIPE_HOME)',
      ),
    )
    .addOption(
      new Option('--host <host>', 'interface to listen on (loopback unless you choose otherwise)').default(
        '127.0.0.1',
      ),
    )
    .addOption(new Option('--secure-cookies', 'mark session cookies Secure (behind an HTTPS proxy)'))
    .addOption(
      new Option(
        '--allowed-host <name>',
        'a host name the console is reached by (besides IP addresses and localhost); repeat for several',
      ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
    )
    .addOption(
      new Option('--missed-runs <policy>', 'after downtime: run once if a slot was missed, or skip')
        .choices(['run-once', 'skip'])
        .default('run-once'),
    )
    .addOption(new Option('--timezone <zone>', 'IANA time zone of cron schedules'))
    .addOption(
      new Option(
        '--metrics <access>',
        'who may read GET /metrics: this machine without a token (loopback), an API token always (token), or nobody (off)',
      )
        .choices(['loopback', 'token', 'off'])
        .default('loopback'),
    )
    .addOption(
      new Option(
        '--data-dir <dir>',
        'directory the files of flows must be inside; repeat for several (default: $ASHPIPE_HOME/data)',
      )
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .default(undefined),
    )
    .addOption(
      new Option('--max-upload-mb <mb>', 'largest file the console may upload, in MiB').default('100'),
    )
    .addOption(
      new Option(
        '--base-url <url>',
        `Ashby-compatible server of credentials that name none, e.g. a sandbox (env ASHBY_BASE_URL, default ${DEFAULT_BASE_URL})`,
      ),
    )
    .addOption(
      new Option(
        '--allow-http-base-url',
        'let credentials use a plain-http Ashby base URL on this machine (a sandbox); otherwise https only',
      ),
    )
    .addOption(
      new Option(
        '--alert-channels <file>',
        'YAML or JSON list of alert channels (webhook, Slack-compatible webhook, SMTP email), read-only besides those made in the console; see docs/operations.md',
      ),
    )
    .addOption(
      new Option(
        '--no-worker',
        'with a PostgreSQL control store: run no worker in this process; runs wait for `ashpipe worker` processes',
      ),
    )
    .addOption(
      new Option(
        '--worker-concurrency <n>',
        'with a PostgreSQL control store: runs at once in the worker of this process',
      ).default('2'),
    )
    .addOption(
      new Option(
        '--stop-timeout <seconds>',
        'on SIGTERM or SIGINT, how long running flows may take to stop before the process exits anyway',
      ).default('10'),
    );
  return addLogFormatOption(addLogFileOption(cmd)).action(
    async (opts: {
      port: string;
      control?: string;
      host: string;
      secureCookies?: boolean;
      missedRuns: 'run-once' | 'skip';
      metrics: MetricsAccess;
      timezone?: string;
      logFile?: string;
      logFormat?: string;
      dataDir?: string[];
      allowedHost?: string[];
      maxUploadMb: string;
      stopTimeout: string;
      allowHttpBaseUrl?: boolean;
      baseUrl?: string;
      alertChannels?: string;
      worker: boolean;
      workerConcurrency: string;
    }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port ${opts.port} is not a port`);
      const maxUploadMb = Number(opts.maxUploadMb);
      if (!Number.isFinite(maxUploadMb) || maxUploadMb <= 0)
        throw new UsageError(`--max-upload-mb ${opts.maxUploadMb} is not a positive number`);
      const stopTimeout = Number(opts.stopTimeout);
      if (!Number.isFinite(stopTimeout) || stopTimeout <= 0)
        throw new UsageError(`--stop-timeout ${opts.stopTimeout} is not a positive number of seconds`);
      const workerConcurrency = Number(opts.workerConcurrency);
      if (!Number.isInteger(workerConcurrency) || workerConcurrency < 1 || workerConcurrency > 64)
        throw new UsageError(
          `--worker-concurrency ${opts.workerConcurrency} is not a whole number from 1 to 64`,
        );
      const baseUrl = opts.baseUrl
        ? parseBaseUrl(opts.baseUrl, '--base-url')
        : ctx.env.ASHBY_BASE_URL
          ? parseBaseUrl(ctx.env.ASHBY_BASE_URL, 'ASHBY_BASE_URL')
          : undefined;
      const out = ctx.output(false);
      if (!isLoopback(opts.host)) {
        out.info(
          `warning: listening on ${opts.host} exposes the console to the network; put it behind HTTPS (--secure-cookies), and name the host people use with --allowed-host.`,
        );
      }
      const alertChannels = opts.alertChannels ? readAlertChannels(opts.alertChannels) : undefined;
      const home = resolveHome(ctx.env);
      const { logger } = openRunLog(ctx, 'serve', opts, true);
      const server = await startServer({
        home,
        ...defined({ controlUrl: controlUrl(opts.control, ctx.env) }),
        env: ctx.env,
        port,
        host: opts.host,
        webRoot: ctx.env.ASHPIPE_WEB_ROOT ?? defaultWebRoot(),
        missedRuns: opts.missedRuns,
        metrics: opts.metrics,
        logger,
        ...(opts.dataDir ? { dataDirs: opts.dataDir } : {}),
        ...(opts.allowedHost ? { allowedHosts: opts.allowedHost } : {}),
        maxUploadBytes: Math.floor(maxUploadMb * 1024 * 1024),
        ...(opts.allowHttpBaseUrl ? { allowHttpBaseUrl: true } : {}),
        ...(opts.secureCookies ? { secureCookies: true } : {}),
        ...(opts.timezone ? { timezone: opts.timezone } : {}),
        ...(baseUrl ? { serviceOptions: { baseUrl } } : {}),
        ...(alertChannels ? { alertChannels } : {}),
        worker: opts.worker ? { concurrency: workerConcurrency } : false,
      });
      const setup = (await server.deps.store.passwordHash()) === undefined;
      logger.info('serve started', { url: server.url });
      out.info(`ashpipe console listening on ${server.url}`);
      if (baseUrl) out.info(`new credentials are checked against ${baseUrl} unless they name another server`);
      if (setup) out.info(`first run: open ${server.url} to set the admin password`);
      await new Promise<void>((resolve) => {
        let closed = false;
        // Whatever a run is stuck in (a database that never answers), the process ends within the
        // stated time: runs still going are marked failed at the next start.
        const force = () => {
          out.info(
            closed
              ? 'stopped'
              : `stopping took longer than ${stopTimeout} s: exiting; runs still going are marked failed at the next start`,
          );
          process.exit(closed ? (process.exitCode ?? 0) : ExitCode.Failure);
        };
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out.info(
            `stopping: waiting up to ${stopTimeout} s for running flows to stop (a second signal stops now)`,
          );
          setTimeout(force, stopTimeout * 1000).unref();
          process.once('SIGINT', force);
          process.once('SIGTERM', force);
          void server.close().then(() => {
            closed = true;
            resolve();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    },
  );
}
