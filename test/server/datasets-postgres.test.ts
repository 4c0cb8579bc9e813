import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

const PG_URL = testPostgresUrl('the PostgreSQL data preview test');

describe.skipIf(!PG_URL)('data preview of a PostgreSQL target', () => {
  const schema = testSchemaName();
  let admin: pg.Client;
  let h: Harness;
  let headers: Record<string, string>;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(
      `CREATE TABLE ${schema}.candidates (id TEXT PRIMARY KEY, name TEXT, _ashpipe_raw JSONB, _ashpipe_deleted_at TIMESTAMPTZ)`,
    );
    for (let i = 0; i < 7; i++)
      await admin.query(`INSERT INTO ${schema}.candidates VALUES ($1, $2, $3, NULL)`, [
        `c${i}`,
        `Name ${i}`,
        JSON.stringify({ id: `c${i}` }),
      ]);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  beforeEach(async () => {
    h = await harness();
    headers = await signedInHeaders(h);
  });
  afterEach(async () => {
    await h.close();
  });

  const call = (method: string, p: string, body?: unknown) =>
    h.request(p, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('pages the synced table in its own schema, bookkeeping columns last, and 404s a missing table', async () => {
    const cred = await (
      await call('POST', '/api/v1/credentials', { name: 'pg', apiKey: 'full-key-12345678' })
    )
      .json()
      .then(asJson);
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'warehouse',
      credentialId: cred.credential.id,
      streams: ['candidates'],
      target: { type: 'postgres', url: PG_URL, schema },
    });
    expect(created.status).toBe(201);
    const { flow } = await created.json().then(asJson);
    const res = await call('GET', `/api/v1/datasets/candidates/preview?flowId=${flow.id}&limit=3&offset=3`);
    expect(res.status).toBe(200);
    const page = await res.json().then(asJson);
    expect(page).toMatchObject({ stream: 'candidates', total: 7, limit: 3, offset: 3 });
    expect(page.columns).toEqual(['id', 'name', '_ashpipe_raw', '_ashpipe_deleted_at']);
    expect(page.rows.map((r: { id: string }) => r.id)).toEqual(['c3', 'c4', 'c5']);
    expect(page.rows[0]._ashpipe_raw).toEqual({ id: 'c3' });
    // Without flowId the first source flow syncing the stream is used.
    const implicit = await (await call('GET', '/api/v1/datasets/candidates/preview?limit=2'))
      .json()
      .then(asJson);
    expect(implicit.rows.map((r: { id: string }) => r.id)).toEqual(['c0', 'c1']);
    expect((await call('GET', `/api/v1/datasets/jobs/preview?flowId=${flow.id}`)).status).toBe(404);
  });
});
