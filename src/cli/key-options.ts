import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_BASE_URL } from '../ashby/client.js';
import { resolveHome } from '../control/home.js';
import { type Control, controlUrl, openControl } from '../control/open.js';
import { CONTROL_DB_FILE } from '../control/store.js';
import { registerSecret } from '../util/redact.js';
import { VaultError } from '../vault/errors.js';
import { Vault } from '../vault/vault.js';
import type { CliContext } from './context.js';
import { UsageError } from './exit-codes.js';

/** Environment variable read for the API key when neither `--credential` nor `--api-key-env` is given. */
export const DEFAULT_API_KEY_ENV = 'ASHBY_API_KEY';

/** The options {@link addKeyOptions} adds, as commander parses them. */
export interface KeyOptions {
  /**
   * Name of a credential stored with `ashpipe credentials add`.
   * @example 'prod-sync'
   */
  credential?: string;
  /**
   * Environment variable holding the API key.
   * @default 'ASHBY_API_KEY'
   * @example 'ASHBY_KEY_STAGING'
   */
  apiKeyEnv?: string;
  /**
   * Ashby-compatible server.
   * @default `ASHBY_BASE_URL`, else the credential's own server, else 'https://api.ashbyhq.com'
   * @example 'http://127.0.0.1:4010'
   */
  baseUrl?: string;
}

/** How a command reaches Ashby. The key is registered for redaction before this is returned. */
export interface AshbyAccess {
  apiKey: string;
  baseUrl: string;
  /** Set when the key came from the vault. */
  credentialId?: string;
  credentialName?: string;
}

/**
 * Adds `--credential <name>`, `--api-key-env <VAR>` and `--base-url <url>` to a command. There is
 * deliberately no option that takes the key itself: argv is visible to every user of the machine.
 */
export function addKeyOptions(cmd: Command): Command {
  return cmd
    .option('--credential <name>', 'use the API key stored in the vault under this name')
    .option(
      '--api-key-env <VAR>',
      `read the API key from this environment variable (default ${DEFAULT_API_KEY_ENV})`,
    )
    .option('--base-url <url>', `Ashby-compatible server (env ASHBY_BASE_URL, default ${DEFAULT_BASE_URL})`);
}

/** Checks a base URL given by a person: http(s), no credentials or query in it. */
export function parseBaseUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${source} is not a valid URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must be an http:// or https:// URL`);
  }
  if (url.username || url.password) throw new UsageError(`${source} must not contain credentials`);
  return value.replace(/\/+$/, '');
}

function pickBaseUrl(ctx: CliContext, opts: KeyOptions, stored: string | undefined): string {
  if (opts.baseUrl) return parseBaseUrl(opts.baseUrl, '--base-url');
  const fromEnv = ctx.env.ASHBY_BASE_URL;
  if (fromEnv) return parseBaseUrl(fromEnv, 'ASHBY_BASE_URL');
  return stored ?? DEFAULT_BASE_URL;
}

/** Vault problems a person fixes by changing the command or the configuration exit with code 2. */
export function vaultErrorToCli(error: unknown): unknown {
  if (error instanceof VaultError && error.code !== 'tampered') return new UsageError(error.message);
  return error;
}

/**
 * Finds the API key for a command: from the vault with `--credential` (the decryption is audited as a
 * use for `purpose`), else from the environment variable named by `--api-key-env` (default
 * `ASHBY_API_KEY`). Throws `UsageError` when neither yields a key.
 * @example const access = await resolveAshbyAccess(ctx, opts, 'sync');
 */
export async function resolveAshbyAccess(
  ctx: CliContext,
  opts: KeyOptions,
  purpose: string,
): Promise<AshbyAccess> {
  if (opts.credential !== undefined && opts.apiKeyEnv !== undefined) {
    throw new UsageError('use either --credential or --api-key-env, not both');
  }
  if (opts.credential !== undefined) {
    const home = resolveHome(ctx.env);
    // The vault of the control store the server uses: ASHPIPE_CONTROL_URL's, else control.db in the home.
    const url = controlUrl(undefined, ctx.env);
    // A mistyped home or name must not leave a fresh empty vault behind.
    if (url === undefined && !existsSync(path.join(home, CONTROL_DB_FILE))) {
      throw new UsageError(
        `no credential named "${opts.credential}": there is no vault in ${home} (set ASHPIPE_HOME, or add one with \`ashpipe credentials add\`)`,
      );
    }
    let control: Control | undefined;
    try {
      control = await openControl({ home, ...(url === undefined ? {} : { url }) });
      const vault = new Vault(control, {
        home,
        env: ctx.env,
        notice: (m) => ctx.io.stderr.write(`${m}\n`),
      });
      const { apiKey, credential } = await vault.reveal(opts.credential, purpose);
      return {
        apiKey,
        baseUrl: pickBaseUrl(ctx, opts, credential.baseUrl),
        credentialId: credential.id,
        credentialName: credential.name,
      };
    } catch (error) {
      throw vaultErrorToCli(error);
    } finally {
      await control?.close();
    }
  }
  const variable = opts.apiKeyEnv ?? DEFAULT_API_KEY_ENV;
  const apiKey = ctx.env[variable]?.trim();
  if (!apiKey) {
    throw new UsageError(
      opts.apiKeyEnv === undefined
        ? `no Ashby API key: pass --credential <name>, or set ${DEFAULT_API_KEY_ENV} (or name another variable with --api-key-env)`
        : `no Ashby API key: environment variable ${variable} is not set`,
    );
  }
  registerSecret(apiKey);
  return { apiKey, baseUrl: pickBaseUrl(ctx, opts, undefined) };
}
