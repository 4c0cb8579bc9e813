import type { Migration } from './types.js';

/**
 * The destination engine: runs, the exactly-once ledger and the quarantine.
 *
 * The ledger row of a record is written (state `in-flight`) and committed before its write request
 * leaves, so a crash at any moment leaves a row that says what may have reached Ashby; `step` and
 * `step_data` let multi-step operations (the offer flow) resume where they stopped.
 */
export const pushMigration: Migration = {
  id: '0300-push',
  up: `
CREATE TABLE push_runs (
  id          TEXT PRIMARY KEY,
  operation   TEXT NOT NULL,
  input       TEXT,
  dry_run     INTEGER NOT NULL DEFAULT 0,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  outcome     TEXT,
  counts      TEXT
);

CREATE TABLE push_ledger (
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
  PRIMARY KEY (operation, record_key)
);
CREATE INDEX push_ledger_state ON push_ledger (operation, state);

CREATE TABLE push_quarantine (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id         TEXT NOT NULL,
  at             TEXT NOT NULL,
  operation      TEXT NOT NULL,
  row_number     INTEGER,
  record_key     TEXT,
  error_code     TEXT NOT NULL,
  error_message  TEXT NOT NULL,
  field_path     TEXT,
  request_id     TEXT,
  raw            TEXT NOT NULL,
  options        TEXT,
  status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'resolved'))
);
CREATE INDEX push_quarantine_status ON push_quarantine (status, id);
CREATE INDEX push_quarantine_key ON push_quarantine (operation, record_key, status);
`,
};
