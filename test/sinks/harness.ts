import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

const PG_URL = testPostgresUrl('the PostgreSQL sink tests');

/** A sink kind under test and how to make an isolated target for it. */
export interface Kind {
  kind: 'sqlite' | 'postgres' | 'jsonl';
  skip: boolean;
  /** A fresh, empty target string. */
  target(): Promise<string>;
  /** Rows of custom_field_values ordered by object and field (SQL kinds). */
  customFieldValues(target: string): Promise<Array<Record<string, unknown>>>;
  /** Columns covered by the indexes of `table`, sorted (SQL kinds). */
  indexedColumns(target: string, table: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

const tmpDirs: string[] = [];
function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  tmpDirs.push(dir);
  return dir;
}
function removeTmp(): void {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

const sqlite: Kind = {
  kind: 'sqlite',
  skip: false,
  target: async () => `sqlite:${path.join(tmp(), 'ashpipe.db')}`,
  customFieldValues: async (target) => {
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT * FROM custom_field_values ORDER BY object_type, object_id, field_id')
        .all() as Array<Record<string, unknown>>;
      // Plain values; value_json tells booleans, lists and objects apart.
      return rows.map(({ value_json, ...r }) => ({
        ...r,
        value: typeof value_json === 'string' ? JSON.parse(value_json) : r.value,
      }));
    } finally {
      db.close();
    }
  },
  indexedColumns: async (target, table) => {
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db
        .prepare(
          'SELECT i.name AS column_name FROM pragma_index_list(?) AS l, pragma_index_info(l.name) AS i ORDER BY 1',
        )
        .all(table) as Array<{ column_name: string }>;
      return rows.map((r) => r.column_name);
    } finally {
      db.close();
    }
  },
  cleanup: async () => removeTmp(),
};

const schemas: string[] = [];
function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}
async function pgQuery(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

const postgres: Kind = {
  kind: 'postgres',
  skip: !PG_URL,
  target: async () => {
    const schema = testSchemaName();
    schemas.push(schema);
    return withSchema(PG_URL ?? '', schema);
  },
  customFieldValues: async (target) => {
    const schema = new URL(target).searchParams.get('schema') ?? 'public';
    return pgQuery(
      `SELECT * FROM "${schema}".custom_field_values ORDER BY object_type, object_id COLLATE "C", field_id COLLATE "C"`,
    );
  },
  indexedColumns: async (target, table) => {
    const schema = new URL(target).searchParams.get('schema') ?? 'public';
    const rows = await pgQuery(
      `SELECT a.attname AS column_name FROM pg_index x
       JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey)
       WHERE n.nspname = $1 AND t.relname = $2 ORDER BY 1`,
      [schema, table],
    );
    return rows.map((r) => String(r.column_name));
  },
  cleanup: async () => {
    for (const schema of schemas.splice(0)) await pgQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  },
};

const jsonl: Kind = {
  kind: 'jsonl',
  skip: false,
  target: async () => `jsonl:${path.join(tmp(), 'out')}`,
  customFieldValues: async () => [],
  indexedColumns: async () => [],
  cleanup: async () => removeTmp(),
};

export const KINDS: readonly Kind[] = [sqlite, postgres, jsonl];

/** Opens a sink and remembers it so the test's afterEach can close it. */
export async function opened(target: string, track: Sink[]): Promise<Sink> {
  const sink = openSink(target);
  await sink.open();
  track.push(sink);
  return sink;
}

/** The parsed `_ashpipe_raw` of each row. */
export function raws(rows: ReadonlyArray<Record<string, unknown>>): unknown[] {
  return rows.map((r) => JSON.parse(String(r._ashpipe_raw)));
}
