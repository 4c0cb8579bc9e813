import { Command } from 'commander';
import { AshbyClient } from '../../ashby/client.js';
import { openSink } from '../../sinks/index.js';
import { registerSecret } from '../../util/redact.js';
import { type InboxStatus, inboxFor, startReceiver, WebhookApplier } from '../../webhooks/index.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions, resolveAshbyAccess } from '../key-options.js';
import { table } from '../output.js';

interface ReceiveCliOptions extends KeyOptions {
  to: string;
  secretEnv?: string;
  insecureNoSignature?: boolean;
  host: string;
  port: string;
  json?: boolean;
}

function receiveCommand(ctx: CliContext): Command {
  const cmd = new Command('receive').description(
    'Receive Ashby webhooks and write them into the same tables as `ashpipe sync` (stored first, applied after)',
  );
  addKeyOptions(cmd);
  return cmd
    .requiredOption('--to <target>', 'sqlite:PATH, postgres://USER@HOST/DB[?schema=NAME] or jsonl:DIR')
    .option('--secret-env <VAR>', "environment variable holding the webhook's secret token")
    .option('--insecure-no-signature', 'accept unsigned deliveries (anyone who can reach the port can write)')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 picks a free one)', '4200')
    .option('--json', 'print the address as JSON on stdout')
    .action(async (opts: ReceiveCliOptions) => {
      const out = ctx.output(Boolean(opts.json));
      let secret: string | undefined;
      if (opts.secretEnv !== undefined) {
        secret = ctx.env[opts.secretEnv];
        if (!secret)
          throw new UsageError(
            `--secret-env: the environment variable ${opts.secretEnv} is empty or not set`,
          );
        registerSecret(secret);
      } else if (!opts.insecureNoSignature) {
        throw new UsageError(
          'a webhook secret is required: --secret-env VAR (the secret token set on the webhook in Ashby), or --insecure-no-signature to accept unsigned deliveries',
        );
      }
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port: expected a port number, got ${opts.port}`);
      const access = await resolveAshbyAccess(ctx, opts, 'webhooks receive');
      const sink = openSink(opts.to);
      await sink.open();
      const inbox = inboxFor(opts.to);
      await inbox.open();
      const client = new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
      const applier = new WebhookApplier({ inbox, sink, client });
      const receiver = await startReceiver({
        inbox,
        secret,
        host: opts.host,
        port,
        onStored: () => applier.kick(),
      });
      applier.start();
      out.result({ url: receiver.url }, () => `listening on ${receiver.url}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await receiver.close();
      await applier.stop();
      await inbox.close();
      await sink.close();
    });
}

const STATUSES: readonly InboxStatus[] = ['pending', 'applied', 'parked', 'ignored'];

function inboxCommand(ctx: CliContext): Command {
  return new Command('inbox')
    .description('Show webhook events waiting to be applied and those parked after repeated failures')
    .requiredOption('--to <target>', 'the target the receiver writes into')
    .option('--status <status>', `one of ${STATUSES.join(', ')} (default: pending and parked)`)
    .option('--retry-parked', 'make parked events pending again (the receiver applies them)')
    .option('--json', 'print as JSON on stdout')
    .action(async (opts: { to: string; status?: string; retryParked?: boolean; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      if (opts.status !== undefined && !(STATUSES as readonly string[]).includes(opts.status))
        throw new UsageError(`--status: expected one of ${STATUSES.join(', ')}, got ${opts.status}`);
      const inbox = inboxFor(opts.to);
      await inbox.open();
      try {
        const requeued = opts.retryParked ? await inbox.requeueParked(new Date().toISOString()) : undefined;
        const today = `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`;
        const stats = await inbox.stats(today);
        const events =
          opts.status !== undefined
            ? await inbox.list(opts.status as InboxStatus)
            : [...(await inbox.list('pending')), ...(await inbox.list('parked'))];
        const rows = events.map((e) => ({
          actionId: e.actionId,
          action: e.action,
          status: e.status,
          receivedAt: e.receivedAt,
          attempts: e.attempts,
          nextAttemptAt: e.nextAttemptAt,
          lastError: e.lastError,
        }));
        out.result({ stats, ...(requeued !== undefined ? { requeued } : {}), events: rows }, () =>
          [
            `pending ${stats.pending} · parked ${stats.parked} · applied ${stats.applied} · ignored ${stats.ignored} · events today ${stats.eventsSince}`,
            `last event ${stats.lastEventAt ?? 'never'} · last ping ${stats.lastPingAt ?? 'never'}`,
            ...(requeued !== undefined ? [`${requeued} parked events made pending again`] : []),
            rows.length === 0
              ? 'no events'
              : table(
                  ['action id', 'action', 'status', 'received', 'attempts', 'last error'],
                  rows.map((r) => [r.actionId, r.action, r.status, r.receivedAt, r.attempts, r.lastError]),
                ),
          ].join('\n'),
        );
      } finally {
        await inbox.close();
      }
    });
}

/** `ashpipe webhooks`: real-time changes from Ashby into the sync's tables. */
export function webhooksCommand(ctx: CliContext): Command {
  return new Command('webhooks')
    .description('Receive Ashby webhooks into the same tables as the sync')
    .addCommand(receiveCommand(ctx))
    .addCommand(inboxCommand(ctx));
}
