import type { Migration } from './types.js';

const SQL = `ALTER TABLE flow_runs ADD COLUMN cancel_requested_at TEXT;`;

/**
 * A cancel asked for a run of the fleet's queue that a worker runs: the server records when, the worker
 * running the run reads it while the run goes and stops it, and a worker that takes the run over (or the
 * reconciliation, when none does) ends it `cancelled` instead of resuming it. NULL for runs nobody
 * cancelled and for runs a server runs in its own process (those are stopped in that process).
 */
export const runCancelMigration: Migration = {
  id: '0420-run-cancel',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
