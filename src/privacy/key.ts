/**
 * The key of `hash`: derived with HKDF from the vault's master key, so the same address hashes the same in
 * every table, every run and every target of one control store (every worker of a fleet sharing one
 * PostgreSQL store included), and nobody without the master key can test a guessed address against a
 * stored hash.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { type Control, controlUrl, openControl } from '../control/open.js';
import { loadMasterKey } from '../vault/master-key.js';

const HKDF_SALT = 'ashpipe';
const HKDF_INFO = 'ashpipe pii hash v1';

/** The hash key derived from a master key. */
export function deriveHashKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, HKDF_SALT, HKDF_INFO, 32));
}

/** A short public id of a hash key (two keys hash differently), safe to store and show. */
export function hashKeyId(hashKey: Buffer): string {
  return createHmac('sha256', hashKey).update('ashpipe pii key id').digest('hex').slice(0, 16);
}

/** Where the master key is, as for the vault. */
export interface HashKeySource {
  /** The ashpipe home directory (holds `master.key` when `ASHPIPE_MASTER_KEY` is not set). */
  home: string;
  /** Environment read for `ASHPIPE_MASTER_KEY` and, without `control`, `ASHPIPE_CONTROL_URL`. */
  env: NodeJS.ProcessEnv;
  /**
   * The open control store whose vault the master key is checked against (left open). Without it, the
   * store `env` names is opened for the load and closed: `ASHPIPE_CONTROL_URL`, else `$home/control.db`.
   * @default none (the store `env` names)
   * @example { home: control.home, env: process.env, control }
   */
  control?: Control;
  /** Receives the one-line notice printed when a master key file is created. */
  notice?: (message: string) => void;
}

/**
 * Loads the hash key from the master key (`ASHPIPE_MASTER_KEY`, else `$home/master.key`, created when
 * the home has none and its vault is empty, as adding the first credential does), checked against the
 * fingerprint pinned in the control store's vault, so a process with another key is refused rather than
 * hashing differently from the rest of the fleet.
 * @example const key = await loadHashKey({ home: control.home, env: process.env, control });
 */
export async function loadHashKey(source: HashKeySource): Promise<Buffer> {
  const options = {
    home: source.home,
    env: source.env,
    create: true,
    ...(source.notice ? { notice: source.notice } : {}),
  };
  if (source.control) return deriveHashKey(await loadMasterKey(source.control, options));
  const url = controlUrl(undefined, source.env);
  const control = await openControl({ home: source.home, ...(url ? { url } : {}) });
  try {
    return deriveHashKey(await loadMasterKey(control, options));
  } finally {
    await control.close();
  }
}
