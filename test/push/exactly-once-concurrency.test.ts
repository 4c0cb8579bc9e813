import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ControlStore, openControlStore } from '../../src/control/store.js';
import { runPush } from '../../src/push/engine.js';
import type { InputRow } from '../../src/push/input.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { FakeAshby } from './fake-ashby.js';

const candidateCreate = findOperation('candidate.create') as Operation;

function rows(records: Array<Record<string, unknown>>): InputRow[] {
  return records.map((record, i) => ({ row: i + 1, record, raw: record }));
}

describe('push engine: two runs on one ledger', () => {
  it('never lets two runs of one operation work on the same ledger at once', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    const a = openControlStore(home);
    const b = openControlStore(home);
    const ashby = new FakeAshby();
    try {
      const input = Array.from({ length: 6 }, (_, i) => ({ name: `C ${i}`, email: `c${i}@example.com` }));
      const run = (store: ControlStore) =>
        runPush({
          client: ashby,
          db: store.db,
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
    } finally {
      a.close();
      b.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('takes over the ledger from a run whose process died', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    const store = openControlStore(home);
    try {
      // A run that never finished, owned by a process that no longer exists.
      store.db
        .prepare(
          `INSERT INTO push_runs (id, operation, input, dry_run, started_at, pid, host)
           VALUES ('dead-run', 'candidate.create', 'x', 0, '2024-01-01T00:00:00Z', 2147483646, ?)`,
        )
        .run(os.hostname());
      const summary = await runPush({
        client: new FakeAshby(),
        db: store.db,
        operation: candidateCreate,
        rows: rows([{ name: 'Ada', email: 'ada@example.com' }]),
        reconcileDelayMs: 0,
      });
      expect(summary.counts.created).toBe(1);
      const dead = store.db.prepare("SELECT outcome FROM push_runs WHERE id = 'dead-run'").get() as {
        outcome: string;
      };
      expect(dead.outcome).toBe('abandoned');
    } finally {
      store.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
