import type { Migration } from './types.js';

/** The vault: encrypted credentials, the master key's fingerprint and the audit log. */
export const credentialsMigration: Migration = {
  id: '0001-credentials',
  up: `
CREATE TABLE vault_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE credentials (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE,
  description      TEXT,
  base_url         TEXT,
  -- the API key, encrypted under the credential's data key; the credential id is the associated data
  key_ciphertext   BLOB NOT NULL,
  key_iv           BLOB NOT NULL,
  key_tag          BLOB NOT NULL,
  -- the data key, wrapped by the master key
  data_key_wrapped BLOB NOT NULL,
  data_key_iv      BLOB NOT NULL,
  data_key_tag     BLOB NOT NULL,
  key_suffix       TEXT NOT NULL,
  status           TEXT NOT NULL DEFAULT 'unverified',
  verified_at      TEXT,
  verification     TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  rotated_at       TEXT
);

CREATE TABLE credential_audit (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  at              TEXT NOT NULL,
  actor           TEXT NOT NULL,
  action          TEXT NOT NULL,
  credential_id   TEXT,
  credential_name TEXT,
  purpose         TEXT,
  outcome         TEXT NOT NULL DEFAULT 'ok',
  detail          TEXT
);
CREATE INDEX credential_audit_credential ON credential_audit (credential_id, id);
`,
};
