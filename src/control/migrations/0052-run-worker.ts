import type { Migration } from './types.js';

const SQL = `ALTER TABLE flow_runs ADD COLUMN worker TEXT;
ALTER TABLE flow_runs ADD COLUMN job_id TEXT;`;

/**
 * Runs of the fleet's queue (a PostgreSQL control store): `worker` names the process running (or that ran)
 * the run, `job_id` the run queue's job, by which a run whose job ended without it is found and closed.
 * Both stay NULL for runs a server runs in its own process.
 */
export const runWorkerMigration: Migration = {
  id: '0052-run-worker',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
