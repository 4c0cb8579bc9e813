import type { Migration } from './types.js';

const SQL = `
ALTER TABLE push_runs ADD COLUMN heartbeat_at TEXT;
`;

/**
 * A push run's heartbeat: its process writes the time every few seconds while the run owns the ledger, so
 * a run whose process died on another machine (where its pid cannot be checked) is recognised once the
 * heartbeat is older than the run lease, and the ledger is taken over instead of refused for ever.
 */
export const pushRunHeartbeatMigration: Migration = {
  id: '0305-push-run-heartbeat',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
