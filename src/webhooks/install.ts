/**
 * Registering ashpipe's receiver in Ashby: one `webhook.create` per event type, all signed with one
 * generated secret kept in the vault; `webhook.delete` to remove them.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AshbyNotFoundError, AshbyPermissionError } from '../ashby/errors.js';
import type { ControlDatabase } from '../control/schema.js';
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
export async function storeNewSecret(vault: Vault, credential: string, description: string): Promise<string> {
  const secret = randomBytes(32).toString('hex');
  const secretName = secretNameFor(credential);
  if (await vault.has(secretName)) await vault.rotate(secretName, secret);
  else await vault.add({ name: secretName, apiKey: secret, description });
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
export async function renameCredentialWebhooks(vault: Vault, from: string, to: string): Promise<void> {
  if (from === to) return;
  const secret = secretNameFor(from);
  if (await vault.has(secret)) await vault.edit(secret, { name: secretNameFor(to) });
  await vault.control.db
    .updateTable('webhook_installs')
    .set({ credential: to, secret_name: secretNameFor(to) })
    .where('credential', '=', from)
    .execute();
}

/** A credential deleted: its webhook secret goes with it (its webhooks in Ashby stay listed until uninstalled). */
export async function removeCredentialSecret(vault: Vault, credential: string): Promise<void> {
  const secret = secretNameFor(credential);
  if (await vault.has(secret)) await vault.delete(secret);
}

/** The installed webhooks, of one credential or all, by time of installation and event type. */
export async function listInstalled(
  db: Kysely<ControlDatabase>,
  credential?: string,
): Promise<InstalledWebhook[]> {
  let query = db.selectFrom('webhook_installs').selectAll();
  if (credential !== undefined) query = query.where('credential', '=', credential);
  const rows = await query.execute();
  // Sorted here, not in SQL: PostgreSQL's collation may order event types differently from SQLite's bytes.
  const order = (a: (typeof rows)[number], b: (typeof rows)[number]) =>
    a.created_at !== b.created_at
      ? a.created_at < b.created_at
        ? -1
        : 1
      : a.webhook_type < b.webhook_type
        ? -1
        : a.webhook_type > b.webhook_type
          ? 1
          : 0;
  return rows.sort(order).map((r) => ({
    webhookId: r.webhook_id,
    credential: r.credential,
    webhookType: r.webhook_type,
    requestUrl: r.request_url,
    secretName: r.secret_name,
    createdAt: r.created_at,
  }));
}

/**
 * Creates one webhook per event type pointing at `url`, signed with a new secret stored in the vault
 * (replacing the credential's previous one). Webhooks created before a failure stay recorded.
 */
export async function installWebhooks(input: {
  client: InfoCaller;
  /** The vault keeping the secret; the registrations go to its control store. */
  vault: Vault;
  credential: string;
  url: string;
  events: readonly string[];
}): Promise<{ secret: string; installed: InstalledWebhook[] }> {
  const secret = await storeNewSecret(input.vault, input.credential, `webhook secret token for ${input.url}`);
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
    const values = {
      credential: row.credential,
      webhook_type: row.webhookType,
      request_url: row.requestUrl,
      secret_name: row.secretName,
      created_at: row.createdAt,
    };
    await input.vault.control.db
      .insertInto('webhook_installs')
      .values({ webhook_id: row.webhookId, ...values })
      .onConflict((oc) => oc.column('webhook_id').doUpdateSet(values))
      .execute();
    installed.push(row);
  }
  return { secret, installed };
}

/** Deletes the credential's webhooks in Ashby (`webhook.delete`) and forgets them. */
export async function uninstallWebhooks(input: {
  client: InfoCaller;
  db: Kysely<ControlDatabase>;
  credential: string;
}): Promise<InstalledWebhook[]> {
  const removed: InstalledWebhook[] = [];
  for (const hook of await listInstalled(input.db, input.credential)) {
    try {
      await input.client.call('webhook.delete', { webhookId: hook.webhookId });
    } catch (error) {
      if (error instanceof AshbyPermissionError)
        throw new WebhookPermissionError(PERMISSION_HELP, { cause: error });
      // Already deleted in Ashby (by hand): forgetting it is what is left to do.
      if (!(error instanceof AshbyNotFoundError)) throw error;
    }
    await input.db.deleteFrom('webhook_installs').where('webhook_id', '=', hook.webhookId).execute();
    removed.push(hook);
  }
  return removed;
}
