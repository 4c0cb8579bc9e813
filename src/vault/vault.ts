import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { resolveHome } from '../control/home.js';
import { type Control, controlUrl, openControl } from '../control/open.js';
import type { ControlDatabase } from '../control/schema.js';
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

/** The columns a sealed key fills, as `add` and `rotate` write them. */
function sealedKeyColumns(envelope: Envelope, apiKey: string, verification: Verification | undefined) {
  return {
    key_ciphertext: envelope.key.ciphertext,
    key_iv: envelope.key.iv,
    key_tag: envelope.key.tag,
    data_key_wrapped: envelope.dataKey.ciphertext,
    data_key_iv: envelope.dataKey.iv,
    data_key_tag: envelope.dataKey.tag,
    key_suffix: suffixOf(apiKey),
    status: statusOf(verification),
    verified_at: verification?.verifiedAt ?? null,
    verification: verification ? JSON.stringify(verification) : null,
  };
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
 * The credentials vault: API keys encrypted with AES-256-GCM envelope encryption in the control store
 * (SQLite or PostgreSQL), every change and every decryption recorded in the audit log. Every change is one
 * {@link Control.transaction}, so processes sharing a store lose no update on either dialect.
 */
export class Vault {
  constructor(
    readonly control: Control,
    private readonly options: VaultOptions,
  ) {}

  private async auditVerify(
    db: Kysely<ControlDatabase>,
    credential: { id: string; name: string },
    verification: Verification,
  ): Promise<void> {
    await this.audit(db, {
      action: 'verify',
      credentialId: credential.id,
      credentialName: credential.name,
      ...verifyOutcome(verification),
    });
  }

  private audit(db: Kysely<ControlDatabase>, entry: Parameters<typeof recordAudit>[1]): Promise<void> {
    const actor = this.options.actor;
    return recordAudit(db, actor === undefined ? entry : { actor, ...entry });
  }

  private masterKey(create = false): Promise<Buffer> {
    return loadMasterKey(this.control, {
      home: this.options.home,
      env: this.options.env,
      create,
      ...(this.options.notice ? { notice: this.options.notice } : {}),
    });
  }

  private async row(name: string, db: Kysely<ControlDatabase> = this.control.db): Promise<CredentialRow> {
    const row = await db.selectFrom('credentials').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row)
      throw new VaultError('not_found', `no credential named "${name}" (see \`ashpipe credentials list\`)`);
    return row as CredentialRow;
  }

  /** Every credential, by name (byte order, the same on both dialects whatever the database's collation). */
  async list(): Promise<CredentialInfo[]> {
    const rows = (await this.control.db.selectFrom('credentials').selectAll().execute()) as CredentialRow[];
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(toInfo);
  }

  /** One credential by name; throws `not_found`. */
  async get(name: string): Promise<CredentialInfo> {
    return toInfo(await this.row(name));
  }

  /** Whether a credential of that name exists. */
  async has(name: string, db: Kysely<ControlDatabase> = this.control.db): Promise<boolean> {
    const row = await db.selectFrom('credentials').select('id').where('name', '=', name).executeTakeFirst();
    return row !== undefined;
  }

  /** Stores a new credential; the first one creates the master key file when no master key is set. */
  async add(input: NewCredential): Promise<CredentialInfo> {
    const name = validateName(input.name);
    const apiKey = validateApiKey(input.apiKey);
    registerSecret(apiKey);
    if (await this.has(name))
      throw new VaultError('name_taken', `a credential named "${name}" already exists`);
    const master = await this.masterKey(true);
    const id = `cred_${randomUUID()}`;
    const envelope = sealApiKey(master, id, apiKey);
    const now = new Date().toISOString();
    const v = input.verification;
    await this.control.transaction(async (trx) => {
      // Checked again under the writer's lock: another process may have taken the name since.
      if (await this.has(name, trx))
        throw new VaultError('name_taken', `a credential named "${name}" already exists`);
      await trx
        .insertInto('credentials')
        .values({
          id,
          name,
          description: input.description?.trim() || null,
          base_url: input.baseUrl ?? null,
          ...sealedKeyColumns(envelope, apiKey, v),
          created_at: now,
          updated_at: now,
          rotated_at: null,
        })
        .execute();
      await this.audit(trx, { action: 'create', credentialId: id, credentialName: name });
      if (v) await this.auditVerify(trx, { id, name }, v);
    });
    return this.get(name);
  }

  /**
   * Decrypts a credential's key for use; the use is audited with its purpose and the key is registered
   * for redaction before it is returned.
   */
  async reveal(name: string, purpose: string): Promise<{ apiKey: string; credential: CredentialInfo }> {
    const row = await this.row(name);
    let apiKey: string;
    try {
      apiKey = openApiKey(await this.masterKey(), row.id, envelopeOf(row), row.name);
    } catch (error) {
      await this.audit(this.control.db, {
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
    await this.audit(this.control.db, {
      action: 'use',
      credentialId: row.id,
      credentialName: row.name,
      purpose,
    });
    return { apiKey, credential: toInfo(row) };
  }

  /** Records the result of re-verifying a credential's key. */
  async recordVerification(name: string, verification: Verification): Promise<CredentialInfo> {
    const row = await this.row(name);
    await this.control.transaction(async (trx) => {
      await trx
        .updateTable('credentials')
        .set({
          status: statusOf(verification),
          verified_at: verification.verifiedAt,
          verification: JSON.stringify(verification),
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', row.id)
        .execute();
      await this.auditVerify(trx, row, verification);
    });
    return this.get(row.name);
  }

  /**
   * Replaces a credential's key in one transaction. The id stays, so everything that refers to the
   * credential keeps working; the old ciphertext and its data key are overwritten.
   */
  async rotate(name: string, newApiKey: string, verification?: Verification): Promise<CredentialInfo> {
    const row = await this.row(name);
    const apiKey = validateApiKey(newApiKey);
    registerSecret(apiKey);
    const envelope = sealApiKey(await this.masterKey(), row.id, apiKey);
    const now = new Date().toISOString();
    await this.control.transaction(async (trx) => {
      const result = await trx
        .updateTable('credentials')
        .set({ ...sealedKeyColumns(envelope, apiKey, verification), updated_at: now, rotated_at: now })
        .where('id', '=', row.id)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1)
        throw new VaultError('not_found', `credential "${name}" was deleted meanwhile`);
      await this.audit(trx, { action: 'rotate', credentialId: row.id, credentialName: row.name });
      if (verification) await this.auditVerify(trx, row, verification);
    });
    await this.purgeOldPages();
    return this.get(row.name);
  }

  /**
   * SQLite: copies the WAL into the database and truncates it, so that the page images that held the
   * previous ciphertext do not linger in the WAL (secure_delete already zeroes them in the database pages).
   * Best effort: a concurrent reader can delay it until the next checkpoint. PostgreSQL keeps the old row
   * version until it is vacuumed; it is ciphertext under a data key that is gone with it.
   */
  private async purgeOldPages(): Promise<void> {
    if (this.control.dialect === 'sqlite')
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.control.db);
  }

  /** Renames a credential or changes its description; the id (and so every reference) stays. */
  async edit(name: string, changes: { name?: string; description?: string }): Promise<CredentialInfo> {
    const row = await this.row(name);
    const newName = changes.name === undefined ? row.name : validateName(changes.name);
    const description =
      changes.description === undefined ? row.description : changes.description.trim() || null;
    const changed: string[] = [];
    if (newName !== row.name) changed.push(`name "${row.name}" → "${newName}"`);
    if (description !== row.description) changed.push('description');
    await this.control.transaction(async (trx) => {
      if (newName !== row.name && (await this.has(newName, trx))) {
        throw new VaultError('name_taken', `a credential named "${newName}" already exists`);
      }
      await trx
        .updateTable('credentials')
        .set({ name: newName, description, updated_at: new Date().toISOString() })
        .where('id', '=', row.id)
        .execute();
      await this.audit(trx, {
        action: 'edit',
        credentialId: row.id,
        credentialName: newName,
        detail: changed.length > 0 ? `changed ${changed.join(', ')}` : 'no change',
      });
    });
    return this.get(newName);
  }

  /** Deletes a credential and its ciphertext; the audit log keeps its history. */
  async delete(name: string): Promise<CredentialInfo> {
    const row = await this.row(name);
    await this.control.transaction(async (trx) => {
      await trx.deleteFrom('credentials').where('id', '=', row.id).execute();
      await this.audit(trx, { action: 'delete', credentialId: row.id, credentialName: row.name });
    });
    await this.purgeOldPages();
    return toInfo(row);
  }

  /** The audit log, oldest first; for one credential (existing or deleted) when `name` is given. */
  async auditLog(name?: string): Promise<AuditEntry[]> {
    if (name === undefined) return readAudit(this.control.db);
    const row = await this.control.db
      .selectFrom('credentials')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    const entries = await readAudit(this.control.db, row ? { id: row.id, name } : { name });
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

/** Options of {@link openVault}. */
export interface OpenVaultOptions extends Pick<VaultOptions, 'actor' | 'notice'> {
  /**
   * A PostgreSQL control store (`--control`); without it `ASHPIPE_CONTROL_URL`, else `control.db` in
   * `ASHPIPE_HOME`.
   * @default `ASHPIPE_CONTROL_URL`, else the SQLite store in the home directory
   * @example 'postgres://ashpipe@db.internal/ashpipe?schema=ashpipe'
   */
  control?: string;
}

/**
 * Opens the control store (`--control`, `ASHPIPE_CONTROL_URL` or `control.db` in `ASHPIPE_HOME`) and a
 * vault on it; close the control store when done.
 * @example const { vault, control } = await openVault(process.env, { actor: 'console:alice@example.com' });
 */
export async function openVault(
  env: NodeJS.ProcessEnv,
  options: OpenVaultOptions = {},
): Promise<{ vault: Vault; control: Control }> {
  const { control: option, ...vaultOptions } = options;
  const home = resolveHome(env);
  const url = controlUrl(option, env);
  const control = await openControl({ home, ...(url === undefined ? {} : { url }) });
  return { vault: new Vault(control, { home, env, ...vaultOptions }), control };
}
