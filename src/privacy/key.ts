/**
 * The key of `hash`: derived with HKDF from the vault's master key, so the same address hashes the same in
 * every table, every run and every target of one ashpipe home, and nobody without the master key can
 * test a guessed address against a stored hash.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { refuseControlUrl } from '../control/open.js';
import { openControlStore } from '../control/store.js';
import { loadMasterKeySync } from '../vault/master-key.js';

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
  home: string;
  env: NodeJS.ProcessEnv;
  /** Receives the one-line notice printed when a master key file is created. */
  notice?: (message: string) => void;
}

/**
 * Loads the hash key from the master key (`ASHPIPE_MASTER_KEY`, else `$home/master.key`, created when
 * the home has none and its vault is empty, as adding the first credential does).
 */
export function loadHashKey(source: HashKeySource): Buffer {
  refuseControlUrl(source.env, 'the PII hash key (the vault)');
  const store = openControlStore(source.home);
  try {
    const master = loadMasterKeySync(store, {
      home: source.home,
      env: source.env,
      create: true,
      ...(source.notice ? { notice: source.notice } : {}),
    });
    return deriveHashKey(master);
  } finally {
    store.close();
  }
}
