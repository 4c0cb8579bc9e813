/**
 * SQLite `custom_field_values`: a view over three narrow tables, so that a full sync writes each value as a
 * few bytes appended in order and builds no index when its pass ends.
 *
 * - `_ashpipe_cfv_objects`: one row per object with values, an integer `object_key` (a rowid alias, so it
 *   survives VACUUM), and per object type a unique index on object_id (partial: `WHERE object_type =
 *   'Candidate'`), which a bulk load drops and builds again when it ends — kept up to date, an index of
 *   random ids dirties most of its pages in every transaction.
 * - `_ashpipe_cfv_fields`: one row per (field id, title) seen, an integer `field_key`.
 * - `_ashpipe_cfv_values`: (object_key, field_key, value, value_json), clustered by object. Objects new to
 *   the database take the next key, so a first sync appends at the end of the tree.
 *
 * The view has the columns of the table of earlier versions (object_type, object_id, field_id, title, value,
 * value_json): one object's values are found through the objects' index and the values' primary key, a
 * group-by over titles scans the values once. `DELETE FROM custom_field_values WHERE …` works through an
 * INSTEAD OF trigger.
 */
import type { SqliteDatabase, SqliteStatement } from '../util/sqlite.js';

/** The view's name, which earlier versions used for a table (or a view over the records). */
const VIEW = 'custom_field_values';
const OBJECTS = '_ashpipe_cfv_objects';
const FIELDS = '_ashpipe_cfv_fields';
const VALUES = '_ashpipe_cfv_values';

/** The tables behind the view: not streams, never listed or previewed as such. */
export const SQLITE_CUSTOM_VALUE_TABLES = [OBJECTS, FIELDS, VALUES] as const;

const TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS ${OBJECTS} (object_key INTEGER PRIMARY KEY, object_type TEXT NOT NULL, object_id TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${FIELDS} (field_key INTEGER PRIMARY KEY, field_id TEXT NOT NULL, title TEXT)`,
  `CREATE INDEX IF NOT EXISTS ${FIELDS}__id ON ${FIELDS} (field_id, title)`,
  `CREATE INDEX IF NOT EXISTS ${FIELDS}__title ON ${FIELDS} (title)`,
  `CREATE TABLE IF NOT EXISTS ${VALUES} (object_key INTEGER NOT NULL, field_key INTEGER NOT NULL, value, value_json TEXT, PRIMARY KEY (object_key, field_key)) WITHOUT ROWID`,
  // A group-by over titles walks the fields in title order and counts each one's entries here, instead of
  // sorting every value (a third of the time at 1.7 million values). New objects take the highest keys,
  // so a first sync appends to each field's range: a few pages a transaction.
  `CREATE INDEX IF NOT EXISTS ${VALUES}__field ON ${VALUES} (field_key)`,
];

/**
 * Tells SQLite's planner how few fields there are (`sqlite_stat1`), so that it starts a group-by over
 * titles from them; without statistics it assumes every table is large and sorts all values instead.
 */
function analyzeFields(db: SqliteDatabase): void {
  db.exec(`ANALYZE ${FIELDS}`);
}

// Inner joins: the planner starts from the objects' index for one object's values and from the values
// for a scan (a LEFT JOIN here was measured ~25 % slower on a group-by over 1.7 million values).
const VIEW_SQL = [
  `CREATE VIEW IF NOT EXISTS "${VIEW}" (object_type, object_id, field_id, title, value, value_json) AS
SELECT o.object_type, o.object_id, f.field_id, f.title, v.value, v.value_json
FROM ${VALUES} AS v JOIN ${OBJECTS} AS o ON o.object_key = v.object_key JOIN ${FIELDS} AS f ON f.field_key = v.field_key`,
  `CREATE TRIGGER IF NOT EXISTS "${VIEW}__delete" INSTEAD OF DELETE ON "${VIEW}" BEGIN
  DELETE FROM ${VALUES} WHERE object_key = (SELECT object_key FROM ${OBJECTS} WHERE object_type = OLD.object_type AND object_id = OLD.object_id)
    AND field_key IN (SELECT field_key FROM ${FIELDS} WHERE field_id = OLD.field_id AND title IS OLD.title);
END`,
];

/** Object types a statement may name as a literal (the partial indexes are found only through one). */
const OBJECT_TYPE = /^[A-Za-z_]{1,40}$/;

function literal(objectType: string): string {
  if (!OBJECT_TYPE.test(objectType)) throw new Error(`invalid custom field object type ${objectType}`);
  return `'${objectType}'`;
}

/** The unique index of one object type's objects. */
function objectIndexName(objectType: string): string {
  literal(objectType);
  return `${OBJECTS}__${objectType}`;
}

/**
 * Builds the unique index of an object type's objects. Two rows for one object (only a database changed
 * behind the sink's back during a bulk load can have them) keep the newer, with its values.
 */
function createObjectIndex(db: SqliteDatabase, objectType: string): void {
  const type = literal(objectType);
  const create = `CREATE UNIQUE INDEX IF NOT EXISTS "${objectIndexName(objectType)}" ON ${OBJECTS} (object_id) WHERE object_type = ${type}`;
  try {
    db.exec(create);
  } catch (error) {
    // Only a duplicate id fails the build (and the failed statement alone is undone): no scan looks for
    // one beforehand, at the end of every bulk load.
    if ((error as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
    const older = `SELECT object_key FROM ${OBJECTS} WHERE object_type = ${type} AND object_key NOT IN (SELECT max(object_key) FROM ${OBJECTS} WHERE object_type = ${type} GROUP BY object_id)`;
    db.exec(`DELETE FROM ${VALUES} WHERE object_key IN (${older})`);
    db.exec(`DELETE FROM ${OBJECTS} WHERE object_key IN (${older})`);
    db.exec(create);
  }
}

function hasObjectIndex(db: SqliteDatabase, objectType: string): boolean {
  return (
    db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
      .get(objectIndexName(objectType)) !== undefined
  );
}

/**
 * Statements that move the rows of one object type of a SELECT with the view's six columns (`source`) into
 * the tables: new fields, new objects, then the values (a value already stored for the same object and
 * field is kept).
 */
function fillSql(source: string, objectType: string): string[] {
  const type = literal(objectType);
  return [
    `INSERT INTO ${FIELDS} (field_id, title) SELECT DISTINCT s.field_id, s.title FROM (${source}) AS s
WHERE s.object_type = ${type} AND NOT EXISTS (SELECT 1 FROM ${FIELDS} AS f WHERE f.field_id = s.field_id AND f.title IS s.title)`,
    `INSERT INTO ${OBJECTS} (object_type, object_id) SELECT DISTINCT ${type}, s.object_id FROM (${source}) AS s
WHERE s.object_type = ${type} AND NOT EXISTS (SELECT 1 FROM ${OBJECTS} AS o WHERE o.object_type = ${type} AND o.object_id = s.object_id)`,
    `INSERT OR IGNORE INTO ${VALUES} (object_key, field_key, value, value_json)
SELECT o.object_key, (SELECT min(f.field_key) FROM ${FIELDS} AS f WHERE f.field_id = s.field_id AND f.title IS s.title), s.value, s.value_json
FROM (${source}) AS s JOIN ${OBJECTS} AS o ON o.object_type = ${type} AND o.object_id = s.object_id WHERE s.object_type = ${type}`,
  ];
}

/** Moves the rows of `source` (the view's six columns) into the tables, one object type at a time. */
function fill(db: SqliteDatabase, source: string, objectTypes: readonly string[]): void {
  for (const objectType of objectTypes) {
    // The index first: the statements find stored objects through it.
    createObjectIndex(db, objectType);
    for (const sql of fillSql(source, objectType)) db.exec(sql);
  }
}

/**
 * Makes `custom_field_values` the view this version writes through. The table of the previous version is
 * moved into the narrow tables as it is; a view over the records or a table of JSON values (older versions)
 * is replaced and `fillFromRecords` gives the SELECTs that fill it again from the stored records. Inside the
 * caller's transaction.
 */
export function ensureSqliteCustomValues(
  db: SqliteDatabase,
  fillFromRecords: () => ReadonlyArray<{ objectType: string; select: string }>,
): void {
  const existing = db.prepare('SELECT type FROM sqlite_master WHERE name = ?').get(VIEW) as
    | { type: string }
    | undefined;
  const current = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(VALUES);
  for (const sql of TABLES_SQL) db.exec(sql);
  if (existing?.type === 'view' && current) return;
  if (existing?.type === 'table') {
    const plain = db.prepare(`SELECT 1 FROM pragma_table_info('${VIEW}') WHERE name = 'value_json'`).get();
    if (plain) {
      const types = (
        db.prepare(`SELECT DISTINCT object_type AS t FROM "${VIEW}"`).all() as Array<{ t: string }>
      ).map((r) => r.t);
      fill(db, `SELECT object_type, object_id, field_id, title, value, value_json FROM "${VIEW}"`, types);
      db.exec(`DROP TABLE "${VIEW}"`);
      analyzeFields(db);
      for (const sql of VIEW_SQL) db.exec(sql);
      return;
    }
  }
  if (existing) db.exec(existing.type === 'view' ? `DROP VIEW "${VIEW}"` : `DROP TABLE "${VIEW}"`);
  for (const sql of VIEW_SQL) db.exec(sql);
  if (existing) {
    for (const { objectType, select } of fillFromRecords()) fill(db, select, [objectType]);
    analyzeFields(db);
  }
}

/** Most values written by one INSERT statement (4 parameters each). */
const VALUE_BATCH = 200;
/** Most objects upserted by one statement (2 parameters each). */
const OBJECT_BATCH = 200;

/**
 * Writes and removes custom field values on one open database. Holds prepared statements only: no state
 * that a rolled-back transaction could leave wrong (keys and indexes are read inside each transaction).
 */
export class SqliteCustomValues {
  private readonly inserts: Array<SqliteStatement | undefined> = [];
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(private readonly db: SqliteDatabase) {}

  private prepare(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Writes a page's values: those of `replaced` objects are removed first, then `params` (5 per value:
   * object id, field id, title, value, value_json — as {@link pushCustomValueParams} appends them) are
   * stored, one row per object and field. In a bulk load (`bulkLoad`: the stream's table was empty when
   * its full pass started, and the sink alone writes it until the load ends) new objects are appended
   * without their index (see {@link dropObjectIndex}).
   */
  writePage(
    objectType: string,
    replaced: readonly string[],
    params: readonly unknown[],
    bulkLoad: boolean,
  ): void {
    const indexed = hasObjectIndex(this.db, objectType);
    // Stored objects are found through the index: a page that replaces some builds it again.
    if (!indexed && (!bulkLoad || replaced.length > 0)) createObjectIndex(this.db, objectType);
    if (replaced.length > 0) this.removeValues(objectType, replaced);
    const rows = params.length / 5;
    if (rows === 0) return;
    const objects =
      indexed || !bulkLoad || replaced.length > 0
        ? this.objectKeys(objectType, params)
        : this.appendObjects(objectType, params);
    const { keys: fields, added } = this.fieldKeys(params);
    if (added) analyzeFields(this.db);
    const out: unknown[] = new Array(rows * 4);
    for (let r = 0, p = 0, o = 0; r < rows; r++, p += 5, o += 4) {
      out[o] = objects.get(params[p] as string);
      out[o + 1] = fields[r];
      out[o + 2] = params[p + 3];
      out[o + 3] = params[p + 4];
    }
    for (let start = 0; start < rows; start += VALUE_BATCH) {
      const count = Math.min(VALUE_BATCH, rows - start);
      let insert = this.inserts[count];
      if (!insert) {
        // OR IGNORE: a multi-row INSERT that could abort half-way keeps a statement journal; nothing here can
        // conflict (an object's values were removed above, and a record lists each field once).
        insert = this.db.prepare(
          `INSERT OR IGNORE INTO ${VALUES} (object_key, field_key, value, value_json) VALUES ${Array.from({ length: count }, () => '(?, ?, ?, ?)').join(', ')}`,
        );
        this.inserts[count] = insert;
      }
      insert.run(count === rows ? out : out.slice(start * 4, (start + count) * 4));
    }
  }

  /** Drops an object type's index for a bulk load (see {@link writePage}); {@link endBulkLoad} builds it. */
  dropObjectIndex(objectType: string): void {
    this.db.exec(`DROP INDEX IF EXISTS "${objectIndexName(objectType)}"`);
  }

  /** Builds an object type's index again when its bulk load ends. */
  endBulkLoad(objectType: string): void {
    if (!hasObjectIndex(this.db, objectType)) createObjectIndex(this.db, objectType);
  }

  /** The ids of the objects of `params`, each once. */
  private objectIds(params: readonly unknown[]): string[] {
    const ids: string[] = [];
    let last: unknown;
    // A record's values are consecutive: comparing with the previous id finds each object once.
    for (let p = 0; p < params.length; p += 5) {
      if (params[p] !== last) {
        last = params[p];
        ids.push(last as string);
      }
    }
    return ids;
  }

  /** The key of each object of `params`, new objects taking the next ones (through the type's index). */
  private objectKeys(objectType: string, params: readonly unknown[]): Map<string, number> {
    const ids = this.objectIds(params);
    const keys = new Map<string, number>();
    const type = literal(objectType);
    for (let start = 0; start < ids.length; start += OBJECT_BATCH) {
      const count = Math.min(OBJECT_BATCH, ids.length - start);
      // DO UPDATE (a no-op) rather than DO NOTHING, so that RETURNING gives the key of a stored object too.
      const upsert = this.prepare(
        `INSERT INTO ${OBJECTS} (object_type, object_id) VALUES ${Array.from({ length: count }, () => `(${type}, ?)`).join(', ')} ON CONFLICT (object_id) WHERE object_type = ${type} DO UPDATE SET object_type = excluded.object_type RETURNING object_key AS k, object_id AS id`,
      );
      const bound = count === ids.length ? ids : ids.slice(start, start + count);
      for (const row of upsert.all(bound) as Array<{ k: number; id: string }>) keys.set(row.id, row.k);
    }
    return keys;
  }

  /** Keys for objects that cannot be stored yet (a bulk load's new records): the next ones, appended. */
  private appendObjects(objectType: string, params: readonly unknown[]): Map<string, number> {
    const ids = this.objectIds(params);
    const keys = new Map<string, number>();
    let next = (
      this.prepare(`SELECT coalesce(max(object_key), 0) + 1 AS k FROM ${OBJECTS}`).get() as { k: number }
    ).k;
    const type = literal(objectType);
    for (let start = 0; start < ids.length; start += OBJECT_BATCH) {
      const count = Math.min(OBJECT_BATCH, ids.length - start);
      const insert = this.prepare(
        `INSERT INTO ${OBJECTS} (object_key, object_type, object_id) VALUES ${Array.from({ length: count }, () => `(?, ${type}, ?)`).join(', ')}`,
      );
      const bound: unknown[] = new Array(count * 2);
      for (let i = 0; i < count; i++) {
        const id = ids[start + i] as string;
        keys.set(id, next);
        bound[i * 2] = next++;
        bound[i * 2 + 1] = id;
      }
      insert.run(bound);
    }
    return keys;
  }

  /** The field key of each value of `params` (by its field id and title), new fields added. */
  private fieldKeys(params: readonly unknown[]): { keys: number[]; added: boolean } {
    // By field id, then title (null for none): no key string is built per value.
    const known = new Map<string, Map<string | null, number>>();
    const keys: number[] = new Array(params.length / 5);
    let added = false;
    const find = this.prepare(`SELECT min(field_key) AS k FROM ${FIELDS} WHERE field_id = ? AND title IS ?`);
    const add = this.prepare(
      `INSERT INTO ${FIELDS} (field_id, title) VALUES (?, ?) RETURNING field_key AS k`,
    );
    for (let p = 1, r = 0; p < params.length; p += 5, r++) {
      const id = params[p] as string;
      const title = params[p + 1] as string | null;
      let titles = known.get(id);
      if (!titles) {
        titles = new Map();
        known.set(id, titles);
      }
      let key = titles.get(title);
      if (key === undefined) {
        const found = (find.get(id, title) as { k: number | null }).k;
        if (found !== null) key = found;
        else {
          key = (add.get(id, title) as { k: number }).k;
          added = true;
        }
        titles.set(title, key);
      }
      keys[r] = key;
    }
    return { keys, added };
  }

  private objectKeySql(objectType: string): string {
    return `(SELECT object_key FROM ${OBJECTS} WHERE object_type = ${literal(objectType)} AND object_id = ?)`;
  }

  /** Removes the values of objects and keeps their keys (they are written again at once). */
  private removeValues(objectType: string, objectIds: readonly string[]): void {
    const drop = this.prepare(`DELETE FROM ${VALUES} WHERE object_key = ${this.objectKeySql(objectType)}`);
    for (const id of objectIds) drop.run(id);
  }

  /** Removes objects and their values; returns how many values were removed. */
  remove(objectType: string, objectIds: readonly string[]): number {
    const drop = this.prepare(`DELETE FROM ${VALUES} WHERE object_key = ${this.objectKeySql(objectType)}`);
    const forget = this.prepare(
      `DELETE FROM ${OBJECTS} WHERE object_type = ${literal(objectType)} AND object_id = ?`,
    );
    let n = 0;
    for (const id of objectIds) {
      n += drop.run(id).changes;
      forget.run(id);
    }
    return n;
  }

  /** The object types that have values. */
  objectTypes(): string[] {
    return (
      this.prepare(`SELECT DISTINCT object_type AS t FROM ${OBJECTS}`).all() as Array<{ t: string }>
    ).map((r) => r.t);
  }

  /** Replaces every value of an object type with the rows of `select` (the view's six columns). */
  refill(objectType: string, select: string): void {
    const type = literal(objectType);
    this.db.exec(
      `DELETE FROM ${VALUES} WHERE object_key IN (SELECT object_key FROM ${OBJECTS} WHERE object_type = ${type})`,
    );
    this.db.exec(`DELETE FROM ${OBJECTS} WHERE object_type = ${type}`);
    fill(this.db, select, [objectType]);
    analyzeFields(this.db);
  }
}

/**
 * Appends the parameters (5 a value: object id, field id, title, value, value_json) of a record's custom
 * field values: what `customFieldEntries` and `plainValue` give, without an object or a tuple per value —
 * this runs for every value of a full sync.
 */
export function pushCustomValueParams(
  out: unknown[],
  objectId: string,
  record: Record<string, unknown>,
  path: readonly string[],
): void {
  let list: unknown = record;
  for (const key of path) {
    if (typeof list !== 'object' || list === null || Array.isArray(list)) return;
    list = (list as Record<string, unknown>)[key];
  }
  if (!Array.isArray(list)) return;
  const start = out.length;
  for (const item of list as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as Record<string, unknown>;
    const fieldId = entry.id;
    if (typeof fieldId !== 'string' || fieldId === '') continue;
    const title = typeof entry.title === 'string' ? entry.title : null;
    const raw = entry.value;
    let value: unknown;
    let json: string | null = null;
    if (raw === null || raw === undefined) value = null;
    else if (typeof raw === 'string') value = raw;
    // better-sqlite3 binds every number as a REAL; a bigint is bound as an INTEGER.
    else if (typeof raw === 'number') value = Number.isSafeInteger(raw) ? BigInt(raw) : raw;
    else if (typeof raw === 'boolean') {
      value = raw ? 1n : 0n;
      json = raw ? 'true' : 'false';
    } else {
      json = JSON.stringify(raw);
      value = json;
    }
    // A repeated id keeps its first place and takes the last value, as customFieldEntries has it.
    let at = -1;
    for (let i = start + 1; i < out.length; i += 5) {
      if (out[i] === fieldId) {
        at = i;
        break;
      }
    }
    if (at >= 0) {
      out[at + 1] = title;
      out[at + 2] = value;
      out[at + 3] = json;
    } else out.push(objectId, fieldId, title, value, json);
  }
}
