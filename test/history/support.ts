/** Reading `<stream>_history` tables straight from the database (SQLite file or PostgreSQL schema). */
import pg from 'pg';
import { openSqlite } from '../../src/util/sqlite.js';

type Rec = Record<string, unknown>;

/** One version as a test compares it. */
export interface Version {
  recordId: string;
  validFrom: string;
  validTo: string | null;
  isCurrent: boolean;
  deleted: boolean;
  hash: string;
  raw: Rec;
  /** Every other column of the row (typed columns), as the database returns them. */
  columns: Rec;
}

function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return new Date(v instanceof Date ? v.getTime() : Date.parse(String(v))).toISOString();
}

function toVersion(row: Rec): Version {
  const {
    _ashpipe_record_id,
    _ashpipe_valid_from,
    _ashpipe_valid_to,
    _ashpipe_is_current,
    _ashpipe_deleted,
    _ashpipe_hash,
    _ashpipe_raw,
    ...columns
  } = row;
  return {
    recordId: String(_ashpipe_record_id),
    validFrom: iso(_ashpipe_valid_from) as string,
    validTo: iso(_ashpipe_valid_to),
    isCurrent: _ashpipe_is_current === true || _ashpipe_is_current === 1,
    deleted: _ashpipe_deleted === true || _ashpipe_deleted === 1,
    hash: String(_ashpipe_hash),
    raw: (typeof _ashpipe_raw === 'string' ? JSON.parse(_ashpipe_raw) : _ashpipe_raw) as Rec,
    columns,
  };
}

function postgresParts(target: string): { url: string; schema: string } {
  const u = new URL(target);
  const schema = u.searchParams.get('schema') ?? 'public';
  u.searchParams.delete('schema');
  return { url: u.toString(), schema };
}

/** Runs one query against a test target and returns its rows (`$1`-style parameters for both). */
export async function query(target: string, sql: string, params: unknown[] = []): Promise<Rec[]> {
  if (target.startsWith('sqlite:')) {
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true });
    try {
      return db.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Rec[];
    } finally {
      db.close();
    }
  }
  const { url, schema } = postgresParts(target);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    return (await client.query(sql, params)).rows as Rec[];
  } finally {
    await client.end();
  }
}

/** Whether a table exists in the target. */
export async function tableExists(target: string, table: string): Promise<boolean> {
  if (target.startsWith('sqlite:'))
    return (
      (await query(target, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", [table]))
        .length > 0
    );
  const { schema } = postgresParts(target);
  return (
    (
      await query(
        target,
        'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
        [schema, table],
      )
    ).length > 0
  );
}

/** Every version of `<stream>_history`, by record id, oldest first. */
export async function readHistory(target: string, stream: string): Promise<Map<string, Version[]>> {
  const rows = await query(target, `SELECT * FROM "${stream}_history" ORDER BY "_ashpipe_version"`);
  const out = new Map<string, Version[]>();
  for (const row of rows) {
    const v = toVersion(row);
    const list = out.get(v.recordId) ?? [];
    list.push(v);
    out.set(v.recordId, list);
  }
  return out;
}

/** Total versions of a stream's history. */
export function countVersions(history: Map<string, Version[]>): number {
  let n = 0;
  for (const list of history.values()) n += list.length;
  return n;
}
