/**
 * Business times as typed columns: timestamptz and date in PostgreSQL (a value that does not parse is NULL,
 * never a failed page), ISO text in SQLite; text columns of earlier versions converted when the sink opens.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Sink, StreamShape } from '../../src/sinks/index.js';
import { isDate, isTimestamp, temporalTypeOf } from '../../src/sinks/layout.js';
import { testPostgresUrl } from '../support/postgres.js';
import { KINDS, opened, raws } from './harness.js';

const PG_URL = testPostgresUrl('the typed time column tests');
const offers: StreamShape = { name: 'offers', primaryKey: ['id'] };
const state = { passId: 'p1', passKind: 'full' as const };

const records = [
  {
    id: 'o1',
    createdAt: '2024-05-01T09:30:00.000Z',
    updatedAt: '2024-05-02T10:00:00+02:00',
    archivedAt: null,
    startDate: '2024-06-03',
    decidedAt: '2024-02-30T00:00:00Z',
    salary: 120000,
    ratio: 0.5,
    isArchived: false,
    status: 'Approved',
  },
  {
    id: 'o2',
    createdAt: 'yesterday',
    updatedAt: '2024-05-03T00:00:00Z',
    archivedAt: '2024-12-31T23:59:59.999Z',
    startDate: '2024-13-01',
    decidedAt: '2024-02-29T12:00:00Z',
    salary: 1.5,
    ratio: 2,
    isArchived: true,
    status: 'Draft',
  },
];

async function pgQuery(target: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const url = new URL(target);
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

const schemaOf = (target: string): string => new URL(target).searchParams.get('schema') ?? 'public';

describe('the field-name rule', () => {
  it('takes …At, …Time and …Timestamp as timestamps and …Date by its first value', () => {
    expect(temporalTypeOf('createdAt', 'x')).toBe('timestamp');
    expect(temporalTypeOf('startTime', '2024-01-01T00:00:00Z')).toBe('timestamp');
    expect(temporalTypeOf('startDate', '2024-01-01')).toBe('date');
    expect(temporalTypeOf('startDate', '2024-01-01T00:00:00Z')).toBe('timestamp');
    expect(temporalTypeOf('startDate', 'soon')).toBeUndefined();
    expect(temporalTypeOf('format', '2024-01-01')).toBeUndefined();
    expect(temporalTypeOf('seatAtTable', 'x')).toBeUndefined();
  });

  it('parses ISO timestamps with a zone and calendar dates only', () => {
    expect(isTimestamp('2024-02-29T12:00:00Z')).toBe(true);
    expect(isTimestamp('2024-05-02T10:00:00.123456+02:00')).toBe(true);
    expect(isTimestamp('2023-02-29T12:00:00Z')).toBe(false);
    expect(isTimestamp('2024-05-02T10:00:00')).toBe(false);
    expect(isTimestamp('0000-01-01T00:00:00Z')).toBe(false);
    expect(isDate('2024-04-30')).toBe(true);
    expect(isDate('2024-04-31')).toBe(false);
  });
});

for (const kind of KINDS.filter((k) => k.kind !== 'jsonl')) {
  describe.skipIf(kind.skip)(`typed time columns (${kind.kind})`, () => {
    const sinks: Sink[] = [];
    afterEach(async () => {
      for (const s of sinks.splice(0)) await s.close();
    });
    afterAll(() => kind.cleanup());

    it('stores business times typed (PostgreSQL) or as the ISO text received (SQLite); bad ones never fail the page', async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      const result = await sink.upsertPage(offers, records, state);
      expect(result.inserted).toBe(2);
      const rows = await sink.readRows('offers');
      const pick = (r: Record<string, unknown>) => ({
        created_at: r.created_at,
        updated_at: r.updated_at,
        archived_at: r.archived_at,
        start_date: r.start_date,
        decided_at: r.decided_at,
        salary: r.salary,
        ratio: r.ratio,
        is_archived: r.is_archived,
      });
      if (kind.kind === 'sqlite') {
        expect(rows.map(pick)).toEqual([
          {
            created_at: '2024-05-01T09:30:00.000Z',
            updated_at: '2024-05-02T10:00:00+02:00',
            archived_at: null,
            start_date: '2024-06-03',
            decided_at: '2024-02-30T00:00:00Z',
            salary: 120000,
            ratio: 0.5,
            is_archived: false,
          },
          {
            created_at: 'yesterday',
            updated_at: '2024-05-03T00:00:00Z',
            archived_at: '2024-12-31T23:59:59.999Z',
            start_date: '2024-13-01',
            decided_at: '2024-02-29T12:00:00Z',
            salary: null,
            ratio: 2,
            is_archived: true,
          },
        ]);
        return;
      }
      expect(rows.map(pick)).toEqual([
        {
          created_at: '2024-05-01T09:30:00.000Z',
          updated_at: '2024-05-02T08:00:00.000Z',
          archived_at: null,
          start_date: '2024-06-03',
          decided_at: null,
          salary: 120000,
          ratio: 0.5,
          is_archived: false,
        },
        {
          created_at: null,
          updated_at: '2024-05-03T00:00:00.000Z',
          archived_at: '2024-12-31T23:59:59.999Z',
          start_date: null,
          decided_at: '2024-02-29T12:00:00.000Z',
          salary: null,
          ratio: 2,
          is_archived: true,
        },
      ]);
      // The raw JSON keeps what did not parse.
      expect(raws(rows).map((r) => (r as Record<string, unknown>).createdAt)).toEqual([
        '2024-05-01T09:30:00.000Z',
        'yesterday',
      ]);
      const { rows: columns } = await pgQuery(
        target,
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'offers' ORDER BY column_name`,
        [schemaOf(target)],
      );
      const types = Object.fromEntries(columns.map((c) => [c.column_name, c.data_type]));
      expect(types).toMatchObject({
        id: 'text',
        created_at: 'timestamp with time zone',
        updated_at: 'timestamp with time zone',
        archived_at: 'timestamp with time zone',
        decided_at: 'timestamp with time zone',
        start_date: 'date',
        salary: 'bigint',
        ratio: 'double precision',
        is_archived: 'boolean',
        status: 'text',
        _ashpipe_synced_at: 'timestamp with time zone',
      });
      // Typed, so the database compares times, not strings.
      const { rows: later } = await pgQuery(
        target,
        `SELECT id FROM "${schemaOf(target)}".offers WHERE updated_at > '2024-05-02T09:00:00Z' ORDER BY id`,
      );
      expect(later.map((r) => r.id)).toEqual(['o2']);
    });
  });
}

describe.skipIf(!PG_URL)('text time columns of an earlier version (postgres)', () => {
  const kind = KINDS.find((k) => k.kind === 'postgres');
  const sinks: Sink[] = [];
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
  });
  afterAll(() => kind?.cleanup());

  it('are converted when the sink opens; what does not parse becomes NULL', async () => {
    if (!kind) throw new Error('no postgres kind');
    const target = await kind.target();
    const schema = schemaOf(target);
    const s = `"${schema}"`;
    // The layout an earlier version wrote: every string a text column.
    const first = await opened(target, sinks);
    await first.close();
    sinks.length = 0;
    await pgQuery(
      target,
      `CREATE TABLE ${s}.offers (id text NOT NULL PRIMARY KEY, created_at text, start_date text, title text,
        "_ashpipe_raw" jsonb NOT NULL, "_ashpipe_synced_at" timestamptz NOT NULL, "_ashpipe_deleted_at" timestamptz,
        "_ashpipe_pass_id" text, "_ashpipe_seen_seq" bigint)`,
    );
    await pgQuery(
      target,
      `INSERT INTO ${s}."_ashpipe_columns" (stream, field, column_name, type, position, key_position) VALUES
        ('offers', 'id', 'id', 'text', 0, 0), ('offers', 'createdAt', 'created_at', 'text', 1, NULL),
        ('offers', 'startDate', 'start_date', 'text', 2, NULL), ('offers', 'title', 'title', 'text', 3, NULL)`,
    );
    await pgQuery(
      target,
      `INSERT INTO ${s}.offers (id, created_at, start_date, title, "_ashpipe_raw", "_ashpipe_synced_at") VALUES
        ('o1', '2024-05-01T09:30:00Z', '2024-06-03', 'Offer', '{"id":"o1"}', now()),
        ('o2', 'not a time', '2024-02-30', 'Updated at noon', '{"id":"o2"}', now()),
        ('o3', '2023-02-29T00:00:00Z', NULL, NULL, '{"id":"o3"}', now())`,
    );
    const sink = await opened(target, sinks);
    const { rows: columns } = await pgQuery(
      target,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'offers' AND column_name IN ('created_at', 'start_date', 'title') ORDER BY column_name`,
      [schema],
    );
    expect(columns.map((c) => [c.column_name, c.data_type])).toEqual([
      ['created_at', 'timestamp with time zone'],
      ['start_date', 'date'],
      ['title', 'text'],
    ]);
    const rows = await sink.readRows('offers');
    expect(rows.map((r) => [r.id, r.created_at, r.start_date, r.title])).toEqual([
      ['o1', '2024-05-01T09:30:00.000Z', '2024-06-03', 'Offer'],
      ['o2', null, null, 'Updated at noon'],
      ['o3', null, null, null],
    ]);
    // The next page writes typed values into the converted columns.
    await sink.upsertPage(
      offers,
      [{ id: 'o4', createdAt: '2025-01-01T00:00:00Z', startDate: '2025-02-01', title: 'New' }],
      state,
    );
    const o4 = (await sink.readRows('offers')).find((r) => r.id === 'o4');
    expect([o4?.created_at, o4?.start_date]).toEqual(['2025-01-01T00:00:00.000Z', '2025-02-01']);
    const { rows: map } = await pgQuery(
      target,
      `SELECT field, type FROM ${s}."_ashpipe_columns" WHERE stream = 'offers' ORDER BY position`,
    );
    expect(map.map((r) => [r.field, r.type])).toEqual([
      ['id', 'text'],
      ['createdAt', 'timestamp'],
      ['startDate', 'date'],
      ['title', 'text'],
    ]);
  });
});
