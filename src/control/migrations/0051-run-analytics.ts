import type { Migration } from './types.js';

const SQL = `ALTER TABLE flow_runs ADD COLUMN analytics TEXT;`;

/**
 * A source flow's run records the analytics views it installed (`options.analytics`): JSON
 * `{installed, skipped}`, NULL for a run that installed none.
 */
export const runAnalyticsMigration: Migration = {
  id: '0051-run-analytics',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
