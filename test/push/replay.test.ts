import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
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
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

let control: Control;
let runId: string;

async function quarantine(
  raw: unknown,
  extra: { options?: Record<string, unknown>; code?: string; key?: string } = {},
) {
  const id = await addQuarantine(control, {
    runId,
    operation: 'candidate.create',
    recordKey: extra.key,
    errorCode: extra.code ?? 'invalid_input',
    errorMessage: 'refused',
    raw,
    ...(extra.options ? { options: extra.options } : {}),
  });
  const entry = await getQuarantine(control.db, id);
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

describe.each(controlDialects('the push quarantine on PostgreSQL'))('quarantine replay on %s', (dialect) => {
  beforeEach(async () => {
    control = await openTarget(newControlTarget(dialect));
    runId = await startRun(control, 'candidate.create', 'test.csv', false);
  });
  afterEach(async () => {
    await control.close();
    await removeControlTargets();
  });

  it('plans rows from the stored records, a fixed record replacing its entry’s, and a non-record as a row error', async () => {
    const a = await quarantine(
      { email: 'a@example.com', name: 'A' },
      { options: { onExisting: 'update', keyColumn: 'email' } },
    );
    const b = await quarantine(['not', 'a', 'record']);
    const c = await quarantine({ email: 'c@example.com' });
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

  it('uses the mapping stored with the entry unless one is given', async () => {
    const stored = { ...IDENTITY_MAPPING, columns: { Email: 'email' } };
    const entry = await quarantine({ Email: 'a@example.com' }, { options: { mapping: stored } });
    expect(planReplay([entry]).mapping.columns).toEqual({ Email: 'email' });
    expect(planReplay([entry], { mapping: IDENTITY_MAPPING }).mapping).toEqual(IDENTITY_MAPPING);
  });

  it('closes entries applied or quarantined under another entry, keeps those failing again in place open', async () => {
    const applied = await quarantine({ email: 'a@example.com' });
    const again = await quarantine({ email: 'b@example.com' });
    const moved = await quarantine({ email: 'c@example.com' });
    const seen: ReplayPush[] = [];
    const { closed } = await replayEntries(planReplay([applied, again, moved]), {
      control,
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
    expect((await getQuarantine(control.db, applied.id))?.status).toBe('replayed');
    expect((await getQuarantine(control.db, again.id))?.status).toBe('open');
    expect((await getQuarantine(control.db, moved.id))?.status).toBe('replayed');
    expect(seen[0]?.inputLabel).toBe(`quarantine replay ${applied.id},${again.id},${moved.id}`);
  });

  it('a dry run closes nothing and leaves an unknown outcome in flight', async () => {
    await ensurePending(control.db, 'candidate.create', 'k1', runId);
    await markInFlight(control.db, 'candidate.create', 'k1', runId, 'create', {});
    const entry = await quarantine({ email: 'a@example.com' }, { code: OUTCOME_UNKNOWN, key: 'k1' });
    const { closed } = await replayEntries(planReplay([entry]), {
      control,
      dryRun: true,
      send: fakeSend(() => ({})),
    });
    expect(closed).toEqual([]);
    expect((await getQuarantine(control.db, entry.id))?.status).toBe('open');
    expect((await getLedgerEntry(control.db, 'candidate.create', 'k1'))?.state).toBe('in-flight');
  });

  it('replaying an unknown outcome of an operation with a look-up keeps its ledger entry in flight (so the push reconciles it first), and closes entries even when the push throws', async () => {
    await ensurePending(control.db, 'candidate.create', 'k1', runId);
    await markInFlight(control.db, 'candidate.create', 'k1', runId, 'create', {});
    const entry = await quarantine({ email: 'a@example.com' }, { code: OUTCOME_UNKNOWN, key: 'k1' });
    const send = async (push: ReplayPush): Promise<PushSummary> => {
      push.onResult({ row: 1, status: 'created' });
      throw new Error('stopped');
    };
    await expect(replayEntries(planReplay([entry]), { control, send })).rejects.toThrow('stopped');
    expect((await getLedgerEntry(control.db, 'candidate.create', 'k1'))?.state).toBe('in-flight');
    expect((await getQuarantine(control.db, entry.id))?.status).toBe('replayed');
  });

  it('an entry of a raw endpoint replays in manual mode', async () => {
    const entry = await addQuarantine(control, {
      runId,
      operation: 'endpoint:candidate.create',
      errorCode: 'invalid_input',
      errorMessage: 'refused',
      raw: { name: 'A' },
    });
    const stored = await getQuarantine(control.db, entry);
    if (!stored) throw new Error('entry not stored');
    expect(planReplay([stored]).operation.name).toBe('endpoint:candidate.create');
    expect(planReplay([await quarantine({ name: 'B' })]).operation.name).toBe('candidate.create');
  });
});
