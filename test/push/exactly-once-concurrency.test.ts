import os from 'node:os';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { runPush } from '../../src/push/engine.js';
import type { InputRow } from '../../src/push/input.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';
import { FakeAshby } from './fake-ashby.js';

const candidateCreate = findOperation('candidate.create') as Operation;

function rows(records: Array<Record<string, unknown>>): InputRow[] {
  return records.map((record, i) => ({ row: i + 1, record, raw: record }));
}

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

describe.each(controlDialects('the push ledger on PostgreSQL'))(
  'push engine on %s: two runs on one ledger',
  (dialect) => {
    it('never lets two runs of one operation work on the same ledger at once', async () => {
      // On PostgreSQL two pools on one store, as two processes would have. On SQLite one connection: two
      // connections of one thread would wait for each other's write lock synchronously (two processes
      // do not; test/push/two-processes.test.ts runs those).
      const target = newControlTarget(dialect);
      const a = await openTarget(target);
      const b = dialect === 'postgres' ? await openTarget(target) : a;
      opened.push(...new Set([a, b]));
      const ashby = new FakeAshby();
      const input = Array.from({ length: 6 }, (_, i) => ({ name: `C ${i}`, email: `c${i}@example.com` }));
      const run = (control: Control) =>
        runPush({
          client: ashby,
          control,
          operation: candidateCreate,
          rows: rows(input),
          concurrency: 2,
          reconcileDelayMs: 0,
        });
      const outcomes = await Promise.allSettled([run(a), run(b)]);
      for (const email of input.map((r) => r.email)) expect(ashby.createsByEmail.get(email)).toBe(1);
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(
        /another push of candidate\.create/,
      );
      // Once the first run has finished, the next one may start and finds every record done.
      const again = await run(b);
      expect(again.counts['skipped-done']).toBe(6);
    });

    it('takes over the ledger from a run whose process died', async () => {
      const control = await openTarget(newControlTarget(dialect));
      opened.push(control);
      // A run that never finished, owned by a process that no longer exists.
      await sql`INSERT INTO push_runs (id, operation, input, dry_run, started_at, pid, host)
      VALUES ('dead-run', 'candidate.create', 'x', 0, '2024-01-01T00:00:00Z', 2147483646, ${os.hostname()})`.execute(
        control.db,
      );
      const summary = await runPush({
        client: new FakeAshby(),
        control,
        operation: candidateCreate,
        rows: rows([{ name: 'Ada', email: 'ada@example.com' }]),
        reconcileDelayMs: 0,
      });
      expect(summary.counts.created).toBe(1);
      const dead = await sql<{
        outcome: string;
      }>`SELECT outcome FROM push_runs WHERE id = 'dead-run'`.execute(control.db);
      expect(dead.rows).toEqual([{ outcome: 'abandoned' }]);
    });

    it('a run whose ledger was taken over sends nothing more: the rest of its input stays pending', async () => {
      const control = await openTarget(newControlTarget(dialect));
      opened.push(control);
      const ashby = new FakeAshby();
      const input = Array.from({ length: 4 }, (_, i) => ({ name: `T ${i}`, email: `t${i}@example.com` }));
      let takenOver: Promise<unknown> | undefined;
      const statuses: string[] = [];
      const summary = await runPush({
        client: ashby,
        control,
        operation: candidateCreate,
        rows: rows(input),
        concurrency: 1,
        reconcileDelayMs: 0,
        onResult: (r) => {
          statuses.push(r.status);
          // After the first record, another process marks this run abandoned (it took the ledger over).
          takenOver ??=
            sql`UPDATE push_runs SET finished_at = '2026-01-01T00:00:00.000Z', outcome = 'abandoned'`.execute(
              control.db,
            );
        },
      });
      await takenOver;
      expect(ashby.writes.map((w) => w.body.email)).toEqual(['t0@example.com']);
      expect(statuses).toEqual(['created', 'pending', 'pending', 'pending']);
      expect(summary.stopped?.message).toMatch(/no longer owns the ledger/);
      const ledger = await control.db
        .selectFrom('push_ledger')
        .select(['record_key', 'state'])
        .orderBy('record_key')
        .execute();
      expect(ledger.filter((r) => r.state === 'in-flight')).toEqual([]);
    });
  },
);
