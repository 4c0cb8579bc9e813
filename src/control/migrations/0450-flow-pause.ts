import type { Migration } from './types.js';

const SQL = `ALTER TABLE flows ADD COLUMN paused_at TEXT;
ALTER TABLE flows ADD COLUMN paused_reason TEXT;`;

/**
 * Why and when a flow was paused, so that the console and the REST API can tell a flow paused by its
 * alerts (after N failed runs in a row) or by the deletion of its credential from one a person paused.
 * Both NULL for an active flow, and for a paused flow whose reason was not recorded (a person's pause, or
 * a flow created before this migration).
 */
export const flowPauseMigration: Migration = {
  id: '0450-flow-pause',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
