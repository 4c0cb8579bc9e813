import type { Migration } from './types.js';

const SQL = `
ALTER TABLE push_runs ADD COLUMN pid INTEGER;
ALTER TABLE push_runs ADD COLUMN host TEXT;
CREATE INDEX push_runs_open ON push_runs (operation, finished_at);
`;

/**
 * The process that owns a push run (pid and host name), so that a second push of the same operation on
 * the same ledger is refused while the first runs, and a run whose process died is recognised.
 */
export const pushRunOwnerMigration: Migration = {
  id: '0301-push-run-owner',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
