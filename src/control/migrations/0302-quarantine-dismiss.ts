import type { Migration } from './types.js';

/**
 * Quarantine entries a person closes: `resolved` (fixed some other way) or `dismissed` (not to be
 * pushed), besides `replayed`; `closed_at` says when. SQLite cannot widen a CHECK in place, so the table
 * is rebuilt with its rows and ids.
 */
export const quarantineDismissMigration: Migration = {
  id: '0302-quarantine-dismiss',
  up: `
CREATE TABLE push_quarantine_next (
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
  status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'resolved', 'dismissed')),
  closed_at      TEXT
);
INSERT INTO push_quarantine_next (id, run_id, at, operation, row_number, record_key, error_code, error_message,
  field_path, request_id, raw, options, status)
  SELECT id, run_id, at, operation, row_number, record_key, error_code, error_message, field_path, request_id,
    raw, options, status FROM push_quarantine;
DROP TABLE push_quarantine;
ALTER TABLE push_quarantine_next RENAME TO push_quarantine;
CREATE INDEX push_quarantine_status ON push_quarantine (status, id);
CREATE INDEX push_quarantine_key ON push_quarantine (operation, record_key, status);
`,
  postgres: `
ALTER TABLE push_quarantine DROP CONSTRAINT push_quarantine_status_check;
ALTER TABLE push_quarantine ADD CONSTRAINT push_quarantine_status_check
  CHECK (status IN ('open', 'replayed', 'resolved', 'dismissed'));
ALTER TABLE push_quarantine ADD COLUMN closed_at TEXT;
`,
};
