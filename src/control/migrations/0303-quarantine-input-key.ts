import type { Migration } from './types.js';

const SQL = `
ALTER TABLE push_quarantine ADD COLUMN input_key TEXT;
ALTER TABLE push_quarantine ADD COLUMN closed_by TEXT;
CREATE INDEX push_quarantine_input ON push_quarantine (operation, input_key, status);
`;

/**
 * Quarantine entries closed by a later push: `input_key` names the record's place in its input (its
 * `--key` value, or its row in that file or flow), which survives the correction of the record, so a
 * later run that applies the record closes the entry as `resolved`; `closed_by` says who or what
 * closed an entry (a push run, a replay, the CLI, the console).
 */
export const quarantineInputKeyMigration: Migration = {
  id: '0303-quarantine-input-key',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
