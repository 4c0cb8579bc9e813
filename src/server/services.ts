import type { Scope } from '../ashby/catalogue.js';
import type { Limiter } from '../ashby/limiter.js';
import type { ClientEvent } from '../ashby/types.js';
import type { HashKeySource } from '../privacy/key.js';
import type { PushSummary, RecordResult } from '../push/engine.js';
import type { QuarantineStatus } from '../push/ledger.js';
import type { RecordStatus } from '../push/types.js';
import type { SyncEvent } from '../sync/types.js';
import type { Logger } from '../util/logger.js';
import type { CredentialInfo, Verification } from '../vault/types.js';
import type { InstalledWebhook } from '../webhooks/install.js';
import type {
  DestinationFlowConfig,
  Flow,
  RunAnalytics,
  RunCount,
  RunErrorInfo,
  RunStatus,
} from './model.js';

/** Checks a key against Ashby and maps its permissions (the vault's verification probe). */
export type VerifyKey = (apiKey: string, baseUrl: string, signal?: AbortSignal) => Promise<Verification>;

/** Credentials as the server manages them: by id, the key write-only. */
export interface CredentialService {
  /** The Ashby server of credentials that name none (`serve --base-url`, `ASHBY_BASE_URL`). */
  readonly defaultBaseUrl: string;
  list(): Promise<CredentialInfo[]>;
  /** Throws a 404 when absent. */
  get(id: string): Promise<CredentialInfo>;
  /**
   * Verifies the key, then stores it with the verification. A key Ashby rejects is refused, and so is one
   * no probe could check (a wrong base URL, Ashby unreachable) unless `saveUnverified`.
   */
  add(input: {
    name: string;
    description?: string;
    apiKey: string;
    baseUrl?: string;
    /** Store the key even when no probe reached Ashby. @default false */
    saveUnverified?: boolean;
  }): Promise<CredentialInfo>;
  edit(id: string, changes: { name?: string; description?: string }): Promise<CredentialInfo>;
  /** Verifies the new key, then replaces the old one (same refusals as {@link add}). */
  rotate(id: string, apiKey: string, options?: { saveUnverified?: boolean }): Promise<CredentialInfo>;
  /** Re-verifies the stored key and records the outcome. */
  verify(id: string): Promise<CredentialInfo>;
  remove(id: string): Promise<CredentialInfo>;
  /** Decrypts the key for a run or a probe (audited with `purpose`); the key is registered for redaction. */
  access(
    id: string,
    purpose: string,
  ): Promise<{ apiKey: string; baseUrl: string; credential: CredentialInfo }>;
}

/** A stream a source flow can sync. */
export interface StreamInfo {
  name: string;
  endpoint: string;
  incremental: boolean;
  scope: Scope;
  /** `Candidates: Read` */
  permission: string;
  description: string;
  optIn: boolean;
  /** Requests one full pass takes, as `ashpipe streams --wide` says it. @example 'one request per 100 records' */
  cost: string;
}

/** A write a destination flow can perform. */
export interface OperationInfo {
  /** Template name or endpoint. @example 'candidate.create' */
  name: string;
  endpoint: string;
  scope: Scope;
  /** `Candidates: Write` */
  permission: string;
  description: string;
  /** Fields the operation takes, required first. */
  fields: Array<{ name: string; required: boolean; type?: string }>;
}

/** Live progress of a run, pushed to the console over server-sent events. */
export interface RunProgress {
  counts: RunCount[];
  message?: string;
}

/** What an engine gets for one run. */
export interface RunContext {
  runId: string;
  apiKey: string;
  baseUrl: string;
  signal: AbortSignal;
  logger: Logger;
  /** A dry run reads and validates but writes nothing (the "Test" step of the console). */
  dryRun: boolean;
  progress(update: RunProgress): void;
  /**
   * The limiter of the run's requests: a fleet worker's, whose starts go through the key's fleet-wide
   * budget (`src/fleet/budget.ts`) and which already applies the flow's `requestsPerSecond` and
   * `concurrency`.
   * @default the engine's own (the key's process-wide limiter, or one made from the flow's options)
   */
  limiter?: Limiter;
  /** Receives the Ashby client's events of the run (metrics); engines pass it to their client. */
  onClientEvent?: (event: ClientEvent) => void;
  /** Receives the sync engine's events of a source run (metrics: token resets). */
  onSyncEvent?: (event: SyncEvent) => void;
  /** Receives what became of each record of a destination run (metrics: outcomes by operation). */
  onPushResult?: (operation: string, status: RecordStatus) => void;
}

/** What an engine reports when a run ends. */
export interface RunOutcome {
  status: Exclude<RunStatus, 'running' | 'queued'>;
  counts: RunCount[];
  errors: RunErrorInfo[];
  /** The analytics views a source run installed (`options.analytics`). */
  analytics?: RunAnalytics;
}

/** Runs one flow with the same engine the CLI uses (sync engine for sources, push engine for destinations). */
export type FlowEngine = (flow: Flow, ctx: RunContext) => Promise<RunOutcome>;

/** A quarantined destination record. */
export interface QuarantineItem {
  /** The entry id in the push engine's quarantine. */
  id: string;
  /** Flow whose run quarantined the record (absent for records the CLI quarantined). */
  flowId?: string;
  /** Server run that quarantined the record last. */
  runId?: string;
  /** Push engine run id (the CLI's `--run`). */
  pushRunId: string;
  operation: string;
  /** 1-based record number in the input. */
  row?: number;
  /** `row 3`, for display. */
  source?: string;
  /** Field the error is about. @example 'email' */
  fieldPath?: string;
  requestId?: string;
  /** The record exactly as read from the input (what a replay sends). */
  record: unknown;
  errorCode: string;
  errorMessage: string;
  createdAt: string;
  status: QuarantineStatus;
  closedAt?: string;
  /** Who or what closed the entry. @example 'push run 3f2c…', 'console', 'ashpipe quarantine dismiss' */
  closedBy?: string;
  /**
   * The Ashby account the record was quarantined on, as a person reads it (a credential's name, never a
   * key); only that account's pushes close the entry and only its credential replays it.
   * @example 'credential "acme-prod"'
   */
  account: string;
}

/** An edited record checked against its operation, as a replay would prepare it. */
export interface RecordCheck {
  ok: boolean;
  /** Why the record would be quarantined again, field by field. */
  issues: Array<{ path: string; reason: string }>;
  /** The record as it would be sent (mapped and coerced), when it is valid. */
  body?: Record<string, unknown>;
}

/** Options of {@link QuarantineService.replayEngine}. */
export interface ReplayRequest {
  /** Edited records by entry id; other entries replay the record as it was read. */
  records?: ReadonlyMap<string, unknown>;
  /** Who replays, recorded with the entries closed. @default 'replay' */
  closedBy?: string;
  /**
   * The credential of the flow that replays: entries quarantined on another Ashby account are refused
   * before the run starts.
   */
  credentialId?: string;
}

/** Filters of {@link QuarantineService.list}. */
export interface QuarantineFilter {
  flowId?: string;
  runId?: string;
  operation?: string;
  /** @default 'open' */
  status?: QuarantineStatus | 'all';
  limit: number;
  offset: number;
}

/** What a quarantine replay did, filled when its run ends. */
export interface ReplayResult {
  /** Entries closed. */
  replayed: number;
  /** Entries still open. */
  failed: number;
  /**
   * Present when entries had an unknown outcome: `true` when each was looked up in Ashby by its natural
   * key before anything was sent, `false` when the operation has no look-up and they were sent again on
   * the caller's word (see `notice`).
   */
  reconciled?: boolean;
  /** Why `reconciled` is `false`, for a person. */
  notice?: string;
}

export interface QuarantineService {
  list(filter: QuarantineFilter): Promise<QuarantineItem[]>;
  /** Throws a 404 when absent. */
  get(id: string): Promise<QuarantineItem>;
  /**
   * Closes an open entry by hand: `resolved` (fixed some other way) or `dismissed` (not to be pushed).
   * Throws a 409 when the entry is not open.
   */
  close?(id: string, status: 'resolved' | 'dismissed', closedBy?: string): Promise<QuarantineItem>;
  /**
   * Checks an edited record of an entry against the entry's operation and mapping, without sending
   * anything. Throws a 404 when the entry is absent.
   */
  check?(id: string, record: unknown): Promise<RecordCheck>;
  /**
   * An engine that replays the entries through the push engine, run by the scheduler as a run of the
   * flow (so it never overlaps another run of it). Fills `result` when it ends.
   */
  replayEngine(ids: string[], result: ReplayResult, request?: ReplayRequest): Promise<FlowEngine>;
}

/** One page of a synced table. */
export interface DatasetPage {
  stream: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
  /** Rows of the table: live rows, or all rows when soft-deleted ones were asked for too. */
  total: number;
  /** Soft-deleted rows of the table (shown only with `includeDeleted`). */
  deleted: number;
  limit: number;
  offset: number;
}

/** A synced table of a source flow's target. */
export interface DatasetTable {
  /** Table (stream) name. @example 'candidates' */
  name: string;
  /** Live rows. */
  rows: number;
  /** Soft-deleted rows. */
  deleted: number;
}

export interface DatasetService {
  /** The tables of the flow's target with their row counts (none when nothing was synced yet). */
  tables(flow: Flow): Promise<DatasetTable[]>;
  /**
   * A page of one table, business columns first and `_ashpipe_*` bookkeeping last.
   * @param options.includeDeleted also list soft-deleted rows (default: live rows only)
   */
  preview(
    flow: Flow,
    stream: string,
    page: { limit: number; offset: number },
    options?: { includeDeleted?: boolean },
  ): Promise<DatasetPage>;
}

/** Reads a few records of a stream with a key (the console's "Test" step of a source). */
export type SampleStream = (
  access: { apiKey: string; baseUrl: string },
  stream: string,
  limit: number,
) => Promise<unknown[]>;

/** What the console's Test step shows for a destination: each record's fate and the body it would send. */
export interface DryRunReport {
  /** The operation (or `endpoint:NAME` in manual mode). @example 'candidate.create' */
  operation: string;
  /** Records the dry run went through: the first `limit` of the input, or all when fewer. */
  total: number;
  counts: PushSummary['counts'];
  results: Array<Pick<RecordResult, 'row' | 'status' | 'wouldSend' | 'error' | 'id'>>;
}

/** A dry run of an unsaved destination flow over its first records (the console's Test step). */
export type DestinationDryRun = (
  config: DestinationFlowConfig,
  access: { apiKey: string; baseUrl: string },
  limit: number,
) => Promise<DryRunReport>;

/**
 * The webhooks of a credential: the secret token Ashby signs deliveries with (kept in the vault, never
 * listed as a credential) and the webhooks registered in Ashby with `webhook.create`.
 */
export interface WebhookService {
  /** The credential's webhook secret, or `undefined` when none is stored. */
  secret(credentialId: string): Promise<string | undefined>;
  /** A new secret, replacing the old one (deliveries signed with it are refused from now on). */
  newSecret(credentialId: string): Promise<string>;
  /** The webhooks registered for the credential. */
  installed(credentialId: string): Promise<InstalledWebhook[]>;
  /** One `webhook.create` per event type, signed with a new secret, which is returned this once. */
  install(
    credentialId: string,
    url: string,
    events: readonly string[],
  ): Promise<{ secret: string; installed: InstalledWebhook[] }>;
  /** `webhook.delete` of every webhook registered for the credential. */
  uninstall(credentialId: string): Promise<InstalledWebhook[]>;
}

/** Everything the server needs from the other layers; tests pass fakes. */
export interface ServerServices {
  /**
   * Where a flow's PII policy finds its hash key (the home's master key).
   * @default none: flows whose `options.piiPolicy` hashes cannot run
   */
  piiHashKey?: HashKeySource;
  credentials: CredentialService;
  streams: () => StreamInfo[];
  operations: () => OperationInfo[];
  engines: { source: FlowEngine; destination: FlowEngine };
  sample: SampleStream;
  datasets: DatasetService;
  quarantine?: QuarantineService;
  dryRunDestination?: DestinationDryRun;
  /** Checks a destination flow before it is stored (operation known, mapping usable); throws a 422. */
  checkDestination?: (config: DestinationFlowConfig) => void;
  webhooks?: WebhookService;
}
