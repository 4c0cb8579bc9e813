import type { Migration } from './types.js';

const SQL = `
CREATE TABLE webhook_installs (
  webhook_id TEXT PRIMARY KEY,
  credential TEXT NOT NULL,
  webhook_type TEXT NOT NULL,
  request_url TEXT NOT NULL,
  secret_name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX webhook_installs_credential ON webhook_installs (credential);
`;

/**
 * Webhooks registered in Ashby by `ashpipe webhooks install`: one row per webhook (one per event type),
 * so `list` and `uninstall` find them again. The secret token is a vault entry, named in `secret_name`.
 */
export const webhooksMigration: Migration = {
  id: '0401-webhooks',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
