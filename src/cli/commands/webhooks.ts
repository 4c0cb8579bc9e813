import { Command } from 'commander';
import { AshbyClient } from '../../ashby/client.js';
import { resolveHome } from '../../control/home.js';
import { controlUrl } from '../../control/open.js';
import { candidatePurger, controlStoreEraser } from '../../privacy/purge.js';
import { openSink } from '../../sinks/index.js';
import { defined } from '../../util/defined.js';
import { registerSecret } from '../../util/redact.js';
import { openVault } from '../../vault/vault.js';
import { type InboxStatus, inboxFor, startReceiver, WebhookApplier } from '../../webhooks/index.js';
import {
  INSTALLABLE_EVENTS,
  installWebhooks,
  listInstalled,
  parseEvents,
  secretNameFor,
  uninstallWebhooks,
  WebhookPermissionError,
} from '../../webhooks/install.js';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions, resolveAshbyAccess, vaultErrorToCli } from '../key-options.js';
import { table } from '../output.js';
import { addOnDeleteOption, addPiiPolicyOption, resolveOnDelete, resolvePiiOption } from '../pii-option.js';
import {
  addLogFileOption,
  addLogFormatOption,
  describeTarget,
  type LogFileOptions,
  openRunLog,
} from '../run-log.js';
import { untilStopped } from '../signals.js';

interface ReceiveCliOptions extends KeyOptions, LogFileOptions {
  to: string;
  secretEnv?: string;
  secretCredential?: string;
  insecureNoSignature?: boolean;
  host: string;
  port: string;
  json?: boolean;
  piiPolicy?: string;
  onDelete?: string;
}

function receiveCommand(ctx: CliContext): Command {
  const cmd = new Command('receive').description(
    'Receive Ashby webhooks and write them into the same tables as `ashpipe sync` (stored first, applied after)',
  );
  addKeyOptions(cmd);
  addLogFileOption(cmd);
  addLogFormatOption(cmd);
  addPiiPolicyOption(cmd);
  addOnDeleteOption(cmd);
  return cmd
    .requiredOption('--to <target>', 'sqlite:PATH, postgres://USER@HOST/DB[?schema=NAME] or jsonl:DIR')
    .option('--secret-env <VAR>', "environment variable holding the webhook's secret token")
    .option(
      '--secret-credential <name>',
      'use the secret `ashpipe webhooks install --credential NAME` stored in the vault for NAME',
    )
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
      } else if (opts.secretCredential !== undefined) {
        let opened: Awaited<ReturnType<typeof openVault>> | undefined;
        try {
          opened = await openVault(ctx.env);
          secret = (await opened.vault.reveal(secretNameFor(opts.secretCredential), 'webhooks receive'))
            .apiKey;
        } catch (error) {
          throw vaultErrorToCli(error);
        } finally {
          await opened?.control.close();
        }
      } else if (!opts.insecureNoSignature) {
        throw new UsageError(
          'a webhook secret is required: --secret-env VAR (the secret token set on the webhook in Ashby), or --insecure-no-signature to accept unsigned deliveries',
        );
      }
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port: expected a port number, got ${opts.port}`);
      const pii = await resolvePiiOption(ctx, opts.piiPolicy);
      const onDelete = resolveOnDelete(opts.onDelete);
      const log = openRunLog(ctx, 'webhooks receive', opts);
      const logger = log.logger;
      const access = await resolveAshbyAccess(ctx, opts, 'webhooks receive');
      const sink = openSink(opts.to);
      await sink.open();
      const inbox = inboxFor(opts.to);
      await inbox.open();
      const client = new AshbyClient({
        apiKey: access.apiKey,
        baseUrl: access.baseUrl,
        onEvent: log.onClientEvent,
      });
      const applier = new WebhookApplier({
        inbox,
        sink,
        client,
        logger,
        ...(pii ? { pii } : {}),
        ...(onDelete === 'purge'
          ? {
              purge: candidatePurger(opts.to, {
                logger,
                eraseFromControl: controlStoreEraser(resolveHome(ctx.env), controlUrl(undefined, ctx.env)),
              }),
            }
          : {}),
      });
      const receiver = await startReceiver({
        inbox,
        logger,
        secret,
        ...(pii ? { pii } : {}),
        host: opts.host,
        port,
        onStored: () => applier.kick(),
      });
      applier.start();
      logger.info('webhooks receive started', { url: receiver.url, target: describeTarget(opts.to) });
      out.result({ url: receiver.url }, () => `listening on ${receiver.url}`);
      await untilStopped();
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
        out.result({ stats, ...defined({ requeued }), events: rows }, () =>
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

function installCommand(ctx: CliContext): Command {
  return new Command('install')
    .description(
      'Register the receiver in Ashby: one webhook per event type, signed with a new secret kept in the vault (the key needs "API Keys: Write")',
    )
    .requiredOption('--credential <name>', 'the vault credential whose key registers the webhooks')
    .requiredOption('--url <url>', 'public URL of the receiver, e.g. https://etl.example.com/webhooks/ashby')
    .option('--events <list>', `all, or some of ${INSTALLABLE_EVENTS.join(', ')}`, 'all')
    .option('--base-url <url>', 'Ashby-compatible server (env ASHBY_BASE_URL)')
    .option('--json', 'print the result as JSON on stdout')
    .action(
      async (opts: { credential: string; url: string; events: string; baseUrl?: string; json?: boolean }) => {
        const out = ctx.output(Boolean(opts.json));
        let events: string[];
        try {
          events = parseEvents(opts.events);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        try {
          const u = new URL(opts.url);
          if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
        } catch {
          throw new UsageError(`--url: expected an http(s) URL, got ${opts.url}`);
        }
        const access = await resolveAshbyAccess(ctx, opts, 'webhooks install');
        const client = new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
        const { vault, control } = await openVault(ctx.env);
        try {
          const { secret, installed } = await installWebhooks({
            client,
            vault,
            credential: opts.credential,
            url: opts.url,
            events,
          });
          // The secret is shown once on purpose (for Ashby's own settings page), so it bypasses
          // redaction; nothing else in these lines is secret.
          if (opts.json) {
            ctx.io.stdout.write(
              `${JSON.stringify({ url: opts.url, secretToken: secret, webhooks: installed }, null, 2)}\n`,
            );
          } else {
            out.text(`registered ${installed.length} webhooks for ${opts.url}`);
            ctx.io.stdout.write(
              `secret token (shown once; stored in the vault as "${secretNameFor(opts.credential)}"): ${secret}\n`,
            );
            out.text(
              `start the receiver with: ashpipe webhooks receive --to TARGET --credential ${opts.credential} --secret-credential ${opts.credential}`,
            );
          }
        } catch (error) {
          if (error instanceof WebhookPermissionError) {
            ctx.io.stderr.write(`secret token for webhooks created by hand: ${error.secret ?? ''}\n`);
            out.info(error.message);
            ctx.setExitCode(ExitCode.Failure);
            return;
          }
          throw vaultErrorToCli(error);
        } finally {
          await control.close();
        }
      },
    );
}

function listCommand(ctx: CliContext): Command {
  return new Command('list')
    .description('List the webhooks `ashpipe webhooks install` registered')
    .option('--credential <name>', 'only those of this credential')
    .option('--json', 'print as JSON on stdout')
    .action(async (opts: { credential?: string; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const { control } = await openVault(ctx.env);
      try {
        const hooks = await listInstalled(control.db, opts.credential);
        out.result(hooks, () =>
          hooks.length === 0
            ? 'no webhooks installed'
            : table(
                ['webhook id', 'credential', 'event', 'url', 'installed'],
                hooks.map((h) => [h.webhookId, h.credential, h.webhookType, h.requestUrl, h.createdAt]),
              ),
        );
      } finally {
        await control.close();
      }
    });
}

function uninstallCommand(ctx: CliContext): Command {
  return new Command('uninstall')
    .description(
      'Delete the webhooks `ashpipe webhooks install` registered for a credential (webhook.delete)',
    )
    .requiredOption('--credential <name>', 'the credential the webhooks were installed with')
    .option('--base-url <url>', 'Ashby-compatible server (env ASHBY_BASE_URL)')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: { credential: string; baseUrl?: string; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const access = await resolveAshbyAccess(ctx, opts, 'webhooks uninstall');
      const client = new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl });
      const { control } = await openVault(ctx.env);
      try {
        const removed = await uninstallWebhooks({ client, db: control.db, credential: opts.credential });
        out.result({ removed }, () => `deleted ${removed.length} webhooks`);
      } catch (error) {
        if (error instanceof WebhookPermissionError) throw new UsageError(error.message);
        throw error;
      } finally {
        await control.close();
      }
    });
}

/** `ashpipe webhooks`: real-time changes from Ashby into the sync's tables. */
export function webhooksCommand(ctx: CliContext): Command {
  return new Command('webhooks')
    .description('Receive Ashby webhooks into the same tables as the sync')
    .addCommand(receiveCommand(ctx))
    .addCommand(inboxCommand(ctx))
    .addCommand(installCommand(ctx))
    .addCommand(listCommand(ctx))
    .addCommand(uninstallCommand(ctx));
}
