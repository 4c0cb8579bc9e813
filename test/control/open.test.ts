import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../src/control/index.js';
import { type Control, controlUrl, openControl, requireSqlite } from '../../src/control/open.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const opened: Control[] = [];
async function track(control: Promise<Control>): Promise<Control> {
  const c = await control;
  opened.push(c);
  return c;
}
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

/** The registry's ids, written out by hand: both dialects must record this same history. */
const REGISTRY_IDS = [
  '0001-credentials',
  '0050-server',
  '0051-run-analytics',
  '0052-run-worker',
  '0060-alerts',
  '0300-push',
  '0301-push-run-owner',
  '0302-quarantine-dismiss',
  '0303-quarantine-input-key',
  '0304-quarantine-raw-cleared',
  '0305-push-run-heartbeat',
  '0401-webhooks',
  '0420-run-cancel',
  '0430-push-ledger-account',
  '0440-quarantine-account',
  '0450-flow-pause',
];

const both = (up: string) => ({ up, postgres: up });

describe('a PostgreSQL control store that cannot be reached', () => {
  it('is refused in one line naming the store, without its password', async () => {
    const opening = openControl({
      home: '/nonexistent-ashpipe-home',
      url: 'postgres://ashpipe:hunter2-secret@127.0.0.1:1/ashpipe?schema=ops',
    });
    const error = await opening.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /^the control store at postgres:\/\/ashpipe@127\.0\.0\.1:1\/ashpipe\?schema=ops could not be opened: .*ECONNREFUSED/,
    );
    expect(error?.message).not.toContain('hunter2-secret');
  });
});

describe('controlUrl', () => {
  it('takes --control over ASHPIPE_CONTROL_URL and refuses anything but postgres://', () => {
    const env = { ASHPIPE_CONTROL_URL: 'postgres://a@h/db' };
    expect(controlUrl(undefined, {})).toBeUndefined();
    expect(controlUrl(undefined, { ASHPIPE_CONTROL_URL: '' })).toBeUndefined();
    expect(controlUrl(undefined, env)).toBe('postgres://a@h/db');
    expect(controlUrl('postgresql://b@h/db', env)).toBe('postgresql://b@h/db');
    expect(() => controlUrl('mysql://x', {})).toThrow(/postgres:\/\//);
  });
});

describe.each(controlDialects('the control store on PostgreSQL'))('control store on %s', (dialect) => {
  it('applies the registry: every migration recorded once, under the same ids on both dialects', async () => {
    const target = newControlTarget(dialect);
    await (await openTarget(target)).close();
    const control = await track(openTarget(target));
    expect(control.dialect).toBe(dialect);
    const rows = await control.db.selectFrom('_ashpipe_migrations').select('id').orderBy('id').execute();
    expect(rows.map((r) => r.id)).toEqual(REGISTRY_IDS);
    expect(migrations.map((m) => m.id).sort()).toEqual(REGISTRY_IDS);
  });

  it('stores binary columns and numbers audit entries 1, 2, … as the vault relies on', async () => {
    const control = await track(openTarget(newControlTarget(dialect)));
    const blob = Buffer.from([0, 1, 2, 254, 255]);
    await control.db
      .insertInto('credentials')
      .values({
        id: 'cred_1',
        name: 'prod',
        description: null,
        base_url: null,
        key_ciphertext: blob,
        key_iv: blob,
        key_tag: blob,
        data_key_wrapped: blob,
        data_key_iv: blob,
        data_key_tag: blob,
        key_suffix: 'abcd',
        verified_at: null,
        verification: null,
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
        rotated_at: null,
      })
      .execute();
    const row = await control.db
      .selectFrom('credentials')
      .select(['key_ciphertext', 'status'])
      .executeTakeFirstOrThrow();
    expect(Buffer.isBuffer(row.key_ciphertext)).toBe(true);
    expect([...row.key_ciphertext]).toEqual([0, 1, 2, 254, 255]);
    expect(row.status).toBe('unverified');
    for (const action of ['add', 'reveal']) {
      await control.db
        .insertInto('credential_audit')
        .values({
          at: 'now',
          actor: 'test',
          action,
          credential_id: null,
          credential_name: null,
          purpose: null,
          detail: null,
        })
        .execute();
    }
    const audit = await control.db
      .selectFrom('credential_audit')
      .select(['id', 'outcome'])
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { id: 1, outcome: 'ok' },
      { id: 2, outcome: 'ok' },
    ]);
    const { n } = await control.db
      .selectFrom('credential_audit')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(n).toBe(2);
  });

  it('widened the quarantine status check to dismissed, and still refuses an unknown status', async () => {
    const control = await track(openTarget(newControlTarget(dialect)));
    const entry = (status: string) => ({
      run_id: 'r',
      at: 'now',
      operation: 'candidate.addTag',
      row_number: 1,
      record_key: 'k',
      error_code: 'x',
      error_message: 'm',
      field_path: null,
      request_id: null,
      raw: '{}',
      options: null,
      status,
      closed_at: null,
      input_key: null,
      closed_by: null,
      raw_cleared_at: null,
    });
    await control.db.insertInto('push_quarantine').values(entry('dismissed')).execute();
    await expect(control.db.insertInto('push_quarantine').values(entry('gone')).execute()).rejects.toThrow(
      /check/i,
    );
  });

  it('applies migrations in id order, each exactly once, even when two processes open it together', async () => {
    const target = newControlTarget(dialect);
    const list = [
      { id: '0002-b', ...both("INSERT INTO seen VALUES ('b')") },
      { id: '0001-a', ...both("CREATE TABLE seen (id TEXT); INSERT INTO seen VALUES ('a')") },
    ];
    // Two pools on PostgreSQL are two sessions, as two processes would be.
    const [a, b] = await Promise.all([
      track(openTarget(target, { migrations: list })),
      track(openTarget(target, { migrations: list })),
    ]);
    const seen = await sql<{ id: string }>`SELECT id FROM seen ORDER BY id`.execute(a.db);
    expect(seen.rows).toEqual([{ id: 'a' }, { id: 'b' }]);
    const applied = await b.db.selectFrom('_ashpipe_migrations').select('id').orderBy('id').execute();
    expect(applied).toEqual([{ id: '0001-a' }, { id: '0002-b' }]);
  });

  it('leaves no trace of a migration that fails, and refuses duplicate ids', async () => {
    const target = newControlTarget(dialect);
    await expect(
      openTarget(target, {
        migrations: [
          { id: '0001-bad', ...both('CREATE TABLE half (x INTEGER); SELECT * FROM missing_table') },
        ],
      }),
    ).rejects.toThrow(/missing_table/);
    const control = await track(openTarget(target, { migrations: [] }));
    await expect(sql`SELECT * FROM half`.execute(control.db)).rejects.toThrow(/half/);
    expect(await control.db.selectFrom('_ashpipe_migrations').selectAll().execute()).toEqual([]);
    await expect(
      openTarget(target, {
        migrations: [
          { id: 'x', ...both('') },
          { id: 'x', ...both('') },
        ],
      }),
    ).rejects.toThrow(/duplicate/);
  });

  it('rolls a transaction back when its function throws', async () => {
    const control = await track(
      openTarget(newControlTarget(dialect), {
        migrations: [{ id: '1', ...both('CREATE TABLE t (x INTEGER)') }],
      }),
    );
    await expect(
      control.transaction(async (trx) => {
        await sql`INSERT INTO t VALUES (1)`.execute(trx);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await control.transaction(async (trx) => {
      await sql`INSERT INTO t VALUES (2)`.execute(trx);
    });
    expect((await sql<{ x: number }>`SELECT x FROM t`.execute(control.db)).rows).toEqual([{ x: 2 }]);
  });

  it('serialises writers: read-then-write transactions of two connections lose no update', async () => {
    const target = newControlTarget(dialect);
    const list = [
      { id: '1', ...both('CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)') },
    ];
    const first = await track(openTarget(target, { migrations: list }));
    // better-sqlite3 waits for another connection's lock synchronously, blocking this process's event loop,
    // so on SQLite the two writers share one connection (its mutex queues them); across processes
    // BEGIN IMMEDIATE does the same. PostgreSQL gets two pools, as two processes.
    const second = dialect === 'postgres' ? await track(openTarget(target, { migrations: list })) : first;
    const increment = (control: Control) =>
      control.transaction(async (trx) => {
        const { rows } = await sql<{ n: number }>`SELECT n FROM counter`.execute(trx);
        await new Promise((resolve) => setTimeout(resolve, 30));
        await sql`UPDATE counter SET n = ${(rows[0]?.n ?? 0) + 1}`.execute(trx);
      });
    await Promise.all([increment(first), increment(second), increment(first), increment(second)]);
    expect((await sql<{ n: number }>`SELECT n FROM counter`.execute(first.db)).rows).toEqual([{ n: 4 }]);
  });

  it('tells the modules that need the SQLite connection apart', async () => {
    const control = await track(openTarget(newControlTarget(dialect)));
    if (dialect === 'sqlite') expect(requireSqlite(control, 'the push ledger')).toBe(control.sqlite);
    else
      expect(() => requireSqlite(control, 'the push ledger')).toThrow(
        'the push ledger does not run on a PostgreSQL control store yet; use the SQLite control store (no --control, no ASHPIPE_CONTROL_URL)',
      );
  });
});

describe('PostgreSQL control store', () => {
  const url = controlDialects('the PostgreSQL control store').includes('postgres');
  it.runIf(url)('refuses a migration without a PostgreSQL form, before applying anything', async () => {
    const target = newControlTarget('postgres');
    await expect(
      openControl({
        home: target.home,
        url: target.url ?? '',
        migrations: [
          { id: '0001-ok', ...both('CREATE TABLE ok (x INTEGER)') },
          { id: '0002-sqlite-only', up: 'CREATE TABLE s (x INTEGER)' },
        ],
      }),
    ).rejects.toThrow('control-store migration 0002-sqlite-only has no PostgreSQL form');
    const control = await track(openTarget(target, { migrations: [] }));
    expect(await control.db.selectFrom('_ashpipe_migrations').selectAll().execute()).toEqual([]);
  });

  it.runIf(url)('keeps the password out of where it says it is', async () => {
    const base = new URL(process.env.ASHPIPE_TEST_POSTGRES_URL ?? '');
    const target = newControlTarget('postgres');
    const control = await track(openTarget(target));
    expect(control.location).toContain(new URL(target.url ?? '').searchParams.get('schema'));
    expect(control.location).not.toContain(`:${base.password || 'never-a-password'}@`);
  });
});
