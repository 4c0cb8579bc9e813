import type { Migration } from './types.js';

const SQL = `
ALTER TABLE push_quarantine ADD COLUMN raw_cleared_at TEXT;
CREATE INDEX push_quarantine_at ON push_quarantine (at);
`;

/**
 * A quarantine entry's raw input is kept only for the quarantine retention: `raw_cleared_at` says when
 * it was cleared (the entry, its reason and status stay), so a cleared entry is told apart from a record
 * that was read as `null`.
 */
export const quarantineRawClearedMigration: Migration = {
  id: '0304-quarantine-raw-cleared',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
