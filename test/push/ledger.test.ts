/**
 * The exactly-once ledger, the push runs and the quarantine on both control-store dialects: the same
 * states, the same guards, and the read-then-write steps safe with several writers (on PostgreSQL, several
 * pools on one schema, as several processes would have).
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import {
  addQuarantine,
  clearExpiredQuarantineInput,
  ensurePending,
  finishRun,
  getLedgerEntry,
  getQuarantine,
  ledgerCounts,
  listQuarantine,
  markDone,
  markInFlight,
  markNotSent,
  type NewQuarantineEntry,
  PushRunConflictError,
  RUN_LEASE_MS,
  resolveByInput,
  startRun,
} from '../../src/push/ledger.js';
import { OUTCOME_UNKNOWN } from '../../src/push/operations/shared.js';
import { ConflictError } from '../../src/server/errors.js';
import { LedgerQuarantineService } from '../../src/server/quarantine.js';
import {
  type ControlTarget,
  controlDialects,
  newControlTarget,
  openTarget,
  removeControlTargets,
} from '../support/control.js';

const OP = 'candidate.create';
const opened: Control[] = [];
async function open(target: ControlTarget): Promise<Control> {
  const c = await openTarget(target);
  opened.push(c);
  return c;
}
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

/**
 * Writers for one store: on PostgreSQL `n` pools; on SQLite one connection (two connections of one thread
 * would wait for each other's write lock synchronously, which two processes never do).
 */
async function writers(target: ControlTarget, n: number): Promise<Control[]> {
  if (target.dialect === 'sqlite') {
    const one = await open(target);
    return Array.from({ length: n }, () => one);
  }
  return Promise.all(Array.from({ length: n }, () => open(target)));
}

const entry = (runId: string, extra: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
  runId,
  operation: OP,
  errorCode: 'invalid_record',
  errorMessage: 'email: not an email address',
  raw: { name: 'Ada', email: 'nope' },
  ...extra,
});

describe.each(controlDialects('the push ledger on PostgreSQL'))('push ledger on %s', (dialect) => {
  it('walks a record pending → in-flight → done, counting attempts, and never back to pending once done', async () => {
    const control = await open(newControlTarget(dialect));
    const run = await startRun(control, OP, 'in.csv', false);
    expect(await ensurePending(control.db, OP, 'key:a', run)).toMatchObject({
      state: 'pending',
      attempts: 0,
      runId: run,
      stepData: {},
    });
    expect(await markInFlight(control.db, OP, 'key:a', run, 'create', { before: ['x'] })).toBe(true);
    // A definite refusal puts it back; the next attempt counts again.
    await markNotSent(control.db, OP, 'key:a', 'pending', null);
    expect(await markInFlight(control.db, OP, 'key:a', run, 'create', { before: [] })).toBe(true);
    expect(await getLedgerEntry(control.db, OP, 'key:a')).toMatchObject({
      state: 'in-flight',
      step: 'create',
      stepData: { before: [] },
      attempts: 2,
    });
    await markDone(control.db, OP, 'key:a', 'cand-1', 'created');
    // ensurePending of a known record returns it as it is: a rerun skips it.
    expect(await ensurePending(control.db, OP, 'key:a', 'another-run')).toMatchObject({
      state: 'done',
      ashbyId: 'cand-1',
      status: 'created',
      stepData: { before: [] },
      runId: run,
    });
    // A done record is never marked in flight again: nothing could send it twice.
    expect(await markInFlight(control.db, OP, 'key:a', run, 'create', {})).toBe(false);
    expect((await getLedgerEntry(control.db, OP, 'key:a'))?.state).toBe('done');
    expect(await ledgerCounts(control.db, OP)).toEqual({ pending: 0, 'in-flight': 0, done: 1, failed: 0 });
  });

  it('a run whose ledger was taken over cannot mark a record in flight', async () => {
    const control = await open(newControlTarget(dialect));
    const run = await startRun(control, OP, 'in.csv', false);
    await ensurePending(control.db, OP, 'key:b', run);
    // Another process found the run's owner dead and marked the run abandoned.
    await sql`UPDATE push_runs SET finished_at = '2026-01-01T00:00:00.000Z', outcome = 'abandoned' WHERE id = ${run}`.execute(
      control.db,
    );
    expect(await markInFlight(control.db, OP, 'key:b', run, 'create', {})).toBe(false);
    expect(await getLedgerEntry(control.db, OP, 'key:b')).toMatchObject({ state: 'pending', attempts: 0 });
  });

  it('of runs started at once on one operation, exactly one gets the ledger; others may start after it', async () => {
    const target = newControlTarget(dialect);
    const pools = await writers(target, 4);
    const started = await Promise.allSettled(pools.map((c) => startRun(c, OP, 'in.csv', false)));
    const won = started.filter((s) => s.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const s of started.filter((s) => s.status === 'rejected'))
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(PushRunConflictError);
    // Another operation has its own ledger; a dry run owns nothing.
    await expect(startRun(pools[1] as Control, 'candidate.update', 'in.csv', false)).resolves.toBeTypeOf(
      'string',
    );
    await expect(startRun(pools[2] as Control, OP, 'in.csv', true)).resolves.toBeTypeOf('string');
    await finishRun(
      (pools[0] as Control).db,
      (won[0] as PromiseFulfilledResult<string>).value,
      'finished',
      {},
    );
    await expect(startRun(pools[3] as Control, OP, 'in.csv', false)).resolves.toBeTypeOf('string');
  });

  it('a run on another machine counts as dead once its heartbeat is older than the lease, not before', async () => {
    const control = await open(newControlTarget(dialect));
    const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    for (const [id, operation, heartbeat] of [
      ['far-stale', OP, at(RUN_LEASE_MS + 5_000)],
      ['far-fresh', 'candidate.update', at(1_000)],
    ] as const)
      await sql`INSERT INTO push_runs (id, operation, input, dry_run, started_at, pid, host, heartbeat_at)
        VALUES (${id}, ${operation}, 'x', 0, ${at(RUN_LEASE_MS * 2)}, 1, 'elsewhere.example', ${heartbeat})`.execute(
        control.db,
      );
    await expect(startRun(control, OP, 'in.csv', false)).resolves.toBeTypeOf('string');
    await expect(startRun(control, 'candidate.update', 'in.csv', false)).rejects.toThrow(
      /another push of candidate\.update is running on this ledger \(run far-fresh, pid 1 on elsewhere\.example\)/,
    );
    const outcomes = await sql<{ id: string; outcome: string | null }>`
      SELECT id, outcome FROM push_runs WHERE host = 'elsewhere.example' ORDER BY id`.execute(control.db);
    expect(outcomes.rows).toEqual([
      { id: 'far-fresh', outcome: null },
      { id: 'far-stale', outcome: 'abandoned' },
    ]);
  });

  it('quarantining one record from several writers at once keeps one entry, with the latest error', async () => {
    const target = newControlTarget(dialect);
    const pools = await writers(target, 3);
    const ids = await Promise.all(
      pools.map((c, i) =>
        addQuarantine(c, entry(`run-${i}`, { recordKey: 'key:x', errorMessage: `refused ${i}` })),
      ),
    );
    expect(new Set(ids).size).toBe(1);
    const all = await listQuarantine((pools[0] as Control).db, { status: 'all' });
    expect(all).toHaveLength(1);
    expect(['refused 0', 'refused 1', 'refused 2']).toContain(all[0]?.errorMessage);
    expect(all[0]).toMatchObject({
      id: ids[0],
      status: 'open',
      recordKey: 'key:x',
      raw: { name: 'Ada', email: 'nope' },
    });
  });

  it('a corrected record at the same place updates its entry; an unknown outcome keeps its own', async () => {
    const control = await open(newControlTarget(dialect));
    const unknown = await addQuarantine(
      control,
      entry('r0', { recordKey: 'sha256:0', inputKey: 'key:7', errorCode: OUTCOME_UNKNOWN }),
    );
    const first = await addQuarantine(control, entry('r1', { recordKey: 'sha256:1', inputKey: 'key:7' }));
    expect(first).not.toBe(unknown);
    const again = await addQuarantine(
      control,
      entry('r2', { recordKey: 'sha256:2', inputKey: 'key:7', errorMessage: 'name: required' }),
    );
    expect(again).toBe(first);
    expect(await getQuarantine(control.db, first)).toMatchObject({
      runId: 'r2',
      recordKey: 'sha256:2',
      inputKey: 'key:7',
      errorMessage: 'name: required',
    });
    // The record applied at that place closes the refused entry, never the unknown outcome.
    expect(await resolveByInput(control.db, OP, 'key:7', 'push run r4')).toEqual([first]);
    expect(await getQuarantine(control.db, first)).toMatchObject({
      status: 'resolved',
      closedBy: 'push run r4',
    });
    expect((await getQuarantine(control.db, unknown))?.status).toBe('open');
  });

  it('clears the raw input of entries past the retention, keeping the entries and younger inputs', async () => {
    const control = await open(newControlTarget(dialect));
    const old = await addQuarantine(
      control,
      entry('r1', { recordKey: 'old', raw: { email: 'old.person@example.com' } }),
    );
    const young = await addQuarantine(
      control,
      entry('r1', { recordKey: 'young', raw: { email: 'young@example.com' } }),
    );
    await sql`UPDATE push_quarantine SET at = '2026-01-01T00:00:00.000Z' WHERE id = ${old}`.execute(
      control.db,
    );
    const now = new Date('2026-01-10T00:00:00.000Z');
    expect(await clearExpiredQuarantineInput(control, 5, now)).toBe(1);
    expect(await getQuarantine(control.db, old)).toMatchObject({
      raw: null,
      rawClearedAt: '2026-01-10T00:00:00.000Z',
      errorMessage: 'email: not an email address',
    });
    expect((await getQuarantine(control.db, young))?.raw).toEqual({ email: 'young@example.com' });
    expect(await clearExpiredQuarantineInput(control, 5, now)).toBe(0);
    const raws = await sql<{ raw: string }>`SELECT raw FROM push_quarantine ORDER BY id`.execute(control.db);
    expect(raws.rows.map((r) => r.raw)).toEqual(['null', '{"email":"young@example.com"}']);
  });

  it('closing one entry by hand from two writers: one closes it, the other is told it is closed', async () => {
    const target = newControlTarget(dialect);
    const [a, b] = await writers(target, 2);
    const id = await addQuarantine(a as Control, entry('r1', { recordKey: 'key:c' }));
    const closes = await Promise.allSettled([
      new LedgerQuarantineService(a as Control).close(String(id), 'dismissed', 'console'),
      new LedgerQuarantineService(b as Control).close(String(id), 'resolved', 'API token t1'),
    ]);
    const ok = closes.filter((c) => c.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    expect((closes.find((c) => c.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(
      ConflictError,
    );
    const item = (ok[0] as PromiseFulfilledResult<{ status: string; closedBy?: string }>).value;
    expect((await getQuarantine((a as Control).db, id))?.status).toBe(item.status);
    expect(item.closedBy).toBe(item.status === 'dismissed' ? 'console' : 'API token t1');
  });
});
