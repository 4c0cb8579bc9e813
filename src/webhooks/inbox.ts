/**
 * The webhook inbox: every verified delivery is stored here, in one transaction, before Ashby gets its
 * 200; the applier works from it afterwards. SQLite and PostgreSQL targets keep it as a table of the
 * target's own database (`_ashpipe_webhook_inbox`); a JSONL directory keeps it in a SQLite file inside it
 * (`_ashpipe_webhooks.db`). `action_id` (Ashby's `webhookActionId`) is unique: a retried or fanned-out
 * delivery is stored once.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { UsageError } from '../cli/exit-codes.js';
import { parsePostgresTarget } from '../sinks/index.js';
import { openSqlite, type SqliteDatabase } from '../util/sqlite.js';

/** Table of the inbox. */
export const INBOX_TABLE = '_ashpipe_webhook_inbox';
/** File of a JSONL target's inbox, inside the target's directory. */
export const JSONL_INBOX_FILE = '_ashpipe_webhooks.db';

/**
 * Where an event is: waiting to be applied (`pending`), done (`applied`), given up after repeated
 * failures (`parked`), stored but not applied because ashpipe does not apply that action (`ignored`), or
 * a `ping`.
 */
export type InboxStatus = 'pending' | 'applied' | 'parked' | 'ignored' | 'ping';

/** A stored delivery. */
export interface InboxEvent {
  seq: number;
  /** Ashby's `webhookActionId` (a hash of the body when the delivery has none). */
  actionId: string;
  action: string;
  /** The raw body as received. */
  body: string;
  receivedAt: string;
  status: InboxStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  appliedAt: string | null;
}

/** What the applier decided for one event. */
export type Settlement =
  | { actionId: string; outcome: 'applied' }
  | { actionId: string; outcome: 'retry'; error: string; retryAt: string }
  | { actionId: string; outcome: 'parked'; error: string };

/** Counts for the console and `ashpipe webhooks inbox`. */
export interface InboxStats {
  pending: number;
  parked: number;
  applied: number;
  ignored: number;
  /** Events (pings left out) received since `since`. */
  eventsSince: number;
  lastEventAt: string | null;
  lastPingAt: string | null;
  /** Received → applied of the last applied event, in milliseconds. */
  lastLagMs: number | null;
  /** Received → applied over the last {@link LAG_WINDOW} applied events, median and 95th percentile. */
  lagP50Ms: number | null;
  lagP95Ms: number | null;
}

/** Applied events the lag percentiles are taken over: recent enough to describe the receiver now. */
export const LAG_WINDOW = 1000;

/** The `q` quantile (0–1) of sorted numbers, nearest rank. */
function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

/** The inbox of one target. */
export interface Inbox {
  open(): Promise<void>;
  /** Stores an event; `false` when an event with the same action id is already stored. */
  add(event: Pick<InboxEvent, 'actionId' | 'action' | 'body' | 'receivedAt' | 'status'>): Promise<boolean>;
  /** Pending events due at `now`, oldest first. */
  due(now: string, limit: number): Promise<InboxEvent[]>;
  /** Records what happened to events; `attempts` grows for each failure. */
  settle(settlements: readonly Settlement[], at: string): Promise<void>;
  /** Events with `status` (all but pings when absent), oldest first. */
  list(status?: InboxStatus, limit?: number): Promise<InboxEvent[]>;
  /** Makes parked events pending again; returns how many. */
  requeueParked(now: string): Promise<number>;
  /**
   * Makes one parked event pending again; `false` when no parked event has that action id. Its failures
   * still count: failing once more parks it again at once, with the new reason.
   */
  requeue(actionId: string, now: string): Promise<boolean>;
  stats(since: string): Promise<InboxStats>;
  close(): Promise<void>;
}

interface Row {
  seq: number | string;
  action_id: string;
  action: string;
  body: string;
  received_at: string;
  status: InboxStatus;
  attempts: number | string;
  next_attempt_at: string | null;
  last_error: string | null;
  applied_at: string | null;
}

function eventOf(row: Row): InboxEvent {
  return {
    seq: Number(row.seq),
    actionId: row.action_id,
    action: row.action,
    body: row.body,
    receivedAt: row.received_at,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    appliedAt: row.applied_at,
  };
}

const COLUMNS =
  'seq, action_id, action, body, received_at, status, attempts, next_attempt_at, last_error, applied_at';

/** Times are ISO strings in both databases, so they compare as text. */
function ddl(seqType: string, table: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (seq ${seqType}, action_id TEXT NOT NULL UNIQUE, action TEXT NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, last_error TEXT, applied_at TEXT)`,
    `CREATE INDEX IF NOT EXISTS ${table.replace(/"/g, '').replace('.', '_')}_due ON ${table} (status, next_attempt_at, seq)`,
  ];
}

function statusFilter(status: InboxStatus | undefined): { where: string; params: string[] } {
  return status === undefined
    ? { where: "status <> 'ping'", params: [] }
    : { where: 'status = ?', params: [status] };
}

/** The inbox in a SQLite file (the target's own database, or the one beside a JSONL directory). */
export class SqliteInbox implements Inbox {
  private db: SqliteDatabase | undefined;

  constructor(private readonly file: string) {}

  async open(): Promise<void> {
    if (this.db) return;
    const created = !fs.existsSync(this.file);
    const db = openSqlite(this.file);
    // It holds Ashby's payloads (personal data): its owner only, like the sink's own files.
    if (created) fs.chmodSync(this.file, 0o600);
    db.pragma('journal_mode = WAL');
    // The sink writes the same file from another connection: wait for its transaction instead of failing.
    db.pragma('busy_timeout = 10000');
    db.pragma('synchronous = NORMAL');
    for (const sql of ddl('INTEGER PRIMARY KEY AUTOINCREMENT', `"${INBOX_TABLE}"`)) db.exec(sql);
    this.db = db;
  }

  private get conn(): SqliteDatabase {
    if (!this.db) throw new Error('webhook inbox is not open');
    return this.db;
  }

  async add(e: Pick<InboxEvent, 'actionId' | 'action' | 'body' | 'receivedAt' | 'status'>): Promise<boolean> {
    const r = this.conn
      .prepare(
        `INSERT INTO "${INBOX_TABLE}" (action_id, action, body, received_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (action_id) DO NOTHING`,
      )
      .run(
        e.actionId,
        e.action,
        e.body,
        e.receivedAt,
        e.status,
        e.status === 'pending' ? e.receivedAt : null,
      );
    return r.changes > 0;
  }

  async due(now: string, limit: number): Promise<InboxEvent[]> {
    const rows = this.conn
      .prepare(
        `SELECT ${COLUMNS} FROM "${INBOX_TABLE}" WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?`,
      )
      .all(now, limit) as Row[];
    return rows.map(eventOf);
  }

  async settle(settlements: readonly Settlement[], at: string): Promise<void> {
    const db = this.conn;
    const applied = db.prepare(
      `UPDATE "${INBOX_TABLE}" SET status = 'applied', applied_at = ?, next_attempt_at = NULL, last_error = NULL WHERE action_id = ?`,
    );
    const failed = db.prepare(
      `UPDATE "${INBOX_TABLE}" SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE action_id = ?`,
    );
    db.transaction(() => {
      for (const s of settlements) {
        if (s.outcome === 'applied') applied.run(at, s.actionId);
        else if (s.outcome === 'retry') failed.run('pending', s.retryAt, s.error, s.actionId);
        else failed.run('parked', null, s.error, s.actionId);
      }
    }).immediate();
  }

  async list(status?: InboxStatus, limit = 1000): Promise<InboxEvent[]> {
    const f = statusFilter(status);
    const rows = this.conn
      .prepare(`SELECT ${COLUMNS} FROM "${INBOX_TABLE}" WHERE ${f.where} ORDER BY seq LIMIT ?`)
      .all(...f.params, limit) as Row[];
    return rows.map(eventOf);
  }

  async requeueParked(now: string): Promise<number> {
    return this.conn
      .prepare(`UPDATE "${INBOX_TABLE}" SET status = 'pending', next_attempt_at = ? WHERE status = 'parked'`)
      .run(now).changes;
  }

  async requeue(actionId: string, now: string): Promise<boolean> {
    return (
      this.conn
        .prepare(
          `UPDATE "${INBOX_TABLE}" SET status = 'pending', next_attempt_at = ? WHERE status = 'parked' AND action_id = ?`,
        )
        .run(now, actionId).changes > 0
    );
  }

  async stats(since: string): Promise<InboxStats> {
    const row = this.conn
      .prepare(
        `SELECT
           SUM(status = 'pending') AS pending, SUM(status = 'parked') AS parked,
           SUM(status = 'applied') AS applied, SUM(status = 'ignored') AS ignored,
           SUM(status <> 'ping' AND received_at >= ?) AS events_since,
           MAX(CASE WHEN status <> 'ping' THEN received_at END) AS last_event_at,
           MAX(CASE WHEN status = 'ping' THEN received_at END) AS last_ping_at
         FROM "${INBOX_TABLE}"`,
      )
      .get(since) as Record<string, number | string | null>;
    const last = this.conn
      .prepare(
        `SELECT received_at, applied_at FROM "${INBOX_TABLE}" WHERE status = 'applied' ORDER BY applied_at DESC, seq DESC LIMIT 1`,
      )
      .get() as { received_at: string; applied_at: string } | undefined;
    const recent = this.conn
      .prepare(
        `SELECT received_at, applied_at FROM "${INBOX_TABLE}" WHERE status = 'applied' ORDER BY seq DESC LIMIT ${LAG_WINDOW}`,
      )
      .all() as Array<{ received_at: string; applied_at: string }>;
    return statsOf(row, last, recent);
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}

function statsOf(
  row: Record<string, number | string | null> | undefined,
  last: { received_at: string; applied_at: string } | undefined,
  recent: ReadonlyArray<{ received_at: string; applied_at: string }>,
): InboxStats {
  const n = (v: unknown) => Number(v ?? 0);
  const s = (v: unknown) => (typeof v === 'string' ? v : null);
  const lags = recent
    .map((r) => Date.parse(r.applied_at) - Date.parse(r.received_at))
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  return {
    lagP50Ms: quantile(lags, 0.5),
    lagP95Ms: quantile(lags, 0.95),
    pending: n(row?.pending),
    parked: n(row?.parked),
    applied: n(row?.applied),
    ignored: n(row?.ignored),
    eventsSince: n(row?.events_since),
    lastEventAt: s(row?.last_event_at),
    lastPingAt: s(row?.last_ping_at),
    lastLagMs: last ? Date.parse(last.applied_at) - Date.parse(last.received_at) : null,
  };
}

/** The inbox as a table of the target's PostgreSQL schema. */
export class PostgresInbox implements Inbox {
  private pool: pg.Pool | undefined;
  private readonly table: string;

  constructor(
    private readonly connectionString: string,
    private readonly schema: string,
  ) {
    this.table = `"${schema}"."${INBOX_TABLE}"`;
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new pg.Pool({ connectionString: this.connectionString, max: 4 });
    pool.on('error', () => undefined);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // Two receivers starting at once must not race on CREATE TABLE IF NOT EXISTS.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ashpipe:${this.schema}.webhooks`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      for (const sql of ddl('BIGSERIAL PRIMARY KEY', this.table)) await client.query(sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      await pool.end();
      throw error;
    }
    client.release();
    this.pool = pool;
  }

  private get conn(): pg.Pool {
    if (!this.pool) throw new Error('webhook inbox is not open');
    return this.pool;
  }

  async add(e: Pick<InboxEvent, 'actionId' | 'action' | 'body' | 'receivedAt' | 'status'>): Promise<boolean> {
    const r = await this.conn.query(
      `INSERT INTO ${this.table} (action_id, action, body, received_at, status, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (action_id) DO NOTHING`,
      [e.actionId, e.action, e.body, e.receivedAt, e.status, e.status === 'pending' ? e.receivedAt : null],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async due(now: string, limit: number): Promise<InboxEvent[]> {
    const { rows } = await this.conn.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY seq LIMIT $2`,
      [now, limit],
    );
    return rows.map(eventOf);
  }

  async settle(settlements: readonly Settlement[], at: string): Promise<void> {
    const client = await this.conn.connect();
    try {
      await client.query('BEGIN');
      // Applied events in one statement: a batch is hundreds of them.
      const applied = settlements.filter((s) => s.outcome === 'applied').map((s) => s.actionId);
      if (applied.length > 0) {
        await client.query(
          `UPDATE ${this.table} SET status = 'applied', applied_at = $1, next_attempt_at = NULL, last_error = NULL WHERE action_id = ANY($2::text[])`,
          [at, applied],
        );
      }
      for (const s of settlements) {
        if (s.outcome === 'applied') continue;
        await client.query(
          `UPDATE ${this.table} SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE action_id = $4`,
          [
            s.outcome === 'retry' ? 'pending' : 'parked',
            s.outcome === 'retry' ? s.retryAt : null,
            s.error,
            s.actionId,
          ],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async list(status?: InboxStatus, limit = 1000): Promise<InboxEvent[]> {
    const where = status === undefined ? "status <> 'ping'" : 'status = $2';
    const { rows } = await this.conn.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE ${where} ORDER BY seq LIMIT $1`,
      status === undefined ? [limit] : [limit, status],
    );
    return rows.map(eventOf);
  }

  async requeueParked(now: string): Promise<number> {
    const r = await this.conn.query(
      `UPDATE ${this.table} SET status = 'pending', next_attempt_at = $1 WHERE status = 'parked'`,
      [now],
    );
    return r.rowCount ?? 0;
  }

  async requeue(actionId: string, now: string): Promise<boolean> {
    const r = await this.conn.query(
      `UPDATE ${this.table} SET status = 'pending', next_attempt_at = $1 WHERE status = 'parked' AND action_id = $2`,
      [now, actionId],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async stats(since: string): Promise<InboxStats> {
    const { rows } = await this.conn.query<Record<string, number | string | null>>(
      `SELECT
         COUNT(*) FILTER (WHERE status = 'pending') AS pending, COUNT(*) FILTER (WHERE status = 'parked') AS parked,
         COUNT(*) FILTER (WHERE status = 'applied') AS applied, COUNT(*) FILTER (WHERE status = 'ignored') AS ignored,
         COUNT(*) FILTER (WHERE status <> 'ping' AND received_at >= $1) AS events_since,
         MAX(received_at) FILTER (WHERE status <> 'ping') AS last_event_at,
         MAX(received_at) FILTER (WHERE status = 'ping') AS last_ping_at
       FROM ${this.table}`,
      [since],
    );
    const last = await this.conn.query<{ received_at: string; applied_at: string }>(
      `SELECT received_at, applied_at FROM ${this.table} WHERE status = 'applied' ORDER BY applied_at DESC, seq DESC LIMIT 1`,
    );
    const recent = await this.conn.query<{ received_at: string; applied_at: string }>(
      `SELECT received_at, applied_at FROM ${this.table} WHERE status = 'applied' ORDER BY seq DESC LIMIT ${LAG_WINDOW}`,
    );
    return statsOf(rows[0], last.rows[0], recent.rows);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}

/** The inbox of a sync target (`sqlite:PATH`, `postgres://…`, `jsonl:DIR`). Nothing is opened yet. */
export function inboxFor(target: string): Inbox {
  const scheme = /^([a-z]+):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    let file = target.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    if (file === '' || file === ':memory:')
      throw new UsageError('webhooks need a sqlite target on disk (the inbox must survive a restart)');
    return new SqliteInbox(file);
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const pgTarget = parsePostgresTarget(target);
    return new PostgresInbox(pgTarget.connectionString, pgTarget.schema);
  }
  if (scheme === 'jsonl') {
    let dir = target.slice('jsonl:'.length);
    if (dir.startsWith('//')) dir = dir.slice(2);
    if (dir === '') throw new UsageError('jsonl target needs a directory, e.g. jsonl:./ashpipe-data');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new SqliteInbox(path.join(dir, JSONL_INBOX_FILE));
  }
  throw new UsageError(`unsupported target for webhooks: use sqlite:PATH, postgres://… or jsonl:DIR`);
}
