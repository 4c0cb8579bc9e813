import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ControlStore, openControlStore } from '../../src/control/store.js';
import { emptyPushCounts, type PushSummary, type RecordResult } from '../../src/push/engine.js';
import {
  addQuarantine,
  ensurePending,
  getLedgerEntry,
  getQuarantine,
  markInFlight,
  startRun,
} from '../../src/push/ledger.js';
import { IDENTITY_MAPPING } from '../../src/push/mapping.js';
import { OUTCOME_UNKNOWN } from '../../src/push/operations/shared.js';
import { planReplay, type ReplayPush, replayEntries } from '../../src/push/replay.js';
import { removeAll, tempDir } from './helpers.js';

const cleanup: string[] = [];
let store: ControlStore;
let runId: string;

beforeEach(() => {
  store = openControlStore(path.join(tempDir(cleanup), 'home'));
  runId = startRun(store.db, 'candidate.create', 'test.csv', false);
});
afterEach(() => {
  store.close();
  removeAll(cleanup);
});

function quarantine(
  raw: unknown,
  extra: { options?: Record<string, unknown>; code?: string; key?: string } = {},
) {
  const id = addQuarantine(store.db, {
    runId,
    operation: 'candidate.create',
    recordKey: extra.key,
    errorCode: extra.code ?? 'invalid_input',
    errorMessage: 'refused',
    raw,
    ...(extra.options ? { options: extra.options } : {}),
  });
  const entry = getQuarantine(store.db, id);
  if (!entry) throw new Error('entry not stored');
  return entry;
}

/** A `send` that answers each row with the status `statusOf` gives it. */
function fakeSend(statusOf: (row: number) => Partial<RecordResult>, seen: ReplayPush[] = []) {
  return async (push: ReplayPush): Promise<PushSummary> => {
    seen.push(push);
    for (const row of push.rows) push.onResult({ row: row.row, status: 'created', ...statusOf(row.row) });
    return {
      runId: 'r',
      operation: push.operation.name,
      dryRun: false,
      counts: emptyPushCounts(),
      total: push.rows.length,
    };
  };
}

describe('quarantine replay', () => {
  it('plans rows from the stored records, a fixed record replacing its entry’s, and a non-record as a row error', () => {
    const a = quarantine(
      { email: 'a@example.com', name: 'A' },
      { options: { onExisting: 'update', keyColumn: 'email' } },
    );
    const b = quarantine(['not', 'a', 'record']);
    const c = quarantine({ email: 'c@example.com' });
    const plan = planReplay([a, b, c], {
      fixed: new Map([[c.id, { email: 'fixed@example.com', name: 'C' }]]),
    });
    expect(plan.operation.name).toBe('candidate.create');
    expect(plan.onExisting).toBe('update');
    expect(plan.keyColumn).toBe('email');
    expect(plan.mapping).toEqual(IDENTITY_MAPPING);
    expect(plan.rows[0]).toMatchObject({ row: 1, record: { email: 'a@example.com', name: 'A' } });
    expect(plan.rows[1]).toMatchObject({ row: 2, error: expect.stringContaining('not a record') });
    expect(plan.rows[2]).toMatchObject({ row: 3, record: { email: 'fixed@example.com', name: 'C' } });
  });

  it('uses the mapping stored with the entry unless one is given', () => {
    const stored = { ...IDENTITY_MAPPING, columns: { Email: 'email' } };
    const entry = quarantine({ Email: 'a@example.com' }, { options: { mapping: stored } });
    expect(planReplay([entry]).mapping.columns).toEqual({ Email: 'email' });
    expect(planReplay([entry], { mapping: IDENTITY_MAPPING }).mapping).toEqual(IDENTITY_MAPPING);
  });

  it('closes entries applied or quarantined under another entry, keeps those failing again in place open', async () => {
    const applied = quarantine({ email: 'a@example.com' });
    const again = quarantine({ email: 'b@example.com' });
    const moved = quarantine({ email: 'c@example.com' });
    const seen: ReplayPush[] = [];
    const { closed } = await replayEntries(planReplay([applied, again, moved]), {
      db: store.db,
      send: fakeSend(
        (row) =>
          row === 2
            ? { status: 'quarantined', quarantineId: again.id }
            : row === 3
              ? { status: 'quarantined', quarantineId: moved.id + 100 }
              : {},
        seen,
      ),
    });
    expect(closed.sort()).toEqual([applied.id, moved.id].sort());
    expect(getQuarantine(store.db, applied.id)?.status).toBe('replayed');
    expect(getQuarantine(store.db, again.id)?.status).toBe('open');
    expect(getQuarantine(store.db, moved.id)?.status).toBe('replayed');
    expect(seen[0]?.inputLabel).toBe(`quarantine replay ${applied.id},${again.id},${moved.id}`);
  });

  it('a dry run closes nothing and leaves an unknown outcome in flight', async () => {
    ensurePending(store.db, 'candidate.create', 'k1', runId);
    markInFlight(store.db, 'candidate.create', 'k1', runId, 'create', {});
    const entry = quarantine({ email: 'a@example.com' }, { code: OUTCOME_UNKNOWN, key: 'k1' });
    const { closed } = await replayEntries(planReplay([entry]), {
      db: store.db,
      dryRun: true,
      send: fakeSend(() => ({})),
    });
    expect(closed).toEqual([]);
    expect(getQuarantine(store.db, entry.id)?.status).toBe('open');
    expect(getLedgerEntry(store.db, 'candidate.create', 'k1')?.state).toBe('in-flight');
  });

  it('replaying an unknown outcome of an operation with a look-up keeps its ledger entry in flight (so the push reconciles it first), and closes entries even when the push throws', async () => {
    ensurePending(store.db, 'candidate.create', 'k1', runId);
    markInFlight(store.db, 'candidate.create', 'k1', runId, 'create', {});
    const entry = quarantine({ email: 'a@example.com' }, { code: OUTCOME_UNKNOWN, key: 'k1' });
    const send = async (push: ReplayPush): Promise<PushSummary> => {
      push.onResult({ row: 1, status: 'created' });
      throw new Error('stopped');
    };
    await expect(replayEntries(planReplay([entry]), { db: store.db, send })).rejects.toThrow('stopped');
    expect(getLedgerEntry(store.db, 'candidate.create', 'k1')?.state).toBe('in-flight');
    expect(getQuarantine(store.db, entry.id)?.status).toBe('replayed');
  });

  it('an entry of a raw endpoint replays in manual mode', () => {
    const entry = addQuarantine(store.db, {
      runId,
      operation: 'endpoint:candidate.create',
      errorCode: 'invalid_input',
      errorMessage: 'refused',
      raw: { name: 'A' },
    });
    const stored = getQuarantine(store.db, entry);
    if (!stored) throw new Error('entry not stored');
    expect(planReplay([stored]).operation.name).toBe('endpoint:candidate.create');
    expect(planReplay([quarantine({ name: 'B' })]).operation.name).toBe('candidate.create');
  });
});
