import type { ColumnType, Generated } from 'kysely';

/**
 * The control store's tables as the typed query layer sees them, the same on SQLite and PostgreSQL.
 * Timestamps are ISO-8601 text on both dialects (they sort as text, and rows read back identical);
 * booleans are 0/1 integers; binary columns are `Buffer` (SQLite BLOB, PostgreSQL BYTEA).
 * Each table names the migration that creates it.
 */
export interface ControlDatabase {
  _ashpipe_migrations: MigrationsTable;
  vault_meta: VaultMetaTable;
  credentials: CredentialsTable;
  credential_audit: CredentialAuditTable;
  console_admin: ConsoleAdminTable;
  console_sessions: ConsoleSessionsTable;
  api_tokens: ApiTokensTable;
  flows: FlowsTable;
  flow_runs: FlowRunsTable;
  push_runs: PushRunsTable;
  push_ledger: PushLedgerTable;
  push_quarantine: PushQuarantineTable;
  push_accounts_secret: PushAccountsSecretTable;
  webhook_installs: WebhookInstallsTable;
  alert_channels: AlertChannelsTable;
  alert_incidents: AlertIncidentsTable;
}

/** Applied migrations (created by the store itself). */
export interface MigrationsTable {
  id: string;
  applied_at: string;
}

/** `0001-credentials`: the master key's fingerprint and other vault facts. */
export interface VaultMetaTable {
  key: string;
  value: string;
}

/** `0001-credentials`: one encrypted API key each. */
export interface CredentialsTable {
  id: string;
  name: string;
  description: string | null;
  base_url: string | null;
  key_ciphertext: Buffer;
  key_iv: Buffer;
  key_tag: Buffer;
  data_key_wrapped: Buffer;
  data_key_iv: Buffer;
  data_key_tag: Buffer;
  key_suffix: string;
  status: ColumnType<string, string | undefined>;
  verified_at: string | null;
  verification: string | null;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
}

/** `0001-credentials`: who did what to which credential. */
export interface CredentialAuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  credential_id: string | null;
  credential_name: string | null;
  purpose: string | null;
  outcome: ColumnType<string, string | undefined>;
  detail: string | null;
}

/** `0050-server`: the console's single admin password (id 1). */
export interface ConsoleAdminTable {
  id: number;
  password_hash: string;
  created_at: string;
  updated_at: string;
}

/** `0050-server`: console sessions, by the hash of their cookie. */
export interface ConsoleSessionsTable {
  token_hash: string;
  csrf_hash: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

/** `0050-server`: API tokens, by hash. */
export interface ApiTokensTable {
  id: string;
  name: string;
  token_hash: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

/** `0050-server`, `0450-flow-pause`: flows (a source or destination with its schedule). */
export interface FlowsTable {
  id: string;
  name: string;
  kind: 'source' | 'destination';
  credential_id: string;
  schedule: string | null;
  status: ColumnType<'active' | 'paused', 'active' | 'paused' | undefined>;
  config: string;
  created_at: string;
  updated_at: string;
  activated_at: string | null;
  paused_at: ColumnType<string | null, string | null | undefined>;
  paused_reason: ColumnType<string | null, string | null | undefined>;
}

/** `0050-server`, `0051-run-analytics`, `0052-run-worker`, `0420-run-cancel`: the run history of flows. */
export interface FlowRunsTable {
  id: string;
  flow_id: string;
  kind: 'source' | 'destination';
  trigger: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  counts: ColumnType<string, string | undefined>;
  errors: ColumnType<string, string | undefined>;
  dry_run: ColumnType<number, number | undefined>;
  analytics: string | null;
  /** `0052-run-worker`: the worker running the run (queue runs only). */
  worker: ColumnType<string | null, string | null | undefined>;
  /** `0052-run-worker`: the run queue's job of the run (queue runs only). */
  job_id: ColumnType<string | null, string | null | undefined>;
  /** `0420-run-cancel`: when a cancel of the run was asked for (queue runs only). */
  cancel_requested_at: ColumnType<string | null, string | null | undefined>;
}

/** `0300-push`, `0301-push-run-owner`, `0305-push-run-heartbeat`: destination runs. */
export interface PushRunsTable {
  id: string;
  operation: string;
  input: string | null;
  dry_run: ColumnType<number, number | undefined>;
  started_at: string;
  finished_at: string | null;
  outcome: string | null;
  counts: string | null;
  pid: number | null;
  host: string | null;
  /** Written by the run's process every few seconds while it runs (`RUN_HEARTBEAT_MS`, `src/push/ledger.ts`). */
  heartbeat_at: ColumnType<string | null, string | null | undefined>;
  /** `0430-push-ledger-account`: the account the run writes to; `''` for runs before accounts. */
  account: ColumnType<string, string | undefined>;
}

/** `0300-push`, `0430-push-ledger-account`: the exactly-once ledger, one row per account and record key. */
export interface PushLedgerTable {
  /** The account the record was pushed to (`src/push/account.ts`); `''` for rows before accounts. */
  account: ColumnType<string, string | undefined>;
  operation: string;
  record_key: string;
  state: 'pending' | 'in-flight' | 'done' | 'failed';
  ashby_id: string | null;
  status: string | null;
  step: string | null;
  step_data: string | null;
  attempts: ColumnType<number, number | undefined>;
  run_id: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** `0430-push-ledger-account`: the secret that names accounts reached with a raw key (id 1). */
export interface PushAccountsSecretTable {
  id: number;
  secret: string;
}

/** `0300-push` … `0304-quarantine-raw-cleared`: records a push could not apply. */
export interface PushQuarantineTable {
  id: Generated<number>;
  run_id: string;
  at: string;
  operation: string;
  row_number: number | null;
  record_key: string | null;
  error_code: string;
  error_message: string;
  field_path: string | null;
  request_id: string | null;
  raw: string;
  options: string | null;
  status: ColumnType<'open' | 'replayed' | 'resolved' | 'dismissed', string | undefined>;
  closed_at: string | null;
  input_key: string | null;
  closed_by: string | null;
  raw_cleared_at: string | null;
  /** `0440-quarantine-account`: the Ashby account of the push; `''` for entries written before. */
  account: ColumnType<string, string | undefined>;
}

/** `0401-webhooks`: webhooks registered in Ashby. */
export interface WebhookInstallsTable {
  webhook_id: string;
  credential: string;
  webhook_type: string;
  request_url: string;
  secret_name: string;
  created_at: string;
}

/** `0060-alerts`: notification channels made in the console, the REST API or a flows file. */
export interface AlertChannelsTable {
  id: string;
  name: string;
  type: 'webhook' | 'email';
  /** The channel's settings as JSON; its secrets sealed with the master key (`sealed`), never returned. */
  config: string;
  created_at: string;
  updated_at: string;
}

/** `0060-alerts`: incidents open now (one row per incident key). */
export interface AlertIncidentsTable {
  key: string;
  event: string;
  opened_at: string;
  count: number;
  /** JSON array of the channel names told. */
  notified: ColumnType<string, string | undefined>;
  /** JSON `{ id, name }` of the flow, or null. */
  flow: string | null;
}
