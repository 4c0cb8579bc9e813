import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InputRow, readInput } from '../../src/push/input.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

const url = testPostgresUrl('push input from a PostgreSQL query');
const schema = testSchemaName();

async function rowsOf(query: string): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const r of readInput({ kind: 'sql', from: url as string, query })) out.push(r);
  return out;
}

describe.skipIf(!url)('push input: --from postgres://… --query', () => {
  beforeAll(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(
      `CREATE TABLE ${schema}.candidates (name text, email text, tags jsonb, score bigint, active boolean)`,
    );
    await client.query(
      `INSERT INTO ${schema}.candidates VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)`,
      [
        'Ada',
        'ada@example.com',
        JSON.stringify(['a', 'b']),
        7,
        true,
        'Zoë "Z" ✨',
        'z@example.com',
        null,
        null,
        false,
      ],
    );
    await client.end();
  });

  afterAll(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  it('yields one numbered record per row of a synced table', async () => {
    const rows = await rowsOf(`SELECT name, email, tags, active FROM ${schema}.candidates ORDER BY email`);
    expect(rows.map((r) => r.row)).toEqual([1, 2]);
    expect(rows[0]?.record).toMatchObject({ name: 'Ada', email: 'ada@example.com', active: true });
    expect(rows[0]?.record?.tags).toEqual(['a', 'b']);
    expect(rows[1]?.record).toMatchObject({ name: 'Zoë "Z" ✨', email: 'z@example.com', active: false });
  });

  it('runs the query read-only, so a write through --query changes nothing', async () => {
    await expect(
      rowsOf(`INSERT INTO ${schema}.candidates (name) VALUES ('x') RETURNING name`),
    ).rejects.toThrow(/read-only/);
    const rows = await rowsOf(`SELECT count(*)::int AS n FROM ${schema}.candidates`);
    expect(rows[0]?.record).toEqual({ n: 2 });
  });
});
