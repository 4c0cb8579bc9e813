import { DEFAULT_BASE_URL } from '../ashby/client.js';
import { defined } from '../util/defined.js';
import { registerSecret } from '../util/redact.js';
import type { CredentialInfo, Verification } from '../vault/types.js';
import type { Vault } from '../vault/vault.js';
import {
  isWebhookSecretName,
  removeCredentialSecret,
  renameCredentialWebhooks,
} from '../webhooks/install.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { CredentialService, VerifyKey } from './services.js';

/**
 * How long a console verification may take before it is reported as failed. A person waits for it
 * with a spinner: a server that never answers must not hold them for the client's full retry budget.
 */
export const VERIFY_DEADLINE_MS = 8_000;

/**
 * The reason of a failed verification as one clause: without the probe's endpoint in front, the error
 * code behind or a trailing period, e.g. `could not connect to Ashby (ECONNREFUSED); the request was not sent`.
 */
export function reasonOf(verification: Verification, fallback: string): string {
  return (verification.message ?? fallback)
    .replace(/^[a-zA-Z]+\.[a-zA-Z]+: /, '')
    .replace(/\s*\[code=[a-z_]+\]\s*$/, '')
    .replace(/\.\s*$/, '');
}

/** 422 for a key Ashby rejected, in one sentence naming the server. */
function keyRejected(baseUrl: string, kept: string): ValidationError {
  return new ValidationError(
    `The server at ${baseUrl} rejected this API key (wrong, deactivated or missing); ${kept}.`,
    undefined,
    'key_rejected',
  );
}

/** 422 for a key no probe could check: nothing is stored unless the caller asks for it. */
function probeFailed(verification: Verification, baseUrl: string, kept: string): ValidationError {
  return new ValidationError(
    `Could not check the key at ${baseUrl}: ${reasonOf(verification, 'every probe failed')}. ${kept}; check the server address, or save without verifying (saveUnverified: true).`,
    undefined,
    'probe_failed',
  );
}

/**
 * Runs `verify` with a deadline: past it the probes are aborted and the outcome is an `error`
 * verification saying so, instead of whatever the aborted client throws.
 */
export async function verifyWithin(
  verify: VerifyKey,
  apiKey: string,
  baseUrl: string,
  deadlineMs: number,
): Promise<Verification> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Verification>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({
        status: 'error',
        verifiedAt: new Date().toISOString(),
        permissions: [],
        confidential: 'unknown',
        warnings: [],
        message: `no answer within ${Math.round(deadlineMs / 1000)} s`,
      });
    }, deadlineMs);
  });
  const probing = verify(apiKey, baseUrl, controller.signal);
  // Once the deadline has answered, whatever the aborted probes throw is of no interest.
  probing.catch(() => undefined);
  try {
    return await Promise.race([probing, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** 422 for a name of the form webhook secrets take, which would hide the credential from every list. */
function reservedName(name: string): void {
  if (isWebhookSecretName(name.trim()))
    throw new ValidationError('names ending in ":webhook-secret" are kept for webhook secrets', [
      { path: 'name', message: 'reserved name' },
    ]);
}

/**
 * The vault seen by id (the API's resource id) instead of by name; every new or rotated key is verified
 * first, and a key Ashby rejects is never stored.
 */
export class VaultCredentialService implements CredentialService {
  constructor(
    private readonly vault: Vault,
    private readonly verifyKey: VerifyKey,
    readonly defaultBaseUrl: string = DEFAULT_BASE_URL,
    private readonly deadlineMs: number = VERIFY_DEADLINE_MS,
  ) {}

  private check(apiKey: string, baseUrl: string): Promise<Verification> {
    return verifyWithin(this.verifyKey, apiKey, baseUrl, this.deadlineMs);
  }

  // Webhook secrets live in the vault too, but they are no API keys: they are never listed as credentials.
  async list(): Promise<CredentialInfo[]> {
    return (await this.vault.list()).filter((c) => !isWebhookSecretName(c.name));
  }

  async get(id: string): Promise<CredentialInfo> {
    const found = (await this.list()).find((c) => c.id === id);
    if (!found) throw new NotFoundError('credential', id);
    return found;
  }

  async add(input: {
    name: string;
    description?: string;
    apiKey: string;
    baseUrl?: string;
    saveUnverified?: boolean;
  }): Promise<CredentialInfo> {
    registerSecret(input.apiKey);
    reservedName(input.name);
    const baseUrl = input.baseUrl ?? this.defaultBaseUrl;
    const verification = await this.check(input.apiKey.trim(), baseUrl);
    if (verification.status === 'invalid') throw keyRejected(baseUrl, 'nothing was saved');
    if (verification.status === 'error' && input.saveUnverified !== true)
      throw probeFailed(verification, baseUrl, 'Nothing was saved');
    return this.vault.add({
      name: input.name,
      apiKey: input.apiKey,
      verification,
      ...defined({ description: input.description, baseUrl: input.baseUrl }),
    });
  }

  async edit(id: string, changes: { name?: string; description?: string }): Promise<CredentialInfo> {
    if (changes.name !== undefined) reservedName(changes.name);
    const current = await this.get(id);
    const edited = await this.vault.edit(current.name, changes);
    await renameCredentialWebhooks(this.vault, current.name, edited.name);
    return edited;
  }

  async rotate(
    id: string,
    apiKey: string,
    options: { saveUnverified?: boolean } = {},
  ): Promise<CredentialInfo> {
    registerSecret(apiKey);
    const current = await this.get(id);
    const baseUrl = current.baseUrl ?? this.defaultBaseUrl;
    const verification = await this.check(apiKey.trim(), baseUrl);
    if (verification.status === 'invalid') throw keyRejected(baseUrl, 'the old key stays in place');
    if (verification.status === 'error' && options.saveUnverified !== true)
      throw probeFailed(verification, baseUrl, 'The old key stays in place');
    return this.vault.rotate(current.name, apiKey, verification);
  }

  async verify(id: string): Promise<CredentialInfo> {
    const { apiKey, baseUrl, credential } = await this.access(id, 'verify');
    const verification = await this.check(apiKey, baseUrl);
    return this.vault.recordVerification(credential.name, verification);
  }

  async remove(id: string): Promise<CredentialInfo> {
    const removed = await this.vault.delete((await this.get(id)).name);
    await removeCredentialSecret(this.vault, removed.name);
    return removed;
  }

  async access(
    id: string,
    purpose: string,
  ): Promise<{ apiKey: string; baseUrl: string; credential: CredentialInfo }> {
    const { apiKey, credential } = await this.vault.reveal((await this.get(id)).name, purpose);
    return { apiKey, baseUrl: credential.baseUrl ?? this.defaultBaseUrl, credential };
  }
}
