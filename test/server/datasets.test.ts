/**
 * The console's data preview reads every kind of target through its sink: the current records (a JSONL
 * change log replayed, not shown line by line), live rows counted apart from soft-deleted ones,
 * `custom_field_values` like any table, business columns before the `_ashpipe_*` bookkeeping.
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetString } from '../../src/server/engines.js';
import { openSink, type StreamShape, type StreamState } from '../../src/sinks/index.js';
import { clearSecrets } from '../../src/util/redact.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

const PG_URL = testPostgresUrl('the PostgreSQL data preview tests');
const schema = testSchemaName();

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const full = (passId: string): StreamState => ({ passId, passKind: 'full' });

type TargetCase = { kind: string; target: (data: string) => Record<string, unknown> };
const targets: TargetCase[] = [
  { kind: 'sqlite', target: (data) => ({ type: 'sqlite', path: path.join(data, 'ashby.db') }) },
  { kind: 'jsonl', target: (data) => ({ type: 'jsonl', path: path.join(data, 'export') }) },
  ...(PG_URL ? [{ kind: 'postgres', target: () => ({ type: 'postgres', url: PG_URL, schema }) }] : []),
];

afterAll(async () => {
  if (!PG_URL) return;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe.each(targets)('data preview of a $kind target', ({ kind, target }) => {
  let h: Harness;
  let headers: Record<string, string>;
  let flowId: string;

  beforeEach(async () => {
    clearSecrets();
    h = await harness();
    headers = await signedInHeaders(h);
    if (kind === 'postgres') {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
    const cred = await (
      await h.request('/api/v1/credentials', {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'prod', apiKey: 'full-key-12345678' }),
      })
    )
      .json()
      .then(asJson);
    const created = await h.request('/api/v1/flows', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        kind: 'source',
        name: 'warehouse',
        credentialId: cred.credential.id,
        streams: ['candidates'],
        target: target(h.data),
      }),
    });
    expect(created.status).toBe(201);
    flowId = (await created.json().then(asJson)).flow.id;
  });
  afterEach(async () => {
    await h.close();
  });

  const get = async (p: string) => {
    const res = await h.request(p, { headers });
    return { status: res.status, body: await res.json().then(asJson) };
  };

  /** Two candidates; a second full pass changes one and no longer lists the other. */
  async function syncTwoThenDeleteOne(): Promise<void> {
    // The test writes through the sink the flow's own target string opens, as a run of the flow would.
    const sink = openSink(targetString(asJson(target(h.data))));
    await sink.open();
    try {
      await sink.upsertPage(
        candidates,
        [
          { id: 'a', name: 'Ada', customFields: [{ id: 'f1', title: 'Level', value: 'Senior' }] },
          { id: 'b', name: 'Bo', customFields: [{ id: 'f1', title: 'Level', value: 3 }] },
        ],
        full('p1'),
      );
      await sink.finishFullPass(candidates, 'p1', full('p1'));
      await sink.beginPass('candidates', 'p2');
      await sink.upsertPage(
        candidates,
        [{ id: 'a', name: 'Ada L.', customFields: [{ id: 'f1', title: 'Level', value: 'Staff' }] }],
        full('p2'),
      );
      expect((await sink.finishFullPass(candidates, 'p2', full('p2'))).deleted).toBe(1);
    } finally {
      await sink.close();
    }
  }

  it('shows the current records: 2 records, 1 deleted → total 1, the deleted one only when asked', async () => {
    expect((await get(`/api/v1/datasets?flowId=${flowId}`)).body.tables).toEqual([]);
    expect((await get(`/api/v1/datasets/candidates/preview?flowId=${flowId}`)).status).toBe(404);
    await syncTwoThenDeleteOne();

    const live = await get(`/api/v1/datasets/candidates/preview?flowId=${flowId}`);
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ stream: 'candidates', total: 1, deleted: 1, limit: 50, offset: 0 });
    expect(live.body.rows).toHaveLength(1);
    expect(live.body.rows[0]).toMatchObject({ id: 'a', name: 'Ada L.', _ashpipe_deleted_at: null });
    expect(live.body.rows[0]._ashpipe_raw).toEqual({
      id: 'a',
      name: 'Ada L.',
      customFields: [{ id: 'f1', title: 'Level', value: 'Staff' }],
    });
    // Business columns first, bookkeeping last.
    const columns: string[] = live.body.columns;
    expect(columns[0]).toBe('id');
    const firstBookkeeping = columns.findIndex((c) => c.startsWith('_ashpipe_'));
    expect(firstBookkeeping).toBeGreaterThan(0);
    expect(columns.slice(firstBookkeeping).every((c) => c.startsWith('_ashpipe_'))).toBe(true);
    expect(columns.slice(0, firstBookkeeping)).toEqual(expect.arrayContaining(['id', 'name']));
    expect(columns).toContain('_ashpipe_raw');

    const all = await get(`/api/v1/datasets/candidates/preview?flowId=${flowId}&includeDeleted=true`);
    expect(all.body).toMatchObject({ total: 2, deleted: 1 });
    expect(all.body.rows.map((r: { id: string }) => r.id)).toEqual(['a', 'b']);
    expect(all.body.rows[1]._ashpipe_deleted_at).toEqual(expect.any(String));
    expect(all.body.rows[1].name).toBe('Bo');

    expect(
      (await get(`/api/v1/datasets/candidates/preview?flowId=${flowId}&includeDeleted=maybe`)).status,
    ).toBe(422);
  });

  it('lists the tables with their counts and previews custom_field_values as plain values of live records', async () => {
    await syncTwoThenDeleteOne();
    const tables = await get(`/api/v1/datasets?flowId=${flowId}`);
    expect(tables.status).toBe(200);
    expect(tables.body.tables).toEqual([
      { name: 'candidates', rows: 1, deleted: 1 },
      { name: 'custom_field_values', rows: 1, deleted: 0 },
    ]);
    const values = await get(`/api/v1/datasets/custom_field_values/preview?flowId=${flowId}`);
    expect(values.status).toBe(200);
    expect(values.body).toMatchObject({ total: 1, deleted: 0 });
    expect(values.body.columns).toEqual(['object_type', 'object_id', 'field_id', 'title', 'value']);
    expect(values.body.rows).toEqual([
      { object_type: 'Candidate', object_id: 'a', field_id: 'f1', title: 'Level', value: 'Staff' },
    ]);
  });

  it('pages in key order and refuses names that are not stream names', async () => {
    const sink = openSink(targetString(asJson(target(h.data))));
    await sink.open();
    try {
      await sink.upsertPage(
        candidates,
        Array.from({ length: 7 }, (_, i) => ({ id: `c${i}`, name: `Name ${i}` })),
        full('p1'),
      );
    } finally {
      await sink.close();
    }
    const page = await get(`/api/v1/datasets/candidates/preview?flowId=${flowId}&limit=3&offset=3`);
    expect(page.body).toMatchObject({ total: 7, limit: 3, offset: 3 });
    expect(page.body.rows.map((r: { id: string }) => r.id)).toEqual(['c3', 'c4', 'c5']);
    expect((await get(`/api/v1/datasets/jobs/preview?flowId=${flowId}`)).status).toBe(404);
    expect((await get(`/api/v1/datasets/candidates%3Bdrop/preview?flowId=${flowId}`)).status).toBe(422);
    expect((await get('/api/v1/datasets')).status).toBe(422);
    expect((await get('/api/v1/datasets?flowId=flow_nope')).status).toBe(404);
  });
});
