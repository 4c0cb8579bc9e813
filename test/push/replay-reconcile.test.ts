import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getEndpoint } from '../../src/ashby/catalogue.js';
import type { Control } from '../../src/control/open.js';
import { emptyPushCounts, prepareRow, type RecordResult, runPush } from '../../src/push/engine.js';
import type { InputRow } from '../../src/push/input.js';
import {
  addQuarantine,
  ensurePending,
  finishRun,
  getLedgerEntry,
  getQuarantine,
  listQuarantine,
  markInFlight,
  startRun,
} from '../../src/push/ledger.js';
import { manualOperation } from '../../src/push/operations/index.js';
import { OUTCOME_UNKNOWN } from '../../src/push/operations/shared.js';
import { planReplay, type ReplayPush, replayEntries } from '../../src/push/replay.js';
import type { AshbyCaller } from '../../src/push/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import {
  openHomeControl,
  operation,
  removeAll,
  rowsOf,
  sandboxClient,
  tempDir,
  uniqueEmail,
  writesFor,
} from './helpers.js';

let sandbox: Sandbox;
const cleanup: string[] = [];
let control: Control;

beforeAll(async () => {
  sandbox = await startSandbox({ scale: 20 });
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  control = await openHomeControl(tempDir(cleanup));
  sandbox.faults.reset();
  sandbox.resetStats();
});
afterEach(async () => {
  await control.close();
  removeAll(cleanup);
});

const LATENCY_MS = 400;

/**
 * A client whose first write to `endpoint` reaches the sandbox and is applied there, but whose answer
 * comes after the client gave up (a timeout after the request left). Other requests are quick.
 */
function losingFirstAnswer(endpoint: string): { client: AshbyCaller; landed: () => Promise<void> } {
  const fast = sandboxClient(sandbox);
  const slow = sandboxClient(sandbox, 'sandbox-full', { timeoutMs: 100 });
  let lost = false;
  let sentAt = 0;
  return {
    client: {
      call<T>(name: string, body?: Record<string, unknown>, options?: { signal?: AbortSignal }) {
        if (name !== endpoint || lost) return fast.call<T>(name, body, options);
        lost = true;
        sentAt = Date.now();
        sandbox.faults.set({ latencyMs: LATENCY_MS });
        return slow.call<T>(name, body, options).finally(() => sandbox.faults.reset());
      },
    },
    // The sandbox applies the write once its delay is over.
    landed: () => new Promise((r) => setTimeout(r, Math.max(0, sentAt + LATENCY_MS + 200 - Date.now()))),
  };
}

/** Runs a replay of `ids` with a quick client, collecting the results. */
async function replay(ids: number[]) {
  const results: RecordResult[] = [];
  const entries = [];
  for (const id of ids) {
    const e = await getQuarantine(control.db, id);
    if (!e) throw new Error(`no entry ${id}`);
    entries.push(e);
  }
  const outcome = await replayEntries(planReplay(entries), {
    control,
    send: (push: ReplayPush) =>
      runPush({
        ...push,
        client: sandboxClient(sandbox),
        control,
        reconcileDelayMs: 0,
        onResult: (r) => {
          results.push(r);
          push.onResult(r);
        },
      }),
  });
  return { ...outcome, results };
}

describe('replaying an unknown outcome reconciles before sending', () => {
  it('a create applied but answered with a timeout, quarantined as outcome_unknown: the replay finds it and creates nothing', async () => {
    const manual = manualOperation(getEndpoint('candidate.create'));
    const email = uniqueEmail('lost');
    const record = { name: 'Lost Answer', email };
    const { client, landed } = losingFirstAnswer('candidate.create');
    const first: RecordResult[] = [];
    const summary = await runPush({
      client,
      control,
      operation: manual,
      rows: rowsOf([record]),
      reconcileDelayMs: 0,
      maxReconcileAttempts: 1,
      onResult: (r) => first.push(r),
    });
    await landed();
    expect(first[0]?.status).toBe('failed');
    const key = first[0]?.key;
    if (key === undefined) throw new Error('no ledger key');
    expect((await getLedgerEntry(control.db, manual.name, key))?.state).toBe('in-flight');
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    // The entry an earlier version left for this record: outcome unknown, for a person to replay.
    const entryId = await addQuarantine(control, {
      runId: summary.runId,
      operation: manual.name,
      rowNumber: 1,
      recordKey: key,
      errorCode: OUTCOME_UNKNOWN,
      errorMessage: 'may have reached Ashby',
      raw: record,
    });

    const replayed = await replay([entryId]);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    expect(sandbox.stats().writesByKey['candidate.create']?.[email]).toBe(1);
    expect(replayed.results[0]).toMatchObject({ status: 'created', reconciled: true });
    const found = replayed.results[0]?.id;
    expect(await getLedgerEntry(control.db, manual.name, key)).toMatchObject({
      state: 'done',
      ashbyId: found,
    });
    const candidates = sandbox.records('candidate.search', { body: { email } }) as Array<{ id: string }>;
    expect(candidates.map((c) => c.id)).toEqual([found]);
    expect(replayed.closed).toEqual([entryId]);
    expect(replayed.outcomeUnknown).toEqual({ reconciled: [entryId], vouched: [] });
    expect((await getQuarantine(control.db, entryId))?.status).toBe('replayed');
  });

  it('a template create whose write never arrived is looked up, not found, and sent exactly once', async () => {
    const email = uniqueEmail('never');
    const record = { name: 'Never Arrived', email };
    const runId = await startRun(control, 'candidate.create', 'test', false);
    const prepared = prepareRow(rowsOf([record])[0] as InputRow, operation('candidate.create'));
    if (!prepared.ok) throw new Error('record refused');
    await ensurePending(control.db, 'candidate.create', prepared.key, runId);
    await markInFlight(control.db, 'candidate.create', prepared.key, runId, 'candidate.create', {
      before: [],
    });
    const entryId = await addQuarantine(control, {
      runId,
      operation: 'candidate.create',
      rowNumber: 1,
      recordKey: prepared.key,
      errorCode: OUTCOME_UNKNOWN,
      errorMessage: 'may have reached Ashby',
      raw: record,
      options: { onExisting: 'create' },
    });
    await finishRun(control.db, runId, 'finished', emptyPushCounts());

    const replayed = await replay([entryId]);
    expect(replayed.results[0]?.status).toBe('created');
    expect(replayed.results[0]?.reconciled).toBeUndefined();
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    expect(sandbox.stats().requests['candidate.search']).toBeGreaterThanOrEqual(1);
    expect(replayed.outcomeUnknown.reconciled).toEqual([entryId]);
    expect((await getQuarantine(control.db, entryId))?.status).toBe('replayed');
  });

  it('manual mode of a create with a look-up reconciles a lost answer within the run: one create, nothing quarantined', async () => {
    const manual = manualOperation(getEndpoint('candidate.create'));
    expect(manual.reconcilable).toBe(true);
    const email = uniqueEmail('inrun');
    const { client } = losingFirstAnswer('candidate.create');
    const results: RecordResult[] = [];
    await runPush({
      client,
      control,
      operation: manual,
      rows: rowsOf([{ name: 'In Run', email }]),
      reconcileDelayMs: LATENCY_MS + 200,
      onResult: (r) => results.push(r),
    });
    expect(results[0]).toMatchObject({ status: 'created', reconciled: true });
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    expect(await listQuarantine(control.db)).toHaveLength(0);
  });

  it('an operation with no look-up is sent again on the person’s word, and the replay says so', async () => {
    expect(manualOperation(getEndpoint('offerProcess.start')).reconcilable).toBe(false);
    const runId = await startRun(control, 'offerProcess.start', 'test', false);
    const applicationId = '3ae2b801-19f6-41ef-ad28-214bd731948f';
    const key = `application:${applicationId}`;
    await ensurePending(control.db, 'offerProcess.start', key, runId);
    await markInFlight(control.db, 'offerProcess.start', key, runId, 'offerProcess.start', {});
    const entryId = await addQuarantine(control, {
      runId,
      operation: 'offerProcess.start',
      recordKey: key,
      errorCode: OUTCOME_UNKNOWN,
      errorMessage: 'may have reached Ashby',
      raw: { applicationId },
    });
    await finishRun(control.db, runId, 'finished', emptyPushCounts());
    const entry = await getQuarantine(control.db, entryId);
    if (!entry) throw new Error('entry not stored');
    let ledgerStateAtSend: string | undefined;
    let resend: readonly string[] | undefined;
    const outcome = await replayEntries(planReplay([entry]), {
      control,
      send: async (push) => {
        // The push itself sets the entry back to pending, once it owns its account's ledger.
        ledgerStateAtSend = (await getLedgerEntry(control.db, 'offerProcess.start', key))?.state;
        resend = push.resendInFlight;
        return {
          runId: 'r',
          operation: push.operation.name,
          dryRun: false,
          counts: emptyPushCounts(),
          total: 0,
        };
      },
    });
    expect(ledgerStateAtSend).toBe('in-flight');
    expect(resend).toEqual([key]);
    expect(outcome.outcomeUnknown).toEqual({ reconciled: [], vouched: [entryId] });
  });
});
