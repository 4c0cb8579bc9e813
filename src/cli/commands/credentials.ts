import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { AshbyClient, DEFAULT_BASE_URL } from '../../ashby/client.js';
import { defined } from '../../util/defined.js';
import { redact, registerSecret } from '../../util/redact.js';
import { VaultError } from '../../vault/errors.js';
import type { AuditEntry, CredentialInfo, Verification } from '../../vault/types.js';
import { openVault, type Vault } from '../../vault/vault.js';
import { verifyKey } from '../../vault/verify.js';
import {
  isWebhookSecretName,
  removeCredentialSecret,
  renameCredentialWebhooks,
} from '../../webhooks/install.js';
import type { CliContext } from '../context.js';
import { ExitCode, ExitError, UsageError } from '../exit-codes.js';
import { parseBaseUrl, vaultErrorToCli } from '../key-options.js';
import { type Output, table } from '../output.js';
import { addLogFileOption, type LogFileOptions, logged, openRunLog, type RunLog } from '../run-log.js';

/** Verification is a handful of cheap reads; give up sooner than a sync would. */
const VERIFY_RETRY = { limit: 3, budgetMs: 60_000 };

interface KeySourceOptions {
  apiKeyStdin?: boolean;
  apiKeyEnv?: string;
}

interface JsonOption {
  json?: boolean;
}

/** Runs `fn` on the vault of the control store: `control` (`--control`), `ASHPIPE_CONTROL_URL` or control.db. */
async function withVault<T>(
  ctx: CliContext,
  control: string | undefined,
  fn: (vault: Vault) => Promise<T> | T,
): Promise<T> {
  let opened: Awaited<ReturnType<typeof openVault>> | undefined;
  try {
    opened = await openVault(ctx.env, {
      notice: (m) => ctx.io.stderr.write(`${m}\n`),
      ...(control === undefined ? {} : { control }),
    });
    return await fn(opened.vault);
  } catch (error) {
    throw vaultErrorToCli(error);
  } finally {
    await opened?.control.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream)
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return text;
}

type TtyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

/** Reads a line from a terminal without echoing it. */
function promptHidden(ctx: CliContext, question: string): Promise<string> {
  const input = ctx.stdin as TtyInput;
  ctx.io.stderr.write(question);
  const raw = typeof input.setRawMode === 'function';
  if (raw) input.setRawMode?.(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.removeListener('data', onData);
      if (raw) input.setRawMode?.(false);
      input.pause();
      ctx.io.stderr.write('\n');
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new ExitError(ExitCode.Failure, 'cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

/** Reads one visible line (confirmations). */
function promptLine(ctx: CliContext, question: string): Promise<string> {
  const rl = createInterface({ input: ctx.stdin, terminal: false });
  ctx.io.stderr.write(question);
  return new Promise((resolve) => {
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) resolve('');
    });
  });
}

/** The new key: from stdin, an environment variable, or a hidden prompt on a terminal; never argv. */
async function readApiKey(ctx: CliContext, opts: KeySourceOptions): Promise<string> {
  if (opts.apiKeyStdin && opts.apiKeyEnv !== undefined) {
    throw new UsageError('use either --api-key-stdin or --api-key-env, not both');
  }
  let key: string;
  if (opts.apiKeyStdin) {
    key = await readAll(ctx.stdin);
    if (!key.trim()) throw new UsageError('--api-key-stdin: standard input was empty');
  } else if (opts.apiKeyEnv !== undefined) {
    key = ctx.env[opts.apiKeyEnv] ?? '';
    if (!key.trim()) throw new UsageError(`--api-key-env: environment variable ${opts.apiKeyEnv} is not set`);
  } else if (ctx.stdin.isTTY) {
    key = await promptHidden(ctx, 'Ashby API key (input hidden): ');
    if (!key.trim()) throw new UsageError('no API key entered');
  } else {
    throw new UsageError(
      'no API key: pipe it with --api-key-stdin, name an environment variable with --api-key-env, or run on a terminal to be prompted',
    );
  }
  key = key.trim();
  registerSecret(key);
  return key;
}

function baseUrlFor(ctx: CliContext, flag: string | undefined, stored: string | undefined): string {
  if (flag) return parseBaseUrl(flag, '--base-url');
  if (ctx.env.ASHBY_BASE_URL) return parseBaseUrl(ctx.env.ASHBY_BASE_URL, 'ASHBY_BASE_URL');
  return stored ?? DEFAULT_BASE_URL;
}

async function verify(apiKey: string, baseUrl: string, log: RunLog): Promise<Verification> {
  const verification = await verifyKey(
    new AshbyClient({ apiKey, baseUrl, retry: VERIFY_RETRY, onEvent: log.onClientEvent }),
  );
  log.logger[verification.status === 'valid' ? 'info' : 'warn']('key verified', {
    status: verification.status,
    confidential: verification.confidential,
    missing: verification.permissions
      .filter((p) => p.read === 'missing' || p.write === 'missing')
      .map((p) => `${p.module}: ${p.read === 'missing' ? 'Read' : 'Write'}`),
    ...defined({ message: verification.message }),
  });
  return verification;
}

function refuseUnverified(name: string, v: Verification, action: string): void {
  if (v.status === 'valid') return;
  const why =
    v.status === 'invalid'
      ? 'Ashby refused the key (wrong, deactivated or missing)'
      : `the key could not be verified (${v.message ?? 'unknown error'})`;
  throw new ExitError(
    ExitCode.Failure,
    `error: credential "${name}" not ${action}: ${why}. Use --no-verify to store it without checking.`,
  );
}

function describeStatus(c: CredentialInfo): string {
  return c.verifiedAt ? `${c.status} (${c.verifiedAt})` : c.status;
}

function renderCredential(c: CredentialInfo): string {
  const v = c.verification;
  const lines = [
    `Name:          ${c.name}`,
    `Id:            ${c.id}`,
    `Description:   ${c.description ?? ''}`,
    `Key:           ${c.maskedKey}`,
    `Server:        ${c.baseUrl ?? DEFAULT_BASE_URL}`,
    `Status:        ${describeStatus(c)}`,
    `Created:       ${c.createdAt}`,
    ...(c.rotatedAt ? [`Rotated:       ${c.rotatedAt}`] : []),
  ];
  if (v) {
    if (v.title) lines.push(`Ashby title:   ${v.title}`);
    lines.push(`Confidential:  ${v.confidential}`);
    if (v.message) lines.push(`Problem:       ${v.message}`);
    lines.push(
      '',
      table(
        ['MODULE', 'READ', 'WRITE'],
        v.permissions.map((p) => [p.module, p.read + (p.readError ? ` (${p.readError})` : ''), p.write]),
      ),
    );
    if (v.warnings.length > 0) lines.push('', ...v.warnings.map((w) => `warning: ${w}`));
  }
  return lines.join('\n');
}

/** Under `--json` the warnings also reach the person watching, on stderr; text output already shows them. */
function reportVerification(out: Output, c: CredentialInfo): void {
  if (!out.json) return;
  for (const w of c.verification?.warnings ?? []) out.info(`warning: ${w}`);
}

function renderAudit(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'No audit entries.';
  return table(
    ['WHEN', 'WHO', 'ACTION', 'CREDENTIAL', 'PURPOSE', 'OUTCOME', 'DETAIL'],
    entries.map((e) => [
      e.at,
      e.actor,
      e.action,
      e.credentialName ?? e.credentialId,
      e.purpose,
      e.outcome,
      e.detail,
    ]),
  );
}

const addKeySource = (cmd: Command) =>
  cmd
    .option('--api-key-stdin', 'read the API key from standard input')
    .option('--api-key-env <VAR>', 'read the API key from this environment variable')
    .option('--base-url <url>', `Ashby-compatible server (env ASHBY_BASE_URL, default ${DEFAULT_BASE_URL})`)
    .option('--no-verify', 'store the key without checking it against Ashby')
    .option(
      '--log-file <path>',
      'append the run log (JSON lines) to this file instead of $ASHPIPE_HOME/logs/ashpipe.log',
    );

/** `ashpipe credentials …`: the encrypted vault of Ashby API keys. */
export function credentialsCommand(ctx: CliContext): Command {
  // Nested subcommands copy these settings when created, so they must be set before any is added.
  const cmd = new Command('credentials')
    .description('Store Ashby API keys encrypted, verify their permissions, rotate and audit them')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(redact(s)),
    })
    .option(
      '--control <url>',
      'a PostgreSQL control store, postgres://USER@HOST:PORT/DB?schema=NAME (env ASHPIPE_CONTROL_URL; default: control.db in $ASHPIPE_HOME)',
    );
  const control = () => (cmd.opts() as { control?: string }).control;

  addKeySource(
    cmd
      .command('add')
      .description('store a new API key (read from a hidden prompt, --api-key-stdin or --api-key-env)')
      .requiredOption('--name <name>', 'unique name, e.g. prod-sync')
      .option('--description <text>', 'purpose, data freshness, owner'),
  )
    .option('--json', 'machine-readable output on stdout')
    .action(
      async (
        opts: KeySourceOptions &
          JsonOption &
          LogFileOptions & { name: string; description?: string; baseUrl?: string; verify: boolean },
      ) => {
        const out = ctx.output(Boolean(opts.json));
        const baseUrl = baseUrlFor(ctx, opts.baseUrl, undefined);
        const log = openRunLog(ctx, 'credentials add', opts);
        log.logger.info('credentials add started', { credential: opts.name, baseUrl, verify: opts.verify });
        await logged(log, () =>
          withVault(ctx, control(), async (vault) => {
            if (isWebhookSecretName(opts.name.trim()))
              throw new UsageError('--name: names ending in ":webhook-secret" are kept for webhook secrets');
            if (await vault.has(opts.name.trim()))
              throw new VaultError('name_taken', `a credential named "${opts.name.trim()}" already exists`);
            const apiKey = await readApiKey(ctx, opts);
            let verification: Verification | undefined;
            if (opts.verify) {
              verification = await verify(apiKey, baseUrl, log);
              refuseUnverified(opts.name, verification, 'saved');
            }
            const saved = await vault.add({
              name: opts.name,
              apiKey,
              ...defined({ description: opts.description }),
              ...(baseUrl === DEFAULT_BASE_URL ? {} : { baseUrl }),
              ...(verification ? { verification } : {}),
            });
            log.logger.info('credential saved', { credential: saved.name, credentialId: saved.id });
            reportVerification(out, saved);
            out.result(saved, () => `Saved credential "${saved.name}".\n\n${renderCredential(saved)}`);
          }),
        );
      },
    );

  cmd
    .command('list')
    .description('list stored credentials (never their keys)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (opts: JsonOption) => {
      const out = ctx.output(Boolean(opts.json));
      await withVault(ctx, control(), async (vault) => {
        // Webhook secrets live in the vault too, but they are not Ashby keys: `ashpipe webhooks list` shows them.
        const credentials = (await vault.list()).filter((c) => !isWebhookSecretName(c.name));
        out.result({ credentials }, () =>
          credentials.length === 0
            ? 'No credentials. Add one with `ashpipe credentials add --name NAME`.'
            : table(
                ['NAME', 'KEY', 'STATUS', 'CONFIDENTIAL', 'DESCRIPTION'],
                credentials.map((c) => [
                  c.name,
                  c.maskedKey,
                  describeStatus(c),
                  c.verification?.confidential ?? 'unknown',
                  c.description,
                ]),
              ),
        );
      });
    });

  cmd
    .command('show')
    .description('show one credential: status, permissions per module, warnings')
    .argument('<name>')
    .option('--json', 'machine-readable output on stdout')
    .action(async (name: string, opts: JsonOption) => {
      const out = ctx.output(Boolean(opts.json));
      await withVault(ctx, control(), async (vault) => {
        const c = await vault.get(name);
        out.result(c, () => renderCredential(c));
      });
    });

  const test = cmd
    .command('test')
    .description('verify a stored key against Ashby again and record the result')
    .argument('<name>')
    .option('--base-url <url>', 'Ashby-compatible server (default: the one the credential was added for)')
    .option('--json', 'machine-readable output on stdout');
  addLogFileOption(test).action(
    async (name: string, opts: JsonOption & LogFileOptions & { baseUrl?: string }) => {
      const out = ctx.output(Boolean(opts.json));
      const log = openRunLog(ctx, 'credentials test', opts);
      log.logger.info('credentials test started', { credential: name });
      await logged(log, () =>
        withVault(ctx, control(), async (vault) => {
          const { apiKey, credential } = await vault.reveal(name, 'credentials test');
          const verification = await verify(apiKey, baseUrlFor(ctx, opts.baseUrl, credential.baseUrl), log);
          const updated = await vault.recordVerification(name, verification);
          reportVerification(out, updated);
          out.result(updated, () => renderCredential(updated));
          if (verification.status !== 'valid') {
            throw new ExitError(
              ExitCode.Failure,
              `error: credential "${name}" failed verification: ${verification.message ?? verification.status}`,
            );
          }
        }),
      );
    },
  );

  addKeySource(
    cmd
      .command('rotate')
      .description("replace a credential's key (verified first); its id and every use of it stay the same")
      .argument('<name>'),
  )
    .option('--json', 'machine-readable output on stdout')
    .action(
      async (
        name: string,
        opts: KeySourceOptions & JsonOption & LogFileOptions & { baseUrl?: string; verify: boolean },
      ) => {
        const out = ctx.output(Boolean(opts.json));
        const log = openRunLog(ctx, 'credentials rotate', opts);
        log.logger.info('credentials rotate started', { credential: name, verify: opts.verify });
        await logged(log, () =>
          withVault(ctx, control(), async (vault) => {
            const current = await vault.get(name);
            const apiKey = await readApiKey(ctx, opts);
            let verification: Verification | undefined;
            if (opts.verify) {
              verification = await verify(apiKey, baseUrlFor(ctx, opts.baseUrl, current.baseUrl), log);
              refuseUnverified(name, verification, 'rotated');
            }
            const rotated = await vault.rotate(name, apiKey, verification);
            log.logger.info('credential rotated', { credential: rotated.name, credentialId: rotated.id });
            reportVerification(out, rotated);
            out.result(
              rotated,
              () => `Rotated credential "${rotated.name}".\n\n${renderCredential(rotated)}`,
            );
          }),
        );
      },
    );

  cmd
    .command('edit')
    .description('rename a credential or change its description')
    .argument('<name>')
    .option('--name <new-name>', 'new name')
    .option('--description <text>', 'new description (empty to clear)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (name: string, opts: JsonOption & { name?: string; description?: string }) => {
      if (opts.name === undefined && opts.description === undefined) {
        throw new UsageError('nothing to change: pass --name and/or --description');
      }
      const out = ctx.output(Boolean(opts.json));
      await withVault(ctx, control(), async (vault) => {
        const edited = await vault.edit(name, {
          ...defined({ name: opts.name, description: opts.description }),
        });
        await renameCredentialWebhooks(vault, name, edited.name);
        out.result(edited, () => `Updated credential "${edited.name}".`);
      });
    });

  cmd
    .command('delete')
    .description('delete a credential and its encrypted key (asks first on a terminal)')
    .argument('<name>')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--json', 'machine-readable output on stdout')
    .action(async (name: string, opts: JsonOption & { yes?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      await withVault(ctx, control(), async (vault) => {
        const c = await vault.get(name);
        if (!opts.yes) {
          if (!ctx.stdin.isTTY) throw new UsageError(`refusing to delete credential "${name}" without --yes`);
          const answer = await promptLine(
            ctx,
            `Delete credential "${c.name}" (${c.maskedKey})? Type its name to confirm: `,
          );
          if (answer.trim() !== c.name) throw new ExitError(ExitCode.Failure, 'not deleted');
        }
        const deleted = await vault.delete(c.name);
        await removeCredentialSecret(vault, deleted.name);
        out.result(
          { deleted: true, id: deleted.id, name: deleted.name },
          () => `Deleted credential "${deleted.name}".`,
        );
      });
    });

  cmd
    .command('audit')
    .description(
      'show the audit log: who created, verified, rotated, edited, deleted or used which credential',
    )
    .argument('[name]')
    .option('--json', 'machine-readable output on stdout')
    .action(async (name: string | undefined, opts: JsonOption) => {
      const out = ctx.output(Boolean(opts.json));
      await withVault(ctx, control(), async (vault) => {
        const entries = await vault.auditLog(name);
        out.result({ entries }, () => renderAudit(entries));
      });
    });

  return cmd;
}
