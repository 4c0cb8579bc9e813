import { randomUUID } from 'node:crypto';
import { resolveHome } from '../control/home.js';
import { refuseControlUrl } from '../control/open.js';
import { type ControlStore, openControlStore } from '../control/store.js';
import { registerSecret } from '../util/redact.js';
import { readAudit, recordAudit } from './audit.js';
import { type Envelope, openApiKey, sealApiKey } from './crypto.js';
import { VaultError } from './errors.js';
import { loadMasterKey } from './master-key.js';
import type { AuditEntry, CredentialInfo, CredentialStatus, Verification } from './types.js';

/** How a {@link Vault} finds its master key and whom it records as acting. */
export interface VaultOptions {
  /** The ashpipe home directory (holds `master.key`). */
  home: string;
  /** Environment read for `ASHPIPE_MASTER_KEY`. */
  env: NodeJS.ProcessEnv;
  /**
   * Who acts, for the audit log.
   * @default the OS user name
   * @example 'console:alice@example.com'
   */
  actor?: string;
  /** Receives one-line notices for a person (the master key file was created). */
  notice?: (message: string) => void;
}

/** A new credential. */
export interface NewCredential {
  /** Unique name, e.g. `prod-sync`. */
  name: string;
  /** Purpose, data freshness, owner. */
  description?: string;
  apiKey: string;
  /** Ashby-compatible server, when not the default. */
  baseUrl?: string;
  /** Result of verifying the key before saving it. */
  verification?: Verification;
}

/** Longest accepted credential name. */
const MAX_NAME = 100;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@:/-]*$/;

interface CredentialRow {
  id: string;
  name: string;
  description: string | null;
  base_url: string | null;
  key_ciphertext: Buffer;
  key_iv: Buffer;
  key_tag: Buffer;
  data_key_wrapped: Buffer;
  data_key_iv: Buffer;
  data_key_tag: Buffer;
  key_suffix: string;
  status: CredentialStatus;
  verified_at: string | null;
  verification: string | null;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
}

/** `••••` and the last four characters: enough to tell keys apart, useless to an attacker. */
export function maskKey(suffix: string): string {
  return `••••${suffix}`;
}

function suffixOf(apiKey: string): string {
  return apiKey.length >= 12 ? apiKey.slice(-4) : '';
}

function statusOf(verification: Verification | undefined): CredentialStatus {
  if (!verification) return 'unverified';
  return verification.status === 'valid' ? 'verified' : verification.status;
}

/**
 * Values of the columns a sealed key fills, in the order `add` and `rotate` name them: key_ciphertext,
 * key_iv, key_tag, data_key_wrapped, data_key_iv, data_key_tag, key_suffix, status, verified_at, verification.
 */
function sealedKeyColumns(envelope: Envelope, apiKey: string, verification: Verification | undefined) {
  return [
    envelope.key.ciphertext,
    envelope.key.iv,
    envelope.key.tag,
    envelope.dataKey.ciphertext,
    envelope.dataKey.iv,
    envelope.dataKey.tag,
    suffixOf(apiKey),
    statusOf(verification),
    verification?.verifiedAt ?? null,
    verification ? JSON.stringify(verification) : null,
  ] as const;
}

function toInfo(row: CredentialRow): CredentialInfo {
  return {
    id: row.id,
    name: row.name,
    ...(row.description === null ? {} : { description: row.description }),
    ...(row.base_url === null ? {} : { baseUrl: row.base_url }),
    maskedKey: maskKey(row.key_suffix),
    status: row.status,
    ...(row.verified_at === null ? {} : { verifiedAt: row.verified_at }),
    ...(row.verification === null ? {} : { verification: JSON.parse(row.verification) as Verification }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.rotated_at === null ? {} : { rotatedAt: row.rotated_at }),
  };
}

function envelopeOf(row: CredentialRow): Envelope {
  return {
    key: { ciphertext: row.key_ciphertext, iv: row.key_iv, tag: row.key_tag },
    dataKey: { ciphertext: row.data_key_wrapped, iv: row.data_key_iv, tag: row.data_key_tag },
  };
}

/** Checks a credential name: required, at most 100 characters, starting with a letter or digit. */
export function validateName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw new VaultError('invalid_input', 'a credential needs a name');
  if (trimmed.length > MAX_NAME || !NAME.test(trimmed)) {
    throw new VaultError(
      'invalid_input',
      `credential name "${trimmed.slice(0, MAX_NAME)}" is not valid: use up to ${MAX_NAME} letters, digits, spaces and . _ - @ : /, starting with a letter or digit`,
    );
  }
  return trimmed;
}

/** Checks an API key read from a prompt, stdin or the environment. */
export function validateApiKey(apiKey: string): string {
  const trimmed = apiKey.trim();
  if (trimmed === '') throw new VaultError('invalid_input', 'the API key is empty');
  if (/\s/.test(trimmed)) throw new VaultError('invalid_input', 'the API key contains whitespace');
  return trimmed;
}

/**
 * The credentials vault: API keys encrypted with AES-256-GCM envelope encryption in the control store,
 * every change and every decryption recorded in the audit log.
 */
export class Vault {
  constructor(
    readonly store: ControlStore,
    private readonly options: VaultOptions,
  ) {}

  private get actor(): string | undefined {
    return this.options.actor;
  }

  private auditVerify(credential: { id: string; name: string }, verification: Verification): void {
    this.audit({
      action: 'verify',
      credentialId: credential.id,
      credentialName: credential.name,
      ...verifyOutcome(verification),
    });
  }

  private audit(entry: Parameters<typeof recordAudit>[1]): void {
    recordAudit(this.store, this.actor === undefined ? entry : { actor: this.actor, ...entry });
  }

  private masterKey(create = false): Buffer {
    return loadMasterKey(this.store, {
      home: this.options.home,
      env: this.options.env,
      create,
      ...(this.options.notice ? { notice: this.options.notice } : {}),
    });
  }

  private row(name: string): CredentialRow {
    const row = this.store.db.prepare('SELECT * FROM credentials WHERE name = ?').get(name) as
      | CredentialRow
      | undefined;
    if (!row)
      throw new VaultError('not_found', `no credential named "${name}" (see \`ashpipe credentials list\`)`);
    return row;
  }

  /** Every credential, by name. */
  list(): CredentialInfo[] {
    const rows = this.store.db.prepare('SELECT * FROM credentials ORDER BY name').all() as CredentialRow[];
    return rows.map(toInfo);
  }

  /** One credential by name; throws `not_found`. */
  get(name: string): CredentialInfo {
    return toInfo(this.row(name));
  }

  /** Whether a credential of that name exists. */
  has(name: string): boolean {
    return this.store.db.prepare('SELECT 1 FROM credentials WHERE name = ?').get(name) !== undefined;
  }

  /** Stores a new credential; the first one creates the master key file when no master key is set. */
  add(input: NewCredential): CredentialInfo {
    const name = validateName(input.name);
    const apiKey = validateApiKey(input.apiKey);
    registerSecret(apiKey);
    if (this.has(name)) throw new VaultError('name_taken', `a credential named "${name}" already exists`);
    const master = this.masterKey(true);
    const id = `cred_${randomUUID()}`;
    const envelope = sealApiKey(master, id, apiKey);
    const now = new Date().toISOString();
    const v = input.verification;
    this.store.transaction(() => {
      if (this.has(name)) throw new VaultError('name_taken', `a credential named "${name}" already exists`);
      this.store.db
        .prepare(
          `INSERT INTO credentials (id, name, description, base_url, key_ciphertext, key_iv, key_tag,
             data_key_wrapped, data_key_iv, data_key_tag, key_suffix, status, verified_at, verification,
             created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          name,
          input.description?.trim() || null,
          input.baseUrl ?? null,
          ...sealedKeyColumns(envelope, apiKey, v),
          now,
          now,
        );
      this.audit({ action: 'create', credentialId: id, credentialName: name });
      if (v) this.auditVerify({ id, name }, v);
    });
    return this.get(name);
  }

  /**
   * Decrypts a credential's key for use; the use is audited with its purpose and the key is registered
   * for redaction before it is returned.
   */
  reveal(name: string, purpose: string): { apiKey: string; credential: CredentialInfo } {
    const row = this.row(name);
    let apiKey: string;
    try {
      apiKey = openApiKey(this.masterKey(), row.id, envelopeOf(row), row.name);
    } catch (error) {
      this.audit({
        action: 'use',
        credentialId: row.id,
        credentialName: row.name,
        purpose,
        outcome: 'failed',
        detail: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    registerSecret(apiKey);
    this.audit({ action: 'use', credentialId: row.id, credentialName: row.name, purpose });
    return { apiKey, credential: toInfo(row) };
  }

  /** Records the result of re-verifying a credential's key. */
  recordVerification(name: string, verification: Verification): CredentialInfo {
    const row = this.row(name);
    this.store.transaction(() => {
      this.store.db
        .prepare(
          'UPDATE credentials SET status = ?, verified_at = ?, verification = ?, updated_at = ? WHERE id = ?',
        )
        .run(
          statusOf(verification),
          verification.verifiedAt,
          JSON.stringify(verification),
          new Date().toISOString(),
          row.id,
        );
      this.auditVerify(row, verification);
    });
    return this.get(row.name);
  }

  /**
   * Replaces a credential's key in one transaction. The id stays, so everything that refers to the
   * credential keeps working; the old ciphertext and its data key are overwritten.
   */
  rotate(name: string, newApiKey: string, verification?: Verification): CredentialInfo {
    const row = this.row(name);
    const apiKey = validateApiKey(newApiKey);
    registerSecret(apiKey);
    const envelope = sealApiKey(this.masterKey(), row.id, apiKey);
    const now = new Date().toISOString();
    this.store.transaction(() => {
      const result = this.store.db
        .prepare(
          `UPDATE credentials SET key_ciphertext = ?, key_iv = ?, key_tag = ?, data_key_wrapped = ?,
             data_key_iv = ?, data_key_tag = ?, key_suffix = ?, status = ?, verified_at = ?, verification = ?,
             updated_at = ?, rotated_at = ?
           WHERE id = ?`,
        )
        .run(...sealedKeyColumns(envelope, apiKey, verification), now, now, row.id);
      if (result.changes !== 1)
        throw new VaultError('not_found', `credential "${name}" was deleted meanwhile`);
      this.audit({ action: 'rotate', credentialId: row.id, credentialName: row.name });
      if (verification) this.auditVerify(row, verification);
    });
    this.purgeOldPages();
    return this.get(row.name);
  }

  /**
   * Copies the WAL into the database and truncates it, so that the page images that held the previous
   * ciphertext do not linger in the WAL (secure_delete already zeroes them in the database pages).
   * Best effort: a concurrent reader can delay it until the next checkpoint.
   */
  private purgeOldPages(): void {
    this.store.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Renames a credential or changes its description; the id (and so every reference) stays. */
  edit(name: string, changes: { name?: string; description?: string }): CredentialInfo {
    const row = this.row(name);
    const newName = changes.name === undefined ? row.name : validateName(changes.name);
    const description =
      changes.description === undefined ? row.description : changes.description.trim() || null;
    const changed: string[] = [];
    if (newName !== row.name) changed.push(`name "${row.name}" → "${newName}"`);
    if (description !== row.description) changed.push('description');
    this.store.transaction(() => {
      if (newName !== row.name && this.has(newName)) {
        throw new VaultError('name_taken', `a credential named "${newName}" already exists`);
      }
      this.store.db
        .prepare('UPDATE credentials SET name = ?, description = ?, updated_at = ? WHERE id = ?')
        .run(newName, description, new Date().toISOString(), row.id);
      this.audit({
        action: 'edit',
        credentialId: row.id,
        credentialName: newName,
        detail: changed.length > 0 ? `changed ${changed.join(', ')}` : 'no change',
      });
    });
    return this.get(newName);
  }

  /** Deletes a credential and its ciphertext; the audit log keeps its history. */
  delete(name: string): CredentialInfo {
    const row = this.row(name);
    this.store.transaction(() => {
      this.store.db.prepare('DELETE FROM credentials WHERE id = ?').run(row.id);
      this.audit({ action: 'delete', credentialId: row.id, credentialName: row.name });
    });
    this.purgeOldPages();
    return toInfo(row);
  }

  /** The audit log, oldest first; for one credential (existing or deleted) when `name` is given. */
  auditLog(name?: string): AuditEntry[] {
    if (name === undefined) return readAudit(this.store);
    const row = this.store.db.prepare('SELECT id FROM credentials WHERE name = ?').get(name) as
      | { id: string }
      | undefined;
    const entries = readAudit(this.store, row ? { id: row.id, name } : { name });
    if (!row && entries.length === 0) {
      throw new VaultError('not_found', `no credential named "${name}" and no audit history under that name`);
    }
    return entries;
  }
}

function verifyOutcome(v: Verification): { outcome: 'ok' | 'failed'; detail: string } {
  return v.status === 'valid'
    ? {
        outcome: 'ok',
        detail: `verified${v.warnings.length > 0 ? ` with ${v.warnings.length} warning(s)` : ''}`,
      }
    : { outcome: 'failed', detail: `${v.status}${v.message ? `: ${v.message}` : ''}` };
}

/**
 * Opens the control store in `ASHPIPE_HOME` and a vault on it; close the store when done.
 * @example const { vault, store } = openVault(process.env, { actor: 'console:alice@example.com' });
 */
export function openVault(
  env: NodeJS.ProcessEnv,
  options: Pick<VaultOptions, 'actor' | 'notice'> = {},
): { vault: Vault; store: ControlStore } {
  refuseControlUrl(env, 'the vault (credentials)');
  const home = resolveHome(env);
  const store = openControlStore(home);
  return { vault: new Vault(store, { home, env, ...options }), store };
}
