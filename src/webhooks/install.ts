/**
 * Registering ashpipe's receiver in Ashby: one `webhook.create` per event type, all signed with one
 * generated secret kept in the vault; `webhook.delete` to remove them.
 */
import { randomBytes } from 'node:crypto';
import { AshbyNotFoundError, AshbyPermissionError } from '../ashby/errors.js';
import type { ControlStore } from '../control/store.js';
import type { Vault } from '../vault/vault.js';
import { ACTIONS } from './actions.js';
import type { InfoCaller } from './applier.js';

/** Event types `--events all` registers: those ashpipe applies. */
export const INSTALLABLE_EVENTS: readonly string[] = Object.keys(ACTIONS);

/** Name of the vault entry holding the webhook secret of a credential's webhooks. */
export function secretNameFor(credential: string): string {
  return `${credential}:webhook-secret`;
}

/** Whether a vault entry is a webhook secret rather than an Ashby API key. */
export function isWebhookSecretName(name: string): boolean {
  return name.endsWith(':webhook-secret');
}

/**
 * Generates a secret token for the credential's webhooks and stores it in the vault, replacing the
 * previous one (webhooks signed with the old one are refused from now on).
 */
export function storeNewSecret(vault: Vault, credential: string, description: string): string {
  const secret = randomBytes(32).toString('hex');
  const secretName = secretNameFor(credential);
  if (vault.has(secretName)) vault.rotate(secretName, secret);
  else vault.add({ name: secretName, apiKey: secret, description });
  return secret;
}

/** A webhook ashpipe registered. */
export interface InstalledWebhook {
  webhookId: string;
  credential: string;
  webhookType: string;
  requestUrl: string;
  secretName: string;
  createdAt: string;
}

/** Raised when the key may not manage webhooks. */
export class WebhookPermissionError extends Error {
  override name = 'WebhookPermissionError';
  /** The secret generated for the webhooks, for people who then create them by hand. */
  secret?: string;
}

const PERMISSION_HELP =
  'the API key may not manage webhooks: give it the "API Keys: Write" permission in Ashby (Admin > Integrations > API Keys), or create the webhooks by hand in Admin > Integrations > Webhooks with the URL and the secret token printed above';

/** Parses `--events`: `all` or a comma-separated list of event types. */
export function parseEvents(value: string): string[] {
  if (value.trim() === 'all') return [...INSTALLABLE_EVENTS];
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = list.filter((e) => !INSTALLABLE_EVENTS.includes(e));
  if (unknown.length > 0 || list.length === 0)
    throw new Error(
      `--events: unknown event type ${unknown.join(', ') || '(none)'}; use all or some of ${INSTALLABLE_EVENTS.join(', ')}`,
    );
  return [...new Set(list)];
}

/**
 * A credential renamed: its webhook secret and the records of the webhooks it installed follow the new
 * name, so `webhooks list` and `webhooks uninstall --credential NEW` still find them.
 */
export function renameCredentialWebhooks(vault: Vault, from: string, to: string): void {
  if (from === to) return;
  const secret = secretNameFor(from);
  if (vault.has(secret)) vault.edit(secret, { name: secretNameFor(to) });
  vault.store.db
    .prepare('UPDATE webhook_installs SET credential = ?, secret_name = ? WHERE credential = ?')
    .run(to, secretNameFor(to), from);
}

/** A credential deleted: its webhook secret goes with it (its webhooks in Ashby stay listed until uninstalled). */
export function removeCredentialSecret(vault: Vault, credential: string): void {
  const secret = secretNameFor(credential);
  if (vault.has(secret)) vault.delete(secret);
}

/** The installed webhooks, of one credential or all. */
export function listInstalled(store: ControlStore, credential?: string): InstalledWebhook[] {
  const rows = store.db
    .prepare(
      `SELECT webhook_id AS webhookId, credential, webhook_type AS webhookType, request_url AS requestUrl,
         secret_name AS secretName, created_at AS createdAt
       FROM webhook_installs ${credential === undefined ? '' : 'WHERE credential = ?'} ORDER BY created_at, webhook_type`,
    )
    .all(...(credential === undefined ? [] : [credential])) as InstalledWebhook[];
  return rows;
}

/**
 * Creates one webhook per event type pointing at `url`, signed with a new secret stored in the vault
 * (replacing the credential's previous one). Webhooks created before a failure stay recorded.
 */
export async function installWebhooks(input: {
  client: InfoCaller;
  store: ControlStore;
  vault: Vault;
  credential: string;
  url: string;
  events: readonly string[];
}): Promise<{ secret: string; installed: InstalledWebhook[] }> {
  const secret = storeNewSecret(input.vault, input.credential, `webhook secret token for ${input.url}`);
  const secretName = secretNameFor(input.credential);
  const installed: InstalledWebhook[] = [];
  for (const webhookType of input.events) {
    let result: { id?: unknown };
    try {
      result = (
        await input.client.call<{ id?: unknown }>('webhook.create', {
          webhookType,
          requestUrl: input.url,
          secretToken: secret,
        })
      ).results;
    } catch (error) {
      if (error instanceof AshbyPermissionError) {
        const refused = new WebhookPermissionError(PERMISSION_HELP, { cause: error });
        refused.secret = secret;
        throw refused;
      }
      throw error;
    }
    const row: InstalledWebhook = {
      webhookId: String(result.id),
      credential: input.credential,
      webhookType,
      requestUrl: input.url,
      secretName,
      createdAt: new Date().toISOString(),
    };
    input.store.db
      .prepare(
        'INSERT OR REPLACE INTO webhook_installs (webhook_id, credential, webhook_type, request_url, secret_name, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(row.webhookId, row.credential, row.webhookType, row.requestUrl, row.secretName, row.createdAt);
    installed.push(row);
  }
  return { secret, installed };
}

/** Deletes the credential's webhooks in Ashby (`webhook.delete`) and forgets them. */
export async function uninstallWebhooks(input: {
  client: InfoCaller;
  store: ControlStore;
  credential: string;
}): Promise<InstalledWebhook[]> {
  const removed: InstalledWebhook[] = [];
  for (const hook of listInstalled(input.store, input.credential)) {
    try {
      await input.client.call('webhook.delete', { webhookId: hook.webhookId });
    } catch (error) {
      if (error instanceof AshbyPermissionError)
        throw new WebhookPermissionError(PERMISSION_HELP, { cause: error });
      // Already deleted in Ashby (by hand): forgetting it is what is left to do.
      if (!(error instanceof AshbyNotFoundError)) throw error;
    }
    input.store.db.prepare('DELETE FROM webhook_installs WHERE webhook_id = ?').run(hook.webhookId);
    removed.push(hook);
  }
  return removed;
}
