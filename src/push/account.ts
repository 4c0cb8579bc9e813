/**
 * The Ashby account a push writes to, as the ledger names it. The ledger, the push runs and the
 * one-push-at-a-time rule are scoped by it, so two accounts pushing the same record key each get the
 * record once.
 *
 * - A stored credential: `credential:<id>`. Rotating the key in place keeps the id, so the rotated key
 *   still sees the records the old one applied.
 * - A raw key (`ASHBY_API_KEY`, no credential): `key:<fingerprint>`, an HMAC-SHA256 of the key under a
 *   random secret of this control store. Not of the base URL: a key belongs to one organisation whatever
 *   the road to it (a proxy, another spelling of the URL), and a push resumed through another one must
 *   still find its ledger. Ashby's `apiKey.info` answers only the key's
 *   title, creation time and scopes (nothing names the organisation, and it needs a permission many keys
 *   lack), so the key itself is the only stable thing. The store never holds the key or a plain hash of
 *   it: without the store's secret the fingerprint cannot be checked against a guessed or leaked key.
 *   A new raw key is a new account to the ledger; keep a rotated key's ledger by storing it as a
 *   credential (`ashpipe credentials add`, then `rotate`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Control } from '../control/open.js';

/** The account of a stored credential. */
export function credentialAccount(credentialId: string): string {
  return `credential:${credentialId}`;
}

/** The store's secret for raw-key fingerprints, created by the first caller (one row, id 1). */
async function fingerprintSecret(control: Control): Promise<string> {
  const { db } = control;
  const found = await db
    .selectFrom('push_accounts_secret')
    .select('secret')
    .where('id', '=', 1)
    .executeTakeFirst();
  if (found) return found.secret;
  // Two processes creating it at once: the first insert wins, both read it back.
  await db
    .insertInto('push_accounts_secret')
    .values({ id: 1, secret: randomBytes(32).toString('hex') })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await db
    .selectFrom('push_accounts_secret')
    .select('secret')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return row.secret;
}

/** The account of a raw API key: a fingerprint that never reveals the key. */
export async function keyAccount(control: Control, apiKey: string): Promise<string> {
  const secret = await fingerprintSecret(control);
  const mac = createHmac('sha256', Buffer.from(secret, 'hex')).update(apiKey).digest('hex');
  return `key:${mac.slice(0, 32)}`;
}

/** The account a push writes to: its credential's when it has one, else its key's fingerprint. */
export function pushAccount(
  control: Control,
  access: { apiKey: string; credentialId?: string | undefined },
): Promise<string> {
  if (access.credentialId !== undefined) return Promise.resolve(credentialAccount(access.credentialId));
  return keyAccount(control, access.apiKey);
}

/**
 * An account as a person reads it: a credential by its name (its id when it was removed), a raw key by
 * its fingerprint (never the key), the shared scope of entries written before accounts as `shared`.
 * @example 'credential "acme-prod"'
 */
export async function accountLabel(control: Control, account: string): Promise<string> {
  // The shared scope (`SHARED_ACCOUNT` of `ledger.ts`): kept short, it fills a column of `quarantine list`.
  if (account === '') return 'shared';
  if (account.startsWith('key:')) return `the API key with fingerprint ${account.slice(4, 16)}`;
  const id = account.slice('credential:'.length);
  const row = await control.db
    .selectFrom('credentials')
    .select('name')
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? `credential "${row.name}"` : `credential ${id} (removed)`;
}

/** Labels of several accounts, each looked up once. */
export async function accountLabels(
  control: Control,
  accounts: Iterable<string>,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const a of accounts) if (!out.has(a)) out.set(a, await accountLabel(control, a));
  return out;
}

/**
 * The account among `accounts` that `name` names, as a person would name it in `--account`: a credential's
 * name or id, `shared`, or a key's fingerprint as `quarantine list` shows it (its first 12 hex digits or
 * more); the stored form (`credential:…`, `key:…`) is taken as is. When none, or more than one,
 * matches: why, naming the accounts there are.
 */
export async function accountNamed(
  control: Control,
  accounts: readonly string[],
  name: string,
): Promise<{ account: string } | { error: string }> {
  const labels = await accountLabels(control, accounts);
  const fingerprint = /^[0-9a-f]{12,32}$/i.test(name) ? `key:${name.toLowerCase()}` : undefined;
  const matches = accounts.filter(
    (a) =>
      a === name ||
      (name === 'shared' && a === '') ||
      a === credentialAccount(name) ||
      labels.get(a) === `credential "${name}"` ||
      (fingerprint !== undefined && a.startsWith(fingerprint)),
  );
  const known = () =>
    accounts.length === 0
      ? 'no entry has an account'
      : `there are: ${[...labels.values()].sort().join(', ')}`;
  if (matches.length === 1) return { account: matches[0] as string };
  return {
    error:
      matches.length === 0
        ? `no quarantined records of account "${name}"; ${known()}`
        : `account "${name}" is ambiguous; ${known()}`,
  };
}
