import type { Migration } from './types.js';

/**
 * The push ledger, its runs and the one-push-at-a-time rule scoped to the Ashby account a push writes to
 * (`account`, see `src/push/account.ts`): two accounts pushing the same record key each get the record.
 *
 * Rows written before have no account and get `''`, the shared scope: such a row answers for its record
 * key under every account, as it did before (see `getLedgerEntry` in `src/push/ledger.ts`). Which account
 * received them is not recorded anywhere, so giving them to any one account could send a second create
 * to the account that did receive them; shared, they can only be skipped.
 *
 * `push_accounts_secret` holds the store's random secret that names an account reached with a raw API
 * key (an HMAC of the key), so the store never holds the key or a plain hash of it.
 */
export const pushLedgerAccountMigration: Migration = {
  id: '0430-push-ledger-account',
  // SQLite cannot change a primary key in place: the ledger is rebuilt with its rows.
  up: `
CREATE TABLE push_ledger_scoped (
  account     TEXT NOT NULL DEFAULT '',
  operation   TEXT NOT NULL,
  record_key  TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('pending', 'in-flight', 'done', 'failed')),
  ashby_id    TEXT,
  status      TEXT,
  step        TEXT,
  step_data   TEXT,
  attempts    INTEGER NOT NULL DEFAULT 0,
  run_id      TEXT,
  error       TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (account, operation, record_key)
);
INSERT INTO push_ledger_scoped (account, operation, record_key, state, ashby_id, status, step, step_data,
  attempts, run_id, error, created_at, updated_at)
SELECT '', operation, record_key, state, ashby_id, status, step, step_data, attempts, run_id, error,
  created_at, updated_at
FROM push_ledger;
DROP TABLE push_ledger;
ALTER TABLE push_ledger_scoped RENAME TO push_ledger;
CREATE INDEX push_ledger_state ON push_ledger (account, operation, state);
CREATE INDEX push_ledger_key ON push_ledger (operation, record_key);

ALTER TABLE push_runs ADD COLUMN account TEXT NOT NULL DEFAULT '';
DROP INDEX push_runs_open;
CREATE INDEX push_runs_open ON push_runs (operation, account, finished_at);

CREATE TABLE push_accounts_secret (
  id     INTEGER PRIMARY KEY,
  secret TEXT NOT NULL
);
`,
  postgres: `
ALTER TABLE push_ledger ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE push_ledger DROP CONSTRAINT push_ledger_pkey;
ALTER TABLE push_ledger ADD PRIMARY KEY (account, operation, record_key);
DROP INDEX push_ledger_state;
CREATE INDEX push_ledger_state ON push_ledger (account, operation, state);
CREATE INDEX push_ledger_key ON push_ledger (operation, record_key);

ALTER TABLE push_runs ADD COLUMN account TEXT NOT NULL DEFAULT '';
DROP INDEX push_runs_open;
CREATE INDEX push_runs_open ON push_runs (operation, account, finished_at);

CREATE TABLE push_accounts_secret (
  id     INTEGER PRIMARY KEY,
  secret TEXT NOT NULL
);
`,
};
