import type { Migration } from './types.js';

const SQL = `
CREATE TABLE console_admin (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  password_hash TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE console_sessions (
  token_hash   TEXT PRIMARY KEY,
  csrf_hash    TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_used_at TEXT
);

CREATE TABLE flows (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('source', 'destination')),
  credential_id TEXT NOT NULL,
  schedule      TEXT,
  status        TEXT NOT NULL DEFAULT 'paused' CHECK (status IN ('active', 'paused')),
  config        TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  activated_at  TEXT
);

CREATE TABLE flow_runs (
  id          TEXT PRIMARY KEY,
  flow_id     TEXT NOT NULL,
  kind        TEXT NOT NULL,
  trigger     TEXT NOT NULL,
  status      TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  counts      TEXT NOT NULL DEFAULT '[]',
  errors      TEXT NOT NULL DEFAULT '[]',
  dry_run     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX flow_runs_flow ON flow_runs (flow_id, started_at);
`;

/**
 * `ashpipe serve`: the console's admin password, sessions and API tokens (only hashes), flows (a source
 * or destination with its schedule) and their run history.
 */
export const serverMigration: Migration = {
  id: '0050-server',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
