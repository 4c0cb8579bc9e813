import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SECRET_FILE_MODE } from '../control/home.js';
import type { ControlStore } from '../control/store.js';
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

function vaultIsSealed(store: ControlStore): boolean {
  const meta = store.db.prepare('SELECT 1 FROM vault_meta WHERE key = ?').get(FINGERPRINT);
  const any = store.db.prepare('SELECT 1 FROM credentials LIMIT 1').get();
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

/**
 * Loads the master key (`ASHPIPE_MASTER_KEY`, else `$home/master.key`) and checks it against the
 * fingerprint the vault was sealed with. Fails closed: a vault that holds credentials but has no master
 * key is refused, and never gets a new key.
 */
export function loadMasterKey(store: ControlStore, options: MasterKeyOptions): Buffer {
  const fromEnv = options.env.ASHPIPE_MASTER_KEY;
  const file = path.join(options.home, MASTER_KEY_FILE);
  let key: Buffer;
  if (fromEnv !== undefined && fromEnv !== '') {
    key = decode(fromEnv, 'ASHPIPE_MASTER_KEY');
  } else {
    if (!existsSync(file)) {
      if (vaultIsSealed(store)) {
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
  checkFingerprint(store, key, options.create === true);
  return key;
}

/** Refusal of a master key that does not open a vault holding credentials without a fingerprint. */
const UNPINNED_MISMATCH =
  'this vault was sealed with another master key (or its ciphertexts were altered): set ASHPIPE_MASTER_KEY (or master.key) to the key it was created with';

/**
 * Compares the key with the vault's fingerprint; `pin` records it first when the vault is empty. A vault
 * holding credentials without a fingerprint (e.g. a store copied without its metadata) gets the key's
 * fingerprint once the key unwraps one of their data keys, so later mismatches are told apart from
 * altered ciphertexts.
 */
function checkFingerprint(store: ControlStore, key: Buffer, pin: boolean): void {
  const mine = fingerprintMasterKey(key);
  const stored = store.transaction(() => {
    const read = () =>
      (
        store.db.prepare('SELECT value FROM vault_meta WHERE key = ?').get(FINGERPRINT) as
          | { value: string }
          | undefined
      )?.value;
    const existing = read();
    if (existing !== undefined) return existing;
    const rows = store.db
      .prepare('SELECT id, data_key_wrapped, data_key_iv, data_key_tag FROM credentials')
      .all() as Array<{ id: string; data_key_wrapped: Buffer; data_key_iv: Buffer; data_key_tag: Buffer }>;
    if (rows.length === 0 && !pin) return mine;
    const opens = rows.some((r) =>
      unwrapsDataKey(key, r.id, { ciphertext: r.data_key_wrapped, iv: r.data_key_iv, tag: r.data_key_tag }),
    );
    if (rows.length > 0 && !opens) throw new VaultError('master_key_mismatch', UNPINNED_MISMATCH);
    store.db.prepare('INSERT OR IGNORE INTO vault_meta (key, value) VALUES (?, ?)').run(FINGERPRINT, mine);
    return read() ?? mine;
  });
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(mine, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new VaultError(
      'master_key_mismatch',
      'this vault was sealed with another master key: set ASHPIPE_MASTER_KEY (or master.key) to the key it was created with',
    );
  }
}
