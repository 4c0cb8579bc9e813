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
import { openSqlite, type SqliteDatabase, type SqliteStatement } from '../util/sqlite.js';

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

/** An event as the receiver stores it. */
type NewEvent = Pick<InboxEvent, 'actionId' | 'action' | 'body' | 'receivedAt' | 'status'>;

/** Most deliveries stored in one transaction. */
const MAX_ADD_BATCH = 500;

/**
 * Group commit of deliveries: those that arrive while a write is going (or within the same turn of the
 * event loop) are stored together in the next transaction, one commit for all of them. Each caller's
 * promise settles only once its own transaction has committed, so a 200 still means stored.
 */
class AddBatcher {
  private queue: Array<{
    event: NewEvent;
    resolve: (stored: boolean) => void;
    reject: (e: unknown) => void;
  }> = [];
  private scheduled = false;
  private writing = false;

  /** @param write stores the events in one transaction; per event, whether it was new. */
  constructor(private readonly write: (events: readonly NewEvent[]) => Promise<boolean[]>) {}

  add(event: NewEvent): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // One turn of the event loop: the deliveries read in this turn join the same transaction.
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_ADD_BATCH);
        try {
          const stored = await this.write(batch.map((b) => b.event));
          batch.forEach((b, i) => {
            b.resolve(stored[i] === true);
          });
        } catch (error) {
          for (const b of batch) b.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

/** Statements of a SQLite inbox, prepared once when it opens. */
interface SqliteStatements {
  add: SqliteStatement;
  due: SqliteStatement;
  applied: SqliteStatement;
  failed: SqliteStatement;
  listAll: SqliteStatement;
  listStatus: SqliteStatement;
}

/** The inbox in a SQLite file (the target's own database, or the one beside a JSONL directory). */
export class SqliteInbox implements Inbox {
  private db: SqliteDatabase | undefined;
  private stmts: SqliteStatements | undefined;
  private readonly batcher = new AddBatcher(async (events) => {
    const { add } = this.statements;
    return this.conn.transaction(() =>
      events.map(
        (e) =>
          add.run(
            e.actionId,
            e.action,
            e.body,
            e.receivedAt,
            e.status,
            e.status === 'pending' ? e.receivedAt : null,
          ).changes > 0,
      ),
    )();
  });

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
    const t = `"${INBOX_TABLE}"`;
    this.stmts = {
      add: db.prepare(
        `INSERT INTO ${t} (action_id, action, body, received_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (action_id) DO NOTHING`,
      ),
      due: db.prepare(
        `SELECT ${COLUMNS} FROM ${t} WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?`,
      ),
      applied: db.prepare(
        `UPDATE ${t} SET status = 'applied', applied_at = ?, next_attempt_at = NULL, last_error = NULL WHERE action_id = ?`,
      ),
      failed: db.prepare(
        `UPDATE ${t} SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE action_id = ?`,
      ),
      listAll: db.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE status <> 'ping' ORDER BY seq LIMIT ?`),
      listStatus: db.prepare(`SELECT ${COLUMNS} FROM ${t} WHERE status = ? ORDER BY seq LIMIT ?`),
    };
    this.db = db;
  }

  private get statements(): SqliteStatements {
    if (!this.stmts) throw new Error('webhook inbox is not open');
    return this.stmts;
  }

  private get conn(): SqliteDatabase {
    if (!this.db) throw new Error('webhook inbox is not open');
    return this.db;
  }

  add(e: NewEvent): Promise<boolean> {
    return this.batcher.add(e);
  }

  async due(now: string, limit: number): Promise<InboxEvent[]> {
    return (this.statements.due.all(now, limit) as Row[]).map(eventOf);
  }

  async settle(settlements: readonly Settlement[], at: string): Promise<void> {
    const db = this.conn;
    const { applied, failed } = this.statements;
    db.transaction(() => {
      for (const s of settlements) {
        if (s.outcome === 'applied') applied.run(at, s.actionId);
        else if (s.outcome === 'retry') failed.run('pending', s.retryAt, s.error, s.actionId);
        else failed.run('parked', null, s.error, s.actionId);
      }
    }).immediate();
  }

  async list(status?: InboxStatus, limit = 1000): Promise<InboxEvent[]> {
    const { listAll, listStatus } = this.statements;
    const rows = (status === undefined ? listAll.all(limit) : listStatus.all(status, limit)) as Row[];
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
    this.stmts = undefined;
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

  /** Deliveries in one multi-row statement (prepared per batch size): one round trip, one commit. */
  private readonly batcher = new AddBatcher(async (events) => {
    const values = events.map((_, i) => {
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    const { rows } = await this.conn.query<{ action_id: string }>({
      name: `ashpipe_inbox_add_${events.length}`,
      text: `INSERT INTO ${this.table} (action_id, action, body, received_at, status, next_attempt_at) VALUES ${values.join(', ')} ON CONFLICT (action_id) DO NOTHING RETURNING action_id`,
      values: events.flatMap((e) => [
        e.actionId,
        e.action,
        e.body,
        e.receivedAt,
        e.status,
        e.status === 'pending' ? e.receivedAt : null,
      ]),
    });
    // An id twice in one batch is stored once: the first of them is the new one.
    const inserted = new Set(rows.map((r) => r.action_id));
    return events.map((e) => inserted.delete(e.actionId));
  });

  add(e: NewEvent): Promise<boolean> {
    return this.batcher.add(e);
  }

  async due(now: string, limit: number): Promise<InboxEvent[]> {
    const { rows } = await this.conn.query<Row>({
      name: 'ashpipe_inbox_due',
      text: `SELECT ${COLUMNS} FROM ${this.table} WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY seq LIMIT $2`,
      values: [now, limit],
    });
    return rows.map(eventOf);
  }

  async settle(settlements: readonly Settlement[], at: string): Promise<void> {
    const client = await this.conn.connect();
    try {
      await client.query('BEGIN');
      // Applied events in one statement: a batch is hundreds of them.
      const applied = settlements.filter((s) => s.outcome === 'applied').map((s) => s.actionId);
      if (applied.length > 0) {
        await client.query({
          name: 'ashpipe_inbox_applied',
          text: `UPDATE ${this.table} SET status = 'applied', applied_at = $1, next_attempt_at = NULL, last_error = NULL WHERE action_id = ANY($2::text[])`,
          values: [at, applied],
        });
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
