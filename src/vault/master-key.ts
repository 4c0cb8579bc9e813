import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { SECRET_FILE_MODE } from '../control/home.js';
import type { Control } from '../control/open.js';
import type { ControlDatabase } from '../control/schema.js';
import { registerSecret } from '../util/redact.js';
import { fingerprintMasterKey, KEY_BYTES, unwrapsDataKey } from './crypto.js';
import { VaultError } from './errors.js';

/** File holding the master key in the home directory when `ASHPIPE_MASTER_KEY` is not set. */
export const MASTER_KEY_FILE = 'master.key';
const FINGERPRINT = 'master_key_fingerprint';

/** How to find the master key. */
export interface MasterKeyOptions {
  /** The ashpipe home directory (holds `master.key`). */
  home: string;
  /** Environment read for `ASHPIPE_MASTER_KEY`. */
  env: NodeJS.ProcessEnv;
  /**
   * Create `master.key` when no master key exists and the vault is still empty (adding the first
   * credential). Reading never creates one.
   * @default false
   */
  create?: boolean;
  /** Receives the one-line notice printed when a master key file is created. */
  notice?: (message: string) => void;
}

function decode(text: string, source: string): Buffer {
  const trimmed = text.trim();
  // Registered as given before it is checked: an unpadded or mistyped key is still a secret.
  registerSecret(trimmed);
  const bytes = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.length !== KEY_BYTES) {
    throw new VaultError(
      'master_key_invalid',
      `${source} must be the base64 encoding of exactly ${KEY_BYTES} bytes (e.g. the output of \`openssl rand -base64 32\`)`,
    );
  }
  return bytes;
}

async function vaultIsSealed(db: Kysely<ControlDatabase>): Promise<boolean> {
  const meta = await db
    .selectFrom('vault_meta')
    .select('key')
    .where('key', '=', FINGERPRINT)
    .executeTakeFirst();
  const any = await db.selectFrom('credentials').select('id').limit(1).executeTakeFirst();
  return meta !== undefined || any !== undefined;
}

/** Writes a new key file atomically: a complete temp file hard-linked into place, so a racing process
 * either wins or reads the winner's complete file, never a half-written one. */
function createKeyFile(file: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${randomBytes(KEY_BYTES).toString('base64')}\n`, {
    mode: SECRET_FILE_MODE,
    flag: 'wx',
  });
  chmodSync(tmp, SECRET_FILE_MODE);
  try {
    linkSync(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/** Whether the key is neither in the environment nor in its file, so whether the vault is sealed matters. */
function keyIsMissing(options: MasterKeyOptions): boolean {
  const fromEnv = options.env.ASHPIPE_MASTER_KEY;
  return (fromEnv === undefined || fromEnv === '') && !existsSync(path.join(options.home, MASTER_KEY_FILE));
}

/**
 * Reads the master key from `ASHPIPE_MASTER_KEY` or `$home/master.key`, creating the file when allowed;
 * `sealed` says whether the vault already holds credentials (asked only when the key is missing).
 */
function readMasterKey(options: MasterKeyOptions, sealed: boolean): Buffer {
  const fromEnv = options.env.ASHPIPE_MASTER_KEY;
  const file = path.join(options.home, MASTER_KEY_FILE);
  let key: Buffer;
  if (fromEnv !== undefined && fromEnv !== '') {
    key = decode(fromEnv, 'ASHPIPE_MASTER_KEY');
  } else {
    if (!existsSync(file)) {
      if (sealed) {
        throw new VaultError(
          'master_key_missing',
          `the vault in ${options.home} holds credentials but its master key is missing: set ASHPIPE_MASTER_KEY or restore ${file} from your backup`,
        );
      }
      if (!options.create) {
        throw new VaultError(
          'master_key_missing',
          `no master key: set ASHPIPE_MASTER_KEY or add a credential first (which creates ${file})`,
        );
      }
      createKeyFile(file);
      options.notice?.(
        `Created the vault master key at ${file} (mode 0600). Back it up: losing it loses every stored credential.`,
      );
    }
    // A key file restored from a backup may come back readable by others; tighten it before use.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, SECRET_FILE_MODE);
    key = decode(readFileSync(file, 'utf8'), file);
  }
  registerSecret(key.toString('base64'));
  return key;
}

/**
 * Loads the master key (`ASHPIPE_MASTER_KEY`, else `$home/master.key`) and checks it against the
 * fingerprint the vault was sealed with, on either control-store dialect. Fails closed: a vault that holds
 * credentials but has no master key is refused, and never gets a new key.
 * @example const key = await loadMasterKey(control, { home: control.home, env: process.env });
 */
export async function loadMasterKey(control: Control, options: MasterKeyOptions): Promise<Buffer> {
  const sealed = keyIsMissing(options) ? await vaultIsSealed(control.db) : false;
  const key = readMasterKey(options, sealed);
  const mine = fingerprintMasterKey(key);
  const read = async (db: Kysely<ControlDatabase>) =>
    (await db.selectFrom('vault_meta').select('value').where('key', '=', FINGERPRINT).executeTakeFirst())
      ?.value;
  // A pinned fingerprint never changes: most loads read it without taking the writer's lock.
  const pinned = await read(control.db);
  const stored =
    pinned ??
    (await control.transaction(async (trx) => {
      const existing = await read(trx);
      if (existing !== undefined) return existing;
      const rows = await trx
        .selectFrom('credentials')
        .select(['id', 'data_key_wrapped', 'data_key_iv', 'data_key_tag'])
        .execute();
      if (!shouldPin(key, rows, options.create === true)) return mine;
      await trx
        .insertInto('vault_meta')
        .values({ key: FINGERPRINT, value: mine })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      return (await read(trx)) ?? mine;
    }));
  compareFingerprint(stored, mine);
  return key;
}

/** Refusal of a master key that does not open a vault holding credentials without a fingerprint. */
const UNPINNED_MISMATCH =
  'this vault was sealed with another master key (or its ciphertexts were altered): set ASHPIPE_MASTER_KEY (or master.key) to the key it was created with';

/** A credential's wrapped data key, as the fingerprint check reads it. */
interface WrappedDataKey {
  id: string;
  data_key_wrapped: Buffer;
  data_key_iv: Buffer;
  data_key_tag: Buffer;
}

/**
 * Whether to record the key's fingerprint in a vault that has none. An empty vault gets it when `pin`
 * (adding the first credential). A vault holding credentials without a fingerprint (e.g. a store copied
 * without its metadata) gets it once the key unwraps one of their data keys, so later mismatches are told
 * apart from altered ciphertexts; a key that unwraps none is refused.
 */
function shouldPin(key: Buffer, rows: readonly WrappedDataKey[], pin: boolean): boolean {
  if (rows.length === 0) return pin;
  const opens = rows.some((r) =>
    unwrapsDataKey(key, r.id, { ciphertext: r.data_key_wrapped, iv: r.data_key_iv, tag: r.data_key_tag }),
  );
  if (!opens) throw new VaultError('master_key_mismatch', UNPINNED_MISMATCH);
  return true;
}

/** Refuses a key whose fingerprint is not the vault's (compared in constant time). */
function compareFingerprint(stored: string, mine: string): void {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(mine, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new VaultError(
      'master_key_mismatch',
      'this vault was sealed with another master key: set ASHPIPE_MASTER_KEY (or master.key) to the key it was created with',
    );
  }
}
