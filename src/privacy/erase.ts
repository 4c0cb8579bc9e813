/**
 * Erasing a person from a target: the candidate's row, their applications, every row that hangs off either
 * (notes, feedback, history, offers, schedules, surveys, client info…), their custom field values and the
 * webhook events that name them; then the freed space is overwritten (SQLite `secure_delete` and VACUUM,
 * PostgreSQL VACUUM FULL, JSONL files rewritten and replaced), so the bytes are gone from the files too.
 * An erasure record (ids, time, reason, tables and counts; no personal data) is written to the target.
 */

import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { Control } from '../control/open.js';
import { HISTORY_SUFFIX } from '../sinks/history.js';
import { openSink, parsePostgresTarget } from '../sinks/index.js';
import { rewriteJsonlStream, settleJsonlRewrite } from '../sinks/jsonl.js';
import { SQLITE_CUSTOM_VALUE_TABLES, SqliteCustomValues } from '../sinks/sqlite-custom-values.js';
import { CUSTOM_FIELD_VALUES_TABLE, type LockAttempt } from '../sinks/types.js';
import { findStream } from '../streams/index.js';
import { openSqlite, type SqliteDatabase } from '../util/sqlite.js';
import { INBOX_TABLE, JSONL_INBOX_FILE } from '../webhooks/inbox.js';
import { maskPersonalText, personalValuesOf } from './messages.js';
import { normalizeForHash } from './transform.js';

/** Table (JSONL: file) of erasure records. */
export const ERASURES_TABLE = '_ashpipe_erasures';

/** Who to erase. */
export interface EraseSubject {
  /** Ashby candidate ids. */
  candidateIds: readonly string[];
  /** Email addresses: candidates stored with one of them (as is, or hashed by a PII policy) are erased. */
  emails: readonly string[];
}

/** Options of {@link eraseFromTarget}. */
export interface EraseOptions {
  /** List what would go, change nothing. @default false */
  dryRun?: boolean;
  /**
   * Why, for the erasure record (no personal data).
   * @example 'GDPR art. 17 request 2026-114'
   */
  reason?: string;
  /** The PII policy's hash key, to find addresses stored hashed. */
  hashKey?: Buffer;
  /** The clock (tests). */
  now?: () => Date;
}

/** What an erasure did (or would do) to one target. */
export interface EraseReport {
  target: string;
  dryRun: boolean;
  candidateIds: string[];
  applicationIds: string[];
  /** Rows removed per table (`_ashpipe_webhook_inbox` for events). */
  tables: Record<string, number>;
  erasedAt: string;
}

/** The stream whose history a table holds (`applications_history` → `applications`), if it is one. */
function historyStreamOf(table: string): string | undefined {
  if (!table.endsWith(HISTORY_SUFFIX) || findStream(table)) return undefined;
  const stream = table.slice(0, -HISTORY_SUFFIX.length);
  return findStream(stream) ? stream : undefined;
}

/** A table of synced records: a stream's table or its history (history versions are erased like rows). */
function isRecordTable(table: string): boolean {
  return findStream(table) !== undefined || historyStreamOf(table) !== undefined;
}

type Row = { ref: string | number; raw: Record<string, unknown>; parent: string | null };

/** References of a record to others that make it the person's when the other one is. */
const REFERENCES = ['candidateId', 'applicationId', 'interviewScheduleId', 'offerId'] as const;

/**
 * Whether a row of `table` is the person's: their candidate or application row, or a row that hangs off
 * one of the records already found to be theirs (`gone`): read for it, or naming it.
 */
function belongs(
  table: string,
  row: Row,
  candidates: Set<string>,
  applications: Set<string>,
  gone: Set<string>,
): boolean {
  const r = row.raw;
  const id = typeof r.id === 'string' ? r.id : undefined;
  table = historyStreamOf(table) ?? table;
  if (table === 'candidates') return id !== undefined && candidates.has(id);
  if (table === 'applications' && id && applications.has(id)) return true;
  if (row.parent && gone.has(row.parent)) return true;
  const candidate = r.candidate as Record<string, unknown> | undefined;
  if (typeof candidate?.id === 'string' && candidates.has(candidate.id)) return true;
  return REFERENCES.some((k) => typeof r[k] === 'string' && gone.has(r[k]));
}

function emailsOf(raw: Record<string, unknown>): string[] {
  const out: string[] = [];
  const primary = raw.primaryEmailAddress as { value?: unknown } | undefined;
  if (typeof primary?.value === 'string') out.push(primary.value);
  if (Array.isArray(raw.emailAddresses))
    for (const e of raw.emailAddresses as Array<{ value?: unknown }>)
      if (typeof e?.value === 'string') out.push(e.value);
  return out;
}

/** The forms an address may be stored in: as written (any case), hashed by the policy. */
function emailForms(emails: readonly string[], hashKey: Buffer | undefined): Set<string> {
  const forms = new Set<string>();
  for (const e of emails) {
    const n = normalizeForHash(e, 'email');
    forms.add(n);
    if (hashKey) forms.add(createHmac('sha256', hashKey).update(n).digest('hex'));
  }
  return forms;
}

/** A target's tables of synced records, read and cut the same way whatever the database. */
interface Store {
  tables(): Promise<string[]>;
  rows(table: string): Promise<Row[]>;
  /** Removes rows by reference; returns how many. */
  remove(table: string, refs: ReadonlyArray<string | number>): Promise<number>;
  removeCustomFieldValues(objectIds: readonly string[]): Promise<number>;
  /** Removes inbox events whose body contains one of `needles`; counts them when `dryRun`. */
  removeEvents(needles: readonly string[], dryRun: boolean): Promise<number>;
  record(report: EraseReport, reason: string | undefined): Promise<void>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Overwrites freed space. */
  scrub(tables: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

function parseRaw(raw: unknown): Record<string, unknown> {
  const v = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const ERASURE_DDL = (table: string) =>
  `CREATE TABLE IF NOT EXISTS ${table} (erased_at TEXT NOT NULL, reason TEXT, candidate_ids TEXT NOT NULL, application_ids TEXT NOT NULL, tables TEXT NOT NULL)`;

class SqliteStore implements Store {
  private readonly db: SqliteDatabase;
  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.pragma('busy_timeout = 15000');
    // Deleted content is overwritten with zeros in the database and WAL pages, not just unlinked.
    this.db.pragma('secure_delete = ON');
  }
  async tables(): Promise<string[]> {
    return (
      this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
    )
      .map((r) => r.name)
      .filter(isRecordTable);
  }
  private columns(table: string): string[] {
    return (this.db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>).map(
      (c) => c.name,
    );
  }
  async rows(table: string): Promise<Row[]> {
    const parent = this.columns(table).includes('_ashpipe_parent_id') ? '_ashpipe_parent_id' : 'NULL';
    return (
      this.db
        .prepare(`SELECT rowid AS ref, _ashpipe_raw AS raw, ${parent} AS parent FROM "${table}"`)
        .all() as Array<{
        ref: number;
        raw: string;
        parent: string | null;
      }>
    ).map((r) => ({ ref: r.ref, raw: parseRaw(r.raw), parent: r.parent }));
  }
  async remove(table: string, refs: ReadonlyArray<string | number>): Promise<number> {
    const del = this.db.prepare(`DELETE FROM "${table}" WHERE rowid = ?`);
    let n = 0;
    for (const ref of refs) n += del.run(ref).changes;
    return n;
  }
  async removeCustomFieldValues(objectIds: readonly string[]): Promise<number> {
    const kind = (name: string) =>
      (
        this.db.prepare('SELECT type FROM sqlite_master WHERE name = ?').get(name) as
          | { type: string }
          | undefined
      )?.type;
    if (kind(SQLITE_CUSTOM_VALUE_TABLES[2]) === 'table') {
      const values = new SqliteCustomValues(this.db);
      let n = 0;
      for (const t of values.objectTypes()) n += values.remove(t, objectIds);
      return n;
    }
    // A view over the records (databases of early versions) loses its values with the records.
    if (kind(CUSTOM_FIELD_VALUES_TABLE) !== 'table') return 0;
    // The table of the version before (until the sink opens the database again): by (object type, object
    // id), its index: an object id alone would scan every value.
    const types = (
      this.db.prepare(`SELECT DISTINCT object_type AS t FROM ${CUSTOM_FIELD_VALUES_TABLE}`).all() as Array<{
        t: string;
      }>
    ).map((r) => r.t);
    const del = this.db.prepare(
      `DELETE FROM ${CUSTOM_FIELD_VALUES_TABLE} WHERE object_type = ? AND object_id = ?`,
    );
    let n = 0;
    for (const id of objectIds) for (const t of types) n += del.run(t, id).changes;
    return n;
  }
  async removeEvents(needles: readonly string[], dryRun: boolean): Promise<number> {
    if (!this.columns(INBOX_TABLE).length) return 0;
    return sqliteEvents(this.db, needles, dryRun);
  }
  async record(report: EraseReport, reason: string | undefined): Promise<void> {
    this.db.exec(ERASURE_DDL(ERASURES_TABLE));
    this.db
      .prepare(`INSERT INTO ${ERASURES_TABLE} VALUES (?, ?, ?, ?, ?)`)
      .run(
        report.erasedAt,
        reason ?? null,
        JSON.stringify(report.candidateIds),
        JSON.stringify(report.applicationIds),
        JSON.stringify(report.tables),
      );
  }
  async begin(): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
  }
  async commit(): Promise<void> {
    this.db.exec('COMMIT');
  }
  async rollback(): Promise<void> {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
  async scrub(): Promise<void> {
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

function sqliteEvents(db: SqliteDatabase, needles: readonly string[], dryRun: boolean): number {
  const rows = db.prepare(`SELECT seq, body FROM ${INBOX_TABLE}`).all() as Array<{
    seq: number;
    body: string;
  }>;
  const hit = rows.filter((r) => needles.some((n) => r.body.includes(n)));
  if (!dryRun) {
    const del = db.prepare(`DELETE FROM ${INBOX_TABLE} WHERE seq = ?`);
    for (const r of hit) del.run(r.seq);
  }
  return hit.length;
}

class PostgresStore implements Store {
  private readonly client: pg.Client;
  private readonly schema: string;
  constructor(target: string) {
    const t = parsePostgresTarget(target);
    this.client = new pg.Client({ connectionString: t.connectionString });
    this.schema = t.schema;
  }
  async open(): Promise<void> {
    await this.client.connect();
  }
  private t(table: string): string {
    return `"${this.schema}"."${table}"`;
  }
  private async columns(table: string): Promise<string[]> {
    const r = await this.client.query(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [this.schema, table],
    );
    return r.rows.map((c: { column_name: string }) => c.column_name);
  }
  async tables(): Promise<string[]> {
    const r = await this.client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
      [this.schema],
    );
    return r.rows.map((t: { table_name: string }) => t.table_name).filter((n: string) => isRecordTable(n));
  }
  async rows(table: string): Promise<Row[]> {
    const parent = (await this.columns(table)).includes('_ashpipe_parent_id')
      ? '"_ashpipe_parent_id"'
      : 'NULL';
    const r = await this.client.query(
      `SELECT ctid::text AS ref, "_ashpipe_raw"::text AS raw, ${parent} AS parent FROM ${this.t(table)}`,
    );
    return r.rows.map((x: { ref: string; raw: string; parent: string | null }) => ({
      ref: x.ref,
      raw: parseRaw(x.raw),
      parent: x.parent,
    }));
  }
  async remove(table: string, refs: ReadonlyArray<string | number>): Promise<number> {
    if (refs.length === 0) return 0;
    const r = await this.client.query(`DELETE FROM ${this.t(table)} WHERE ctid = ANY($1::tid[])`, [
      refs.map(String),
    ]);
    return r.rowCount ?? 0;
  }
  async removeCustomFieldValues(objectIds: readonly string[]): Promise<number> {
    if ((await this.columns(CUSTOM_FIELD_VALUES_TABLE)).length === 0 || objectIds.length === 0) return 0;
    const r = await this.client.query(
      `DELETE FROM ${this.t(CUSTOM_FIELD_VALUES_TABLE)} WHERE object_id = ANY($1::text[])`,
      [[...objectIds]],
    );
    return r.rowCount ?? 0;
  }
  async removeEvents(needles: readonly string[], dryRun: boolean): Promise<number> {
    if ((await this.columns(INBOX_TABLE)).length === 0 || needles.length === 0) return 0;
    const where = needles.map((_, i) => `strpos(body, $${i + 1}) > 0`).join(' OR ');
    const sql = dryRun
      ? `SELECT count(*)::int AS n FROM ${this.t(INBOX_TABLE)} WHERE ${where}`
      : `DELETE FROM ${this.t(INBOX_TABLE)} WHERE ${where}`;
    const r = await this.client.query(sql, [...needles]);
    return dryRun ? Number(r.rows[0]?.n ?? 0) : (r.rowCount ?? 0);
  }
  async record(report: EraseReport, reason: string | undefined): Promise<void> {
    await this.client.query(ERASURE_DDL(this.t(ERASURES_TABLE)));
    await this.client.query(`INSERT INTO ${this.t(ERASURES_TABLE)} VALUES ($1, $2, $3, $4, $5)`, [
      report.erasedAt,
      reason ?? null,
      JSON.stringify(report.candidateIds),
      JSON.stringify(report.applicationIds),
      JSON.stringify(report.tables),
    ]);
  }
  async begin(): Promise<void> {
    await this.client.query('BEGIN');
  }
  async commit(): Promise<void> {
    await this.client.query('COMMIT');
  }
  async rollback(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => {});
  }
  async scrub(tables: readonly string[]): Promise<void> {
    // FULL rewrites each table into a new file and removes the old one: dead tuples do not stay on disk.
    for (const table of tables) await this.client.query(`VACUUM FULL ${this.t(table)}`);
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}

/**
 * A JSONL directory: stream files are change logs; a person's lines are removed by writing the file anew
 * (a temp file renamed over the old one) and moving the stream's committed offset to the new length.
 */
class JsonlStore implements Store {
  private readonly pending = new Map<string, Set<number>>();
  constructor(private readonly dir: string) {}
  private file(table: string): string {
    return path.join(this.dir, `${table}.jsonl`);
  }
  async tables(): Promise<string[]> {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.slice(0, -'.jsonl'.length))
      .filter((n) => findStream(n) !== undefined);
  }
  private stateFile(table: string): string {
    return path.join(this.dir, '_ashpipe_state', `${table}.json`);
  }
  /** The committed lines (a torn tail past the state's offset is no data). */
  private lines(table: string): string[] {
    const bytes = fs.readFileSync(this.file(table));
    const meta = fs.existsSync(this.stateFile(table))
      ? (JSON.parse(fs.readFileSync(this.stateFile(table), 'utf8')) as { offset?: number })
      : undefined;
    const end = meta?.offset ?? bytes.length;
    return bytes.subarray(0, end).toString('utf8').split('\n');
  }
  async rows(table: string): Promise<Row[]> {
    const out: Row[] = [];
    this.lines(table).forEach((line, i) => {
      if (line.trim() === '') return;
      let change: {
        key?: Record<string, unknown>;
        record?: Record<string, unknown>;
        parent?: { value?: string };
      };
      try {
        change = JSON.parse(line) as typeof change;
      } catch {
        return;
      }
      // `seen` and `delete` lines carry the key alone: judged by it as a record of that id.
      out.push({ ref: i, raw: change.record ?? change.key ?? {}, parent: change.parent?.value ?? null });
    });
    return out;
  }
  async remove(table: string, refs: ReadonlyArray<string | number>): Promise<number> {
    const set = this.pending.get(table) ?? new Set<number>();
    for (const r of refs) set.add(Number(r));
    this.pending.set(table, set);
    return refs.length;
  }
  async removeCustomFieldValues(): Promise<number> {
    // JSONL derives custom field values from the stream files: removed with the lines.
    return 0;
  }
  async removeEvents(needles: readonly string[], dryRun: boolean): Promise<number> {
    const file = path.join(this.dir, JSONL_INBOX_FILE);
    if (!fs.existsSync(file)) return 0;
    const db = openSqlite(file);
    try {
      db.pragma('secure_delete = ON');
      const n = sqliteEvents(db, needles, dryRun);
      if (!dryRun && n > 0) {
        db.exec('VACUUM');
        db.pragma('wal_checkpoint(TRUNCATE)');
      }
      return n;
    } finally {
      db.close();
    }
  }
  async record(report: EraseReport, reason: string | undefined): Promise<void> {
    const line = JSON.stringify({
      erasedAt: report.erasedAt,
      reason: reason ?? null,
      candidateIds: report.candidateIds,
      applicationIds: report.applicationIds,
      tables: report.tables,
    });
    fs.appendFileSync(path.join(this.dir, `${ERASURES_TABLE}.jsonl`), `${line}\n`, { mode: 0o600 });
  }
  async begin(): Promise<void> {}
  async commit(): Promise<void> {
    // Files are replaced one by one: `candidates` last and `applications` just before it, so a crash
    // midway leaves the rows the next erasure (or purge) finds the rest by.
    const last = ['applications', 'candidates'];
    const order = [...this.pending].sort(([a], [b]) => last.indexOf(a) - last.indexOf(b));
    for (const [table, drop] of order)
      replaceJsonlLines(
        this.dir,
        table,
        this.lines(table).filter((l, i) => !drop.has(i) && l !== ''),
      );
  }
  async rollback(): Promise<void> {
    this.pending.clear();
  }
  async scrub(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The committed lines of a JSONL stream file (a torn tail past the state's offset is no data). */
export function readJsonlLines(dir: string, table: string): string[] {
  const file = path.join(dir, `${table}.jsonl`);
  if (!fs.existsSync(file)) return [];
  settleJsonlRewrite(dir, table);
  const bytes = fs.readFileSync(file);
  const stateFile = path.join(dir, '_ashpipe_state', `${table}.json`);
  const meta = fs.existsSync(stateFile)
    ? (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { offset?: number })
    : undefined;
  return bytes
    .subarray(0, meta?.offset ?? bytes.length)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/**
 * Writes a JSONL stream file anew with `lines` (a temp file renamed over the old one, so the old bytes go
 * with the old file) and moves the stream's committed offset to the new length; a crash in between is
 * settled when the target is next opened ({@link settleJsonlRewrite}).
 */
export function replaceJsonlLines(dir: string, table: string, lines: readonly string[]): void {
  rewriteJsonlStream(dir, table, lines.length > 0 ? `${lines.join('\n')}\n` : '');
}

async function storeFor(target: string): Promise<Store> {
  const scheme = /^([a-z]+):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    let file = target.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    return new SqliteStore(file);
  }
  if (scheme === 'jsonl') {
    let dir = target.slice('jsonl:'.length);
    if (dir.startsWith('//')) dir = dir.slice(2);
    return new JsonlStore(dir);
  }
  const store = new PostgresStore(target);
  await store.open();
  return store;
}

/**
 * Writes an erasure record for a change made outside {@link eraseFromTarget} (an anonymisation's older
 * copies rewritten) and overwrites the freed space of `tables` (those the target has).
 */
export async function recordAndScrub(
  target: string,
  report: EraseReport,
  reason: string,
  tables: readonly string[],
): Promise<void> {
  const store = await storeFor(target);
  try {
    const present = new Set(await store.tables());
    await store.begin();
    try {
      await store.record(report, reason);
      await store.commit();
    } catch (error) {
      await store.rollback();
      throw error;
    }
    await store.scrub(tables.filter((t) => present.has(t)));
  } finally {
    await store.close();
  }
}

/**
 * Erases the person from one target. Every stream's lock is taken first, so no sync or webhook applier
 * writes while rows go; the removal is one transaction (SQL targets) before the space is overwritten.
 */
export async function eraseFromTarget(
  target: string,
  subject: EraseSubject,
  options: EraseOptions = {},
): Promise<EraseReport> {
  const dryRun = options.dryRun ?? false;
  const sink = openSink(target);
  await sink.open();
  const locks: LockAttempt[] = [];
  const store = await storeFor(target);
  try {
    const tables = await store.tables();
    if (!dryRun) {
      // A history table is written under its stream's lock.
      for (const table of new Set(tables.map((t) => historyStreamOf(t) ?? t))) {
        const attempt = await sink.lock(table, 'ashpipe erase');
        if (!attempt.acquired)
          throw new Error(
            `stream ${table} is being written by another run (${attempt.holder?.label ?? 'unknown'}); try again when it ends`,
          );
        locks.push(attempt);
      }
    }
    const candidates = new Set(subject.candidateIds);
    // Earlier versions count too: an address a candidate no longer has still names them in the history.
    const withHistory = (stream: string) =>
      [stream, `${stream}${HISTORY_SUFFIX}`].filter((t) => tables.includes(t));
    if (subject.emails.length > 0) {
      const forms = emailForms(subject.emails, options.hashKey);
      const rows = [];
      for (const table of withHistory('candidates')) rows.push(...(await store.rows(table)));
      for (const row of rows) {
        const id = row.raw.id;
        if (typeof id === 'string' && emailsOf(row.raw).some((e) => forms.has(normalizeForHash(e, 'email'))))
          candidates.add(id);
      }
    }
    const applications = new Set<string>();
    for (const table of withHistory('applications')) {
      for (const row of await store.rows(table)) {
        const c = (row.raw.candidate as { id?: unknown } | undefined)?.id ?? row.raw.candidateId;
        if (typeof c === 'string' && candidates.has(c) && typeof row.raw.id === 'string')
          applications.add(row.raw.id);
      }
    }
    const report: EraseReport = {
      target: sink.location,
      dryRun,
      candidateIds: [...candidates].sort(),
      applicationIds: [...applications].sort(),
      tables: {},
      erasedAt: (options.now?.() ?? new Date()).toISOString(),
    };
    if (candidates.size === 0) return report;
    await store.begin();
    try {
      // Rows hang off rows (events off schedules off applications): found until a round adds nothing.
      const rowsOf = new Map<string, Row[]>();
      for (const table of tables) rowsOf.set(table, await store.rows(table));
      const gone = new Set<string>([...candidates, ...applications]);
      const chosen = new Map<string, Set<Row>>();
      for (let grew = true; grew; ) {
        grew = false;
        for (const [table, rows] of rowsOf) {
          const list = chosen.get(table) ?? new Set<Row>();
          for (const row of rows) {
            if (list.has(row) || !belongs(table, row, candidates, applications, gone)) continue;
            list.add(row);
            grew = true;
            if (typeof row.raw.id === 'string') gone.add(row.raw.id);
          }
          if (list.size > 0) chosen.set(table, list);
        }
      }
      const objectIds = new Set<string>();
      const touched: string[] = [];
      for (const [table, set] of chosen) {
        const rows = [...set];
        for (const r of rows) if (typeof r.raw.id === 'string') objectIds.add(r.raw.id);
        const n = dryRun
          ? historyStreamOf(table)
            ? rows.length // a history table loses every version, as the erasure itself reports
            : new Set(rows.map((r) => r.raw.id)).size
          : await store.remove(
              table,
              rows.map((r) => r.ref),
            );
        report.tables[table] = n;
        touched.push(table);
      }
      if (!dryRun) {
        const cfv = await store.removeCustomFieldValues([...objectIds]);
        if (cfv > 0) {
          report.tables[CUSTOM_FIELD_VALUES_TABLE] = cfv;
          touched.push(CUSTOM_FIELD_VALUES_TABLE);
        }
      }
      const needles = [...candidates, ...applications, ...subject.emails];
      const events = await store.removeEvents(needles, dryRun);
      if (events > 0) {
        report.tables[INBOX_TABLE] = events;
        touched.push(INBOX_TABLE);
      }
      if (dryRun) {
        await store.rollback();
        return report;
      }
      await store.record(report, options.reason);
      await store.commit();
      await store.scrub(touched);
    } catch (error) {
      await store.rollback();
      throw error;
    }
    return report;
  } finally {
    for (const l of locks) if (l.acquired) await l.lock.release();
    await store.close();
    await sink.close();
  }
}

/** What {@link eraseFromControlStore} removed (would remove, with `dryRun`). */
export interface ControlStoreErasure {
  /** Push quarantine entries. */
  quarantine: number;
  /** Exactly-once ledger entries (their record key, Ashby id, step data or error named the person). */
  ledger: number;
  /** Reasons of other entries whose personal values were masked now (stored before masking existed). */
  remasked: number;
}

/** Whether a text names one of `lowered` (needles in lower case), in any letter case. */
function names(text: string | null, lowered: readonly string[]): boolean {
  if (!text) return false;
  const t = text.toLowerCase();
  return lowered.some((n) => t.includes(n));
}

/**
 * The person out of the control store (SQLite or PostgreSQL): their push quarantine entries (see
 * {@link eraseFromQuarantine}) and their entries of the exactly-once ledger — whose record key is often
 * their email address — removed; other records' ledger entries are left alone, so they are still pushed
 * exactly once. The reasons of the entries that stay are masked again ({@link remaskStoredReasons}); then
 * the freed space is overwritten ({@link scrubControlStore}).
 */
export async function eraseFromControlStore(
  control: Control,
  needles: readonly string[],
  dryRun = false,
): Promise<ControlStoreErasure> {
  const lowered = needles.filter((n) => n.length > 0).map((n) => n.toLowerCase());
  const quarantine = await eraseFromQuarantine(control, needles, dryRun);
  let ledger = 0;
  let remasked = 0;
  if (lowered.length > 0) {
    const rows = await control.db
      .selectFrom('push_ledger')
      .select(['account', 'operation', 'record_key', 'ashby_id', 'step_data', 'error'])
      .execute();
    const hit = rows.filter(
      (r) =>
        names(r.record_key, lowered) ||
        names(r.ashby_id, lowered) ||
        names(r.step_data, lowered) ||
        names(r.error, lowered),
    );
    ledger = hit.length;
    if (!dryRun && hit.length > 0) {
      await control.transaction(async (trx) => {
        for (const r of hit)
          await trx
            .deleteFrom('push_ledger')
            .where('account', '=', r.account)
            .where('operation', '=', r.operation)
            .where('record_key', '=', r.record_key)
            .execute();
      });
    }
  }
  if (!dryRun) {
    remasked = await remaskStoredReasons(control);
    if (ledger > 0 || remasked > 0) await scrubControlStore(control);
  }
  return { quarantine, ledger, remasked };
}

/**
 * Overwrites the space that deleted or rewritten quarantine and ledger rows held: SQLite with
 * `secure_delete` (set when the store opens), VACUUM and the WAL truncated; PostgreSQL with `VACUUM FULL`
 * of both tables, which writes them to new files (the old row versions go with the old ones).
 */
export async function scrubControlStore(control: Control): Promise<void> {
  const sqlite = control.sqlite?.db;
  if (sqlite) {
    // Through the query layer's one connection, so no transaction of another caller is open on it (VACUUM
    // cannot run inside one).
    await control.db.connection().execute(async () => {
      sqlite.pragma('secure_delete = ON');
      sqlite.exec('VACUUM');
      sqlite.pragma('wal_checkpoint(TRUNCATE)');
    });
    return;
  }
  await sql`VACUUM FULL push_quarantine`.execute(control.db);
  await sql`VACUUM FULL push_ledger`.execute(control.db);
}

/**
 * Masks the personal values quoted by reasons stored before reasons were masked: a quarantine entry's
 * error message (with the personal fields of its input row while it still has one, and every email
 * address) and a ledger entry's error (every email address). Masking is idempotent, so entries already
 * masked are left as they are. Returns how many reasons changed.
 */
export function remaskStoredReasons(control: Control): Promise<number> {
  return control.transaction(async (trx) => {
    let changed = 0;
    for (const r of await trx
      .selectFrom('push_quarantine')
      .select(['id', 'raw', 'error_message'])
      .execute()) {
      let input: unknown;
      try {
        input = r.raw ? (JSON.parse(r.raw) as unknown) : undefined;
      } catch {
        input = undefined;
      }
      const masked = maskPersonalText(r.error_message, personalValuesOf(input));
      if (masked !== r.error_message) {
        await trx
          .updateTable('push_quarantine')
          .set({ error_message: masked })
          .where('id', '=', r.id)
          .execute();
        changed++;
      }
    }
    const errors = await trx
      .selectFrom('push_ledger')
      .select(['account', 'operation', 'record_key', 'error'])
      .where('error', 'is not', null)
      .execute();
    for (const r of errors) {
      const masked = maskPersonalText(r.error ?? '');
      if (masked !== r.error) {
        await trx
          .updateTable('push_ledger')
          .set({ error: masked })
          .where('account', '=', r.account)
          .where('operation', '=', r.operation)
          .where('record_key', '=', r.record_key)
          .execute();
        changed++;
      }
    }
    return changed;
  });
}

/**
 * Removes the push quarantine's entries that name the person (their input row, key or error message holds
 * one of `needles`, in any letter case) from the control store, then overwrites the freed space. Returns
 * how many entries went (would go, with `dryRun`).
 */
export async function eraseFromQuarantine(
  control: Control,
  needles: readonly string[],
  dryRun = false,
): Promise<number> {
  if (needles.length === 0) return 0;
  const lowered = needles.map((n) => n.toLowerCase());
  const rows = await control.db
    .selectFrom('push_quarantine')
    .select(['id', 'raw', 'record_key', 'error_message'])
    .execute();
  const hit = rows.filter((r) => {
    const text = `${r.raw}\n${r.record_key ?? ''}\n${r.error_message}`.toLowerCase();
    return lowered.some((n) => text.includes(n));
  });
  if (dryRun || hit.length === 0) return hit.length;
  await control.transaction(async (trx) => {
    await trx
      .deleteFrom('push_quarantine')
      .where(
        'id',
        'in',
        hit.map((r) => r.id),
      )
      .execute();
  });
  await scrubControlStore(control);
  return hit.length;
}
