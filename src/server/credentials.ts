import { DEFAULT_BASE_URL } from '../ashby/client.js';
import { registerSecret } from '../util/redact.js';
import type { CredentialInfo, Verification } from '../vault/types.js';
import type { Vault } from '../vault/vault.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { CredentialService, VerifyKey } from './services.js';

/** 422 for a key no probe could check: nothing is stored unless the caller asks for it. */
function probeFailed(verification: Verification, kept: string): ValidationError {
  return new ValidationError(
    `No probe reached Ashby, so the key could not be checked: ${verification.message ?? 'every probe failed'}. ${kept}; check the base URL, or pass saveUnverified: true to store the key anyway.`,
    undefined,
    'probe_failed',
  );
}

/**
 * The vault seen by id (the API's resource id) instead of by name; every new or rotated key is verified
 * first, and a key Ashby rejects is never stored.
 */
export class VaultCredentialService implements CredentialService {
  constructor(
    private readonly vault: Vault,
    private readonly verifyKey: VerifyKey,
    private readonly defaultBaseUrl: string = DEFAULT_BASE_URL,
  ) {}

  list(): CredentialInfo[] {
    return this.vault.list();
  }

  get(id: string): CredentialInfo {
    const found = this.vault.list().find((c) => c.id === id);
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
    const baseUrl = input.baseUrl ?? this.defaultBaseUrl;
    const verification = await this.verifyKey(input.apiKey.trim(), baseUrl);
    if (verification.status === 'invalid') {
      throw new ValidationError(
        `Ashby rejected the API key: ${verification.message ?? 'wrong or deactivated key'}. Nothing was saved.`,
        undefined,
        'key_rejected',
      );
    }
    if (verification.status === 'error' && input.saveUnverified !== true)
      throw probeFailed(verification, 'Nothing was saved');
    return this.vault.add({
      name: input.name,
      apiKey: input.apiKey,
      verification,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.baseUrl !== undefined ? { baseUrl: input.baseUrl } : {}),
    });
  }

  edit(id: string, changes: { name?: string; description?: string }): CredentialInfo {
    return this.vault.edit(this.get(id).name, changes);
  }

  async rotate(
    id: string,
    apiKey: string,
    options: { saveUnverified?: boolean } = {},
  ): Promise<CredentialInfo> {
    registerSecret(apiKey);
    const current = this.get(id);
    const verification = await this.verifyKey(apiKey.trim(), current.baseUrl ?? this.defaultBaseUrl);
    if (verification.status === 'invalid') {
      throw new ValidationError(
        `Ashby rejected the new API key: ${verification.message ?? 'wrong or deactivated key'}. The old key stays in place.`,
        undefined,
        'key_rejected',
      );
    }
    if (verification.status === 'error' && options.saveUnverified !== true)
      throw probeFailed(verification, 'The old key stays in place');
    return this.vault.rotate(current.name, apiKey, verification);
  }

  async verify(id: string): Promise<CredentialInfo> {
    const { apiKey, baseUrl, credential } = this.access(id, 'verify');
    const verification = await this.verifyKey(apiKey, baseUrl);
    return this.vault.recordVerification(credential.name, verification);
  }

  remove(id: string): CredentialInfo {
    return this.vault.delete(this.get(id).name);
  }

  access(id: string, purpose: string): { apiKey: string; baseUrl: string; credential: CredentialInfo } {
    const { apiKey, credential } = this.vault.reveal(this.get(id).name, purpose);
    return { apiKey, baseUrl: credential.baseUrl ?? this.defaultBaseUrl, credential };
  }
}
