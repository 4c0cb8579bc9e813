import type { Migration } from './types.js';

const SQL = `
CREATE TABLE alert_channels (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  type       TEXT NOT NULL CHECK (type IN ('webhook', 'email')),
  config     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE alert_incidents (
  key       TEXT PRIMARY KEY,
  event     TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  count     INTEGER NOT NULL,
  notified  TEXT NOT NULL DEFAULT '[]',
  flow      TEXT
);
`;

/**
 * Alerts kept by the server: notification channels made in the console, the REST API or a flows file
 * (`config` is the channel's JSON settings, its secrets sealed with the vault's master key under
 * `sealed`; they are write-only in the API and registered for redaction when read), and the incidents open now, so a restart neither announces an
 * open incident again nor forgets to announce its recovery.
 */
export const alertsMigration: Migration = { id: '0060-alerts', up: SQL, postgres: SQL };
