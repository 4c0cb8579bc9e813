/**
 * A later push that applies a quarantined record closes its entry as `resolved`, naming the run; the
 * record is known by its place in its input (its `--key` value, or its row in that input), which its
 * correction does not change. Entries of a write whose outcome is unknown stay open.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { addQuarantine, finishRun, getQuarantine, listQuarantine, startRun } from '../../src/push/ledger.js';
import { OUTCOME_UNKNOWN } from '../../src/push/operations/shared.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openHomeControl, pushTo, removeAll, tempDir, uniqueEmail, writesFor } from './helpers.js';

let sandbox: Sandbox;
const cleanup: string[] = [];
let control: Control;

beforeAll(async () => {
  sandbox = await startSandbox({ scale: 20 });
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  control = await openHomeControl(tempDir(cleanup));
});
afterEach(async () => {
  await control.close();
  removeAll(cleanup);
});

const FILE = 'file:/data/candidates.csv';

describe('quarantine entries closed by a later push', () => {
  it('a corrected row pushed again from the same input closes its entry as resolved by that run', async () => {
    const good = { name: 'Ada Lovelace', email: uniqueEmail() };
    const fixedEmail = uniqueEmail();
    const first = await pushTo(sandbox, control, 'candidate.create', [good, { name: 'Bad', email: 'nope' }], {
      inputKey: FILE,
    });
    expect(first.results.map((r) => r.status)).toEqual(['created', 'quarantined']);
    const id = first.results[1]?.quarantineId;
    expect(id).toBeDefined();

    // The same row from another input is another record: its entry stays open.
    await pushTo(sandbox, control, 'candidate.create', [good, { name: 'Bad', email: fixedEmail }], {
      inputKey: 'file:/data/other.csv',
    });
    expect((await getQuarantine(control.db, id as number))?.status).toBe('open');

    // Row 2 of the same input, corrected (this time with a new email: the other input created the first).
    const corrected = { name: 'Bad', email: uniqueEmail() };
    const second = await pushTo(sandbox, control, 'candidate.create', [good, corrected], { inputKey: FILE });
    expect(second.results.map((r) => r.status)).toEqual(['skipped-done', 'created']);
    const entry = await getQuarantine(control.db, id as number);
    expect(entry?.status).toBe('resolved');
    expect(entry?.closedBy).toBe(`push run ${second.summary.runId}`);
    expect(entry?.closedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(writesFor(sandbox, 'candidate.create', corrected.email)).toBe(1);
    expect(await listQuarantine(control.db)).toEqual([]);
  });

  it('a corrected row that fails for another reason updates its entry instead of adding one', async () => {
    const first = await pushTo(sandbox, control, 'candidate.create', [{ name: 'Bad', email: 'nope' }], {
      inputKey: FILE,
    });
    const id = first.results[0]?.quarantineId;
    const second = await pushTo(
      sandbox,
      control,
      'candidate.create',
      [{ name: 'Bad', email: 'still@nope' }],
      {
        inputKey: FILE,
      },
    );
    expect(second.results[0]?.quarantineId).toBe(id);
    const open = await listQuarantine(control.db);
    expect(open.map((e) => e.id)).toEqual([id]);
    expect(open[0]?.raw).toEqual({ name: 'Bad', email: 'still@nope' });
    expect(open[0]?.runId).toBe(second.summary.runId);
  });

  it('with --key the record is known by its key wherever it sits; an unknown outcome is never closed', async () => {
    const unknownEmail = uniqueEmail();
    const refusedEmail = uniqueEmail();
    const runId = await startRun(control, 'candidate.create', 'earlier.csv', false);
    await finishRun(control.db, runId, 'finished', {});
    const entry = (email: string, code: string) =>
      addQuarantine(control, {
        runId,
        operation: 'candidate.create',
        recordKey: `key:${email}`,
        inputKey: `key:${email}`,
        errorCode: code,
        errorMessage: 'refused',
        raw: { name: 'Earlier', email },
      });
    const unknown = await entry(unknownEmail, OUTCOME_UNKNOWN);
    const refused = await entry(refusedEmail, 'invalid_input');
    const pushed = await pushTo(
      sandbox,
      control,
      'candidate.create',
      [
        { name: 'Moved', email: refusedEmail },
        { name: 'Unknown', email: unknownEmail },
      ],
      { inputKey: 'file:/data/rearranged.csv', keyColumn: 'email' },
    );
    expect(pushed.results.map((r) => r.status)).toEqual(['created', 'created']);
    expect((await getQuarantine(control.db, refused))?.status).toBe('resolved');
    expect((await getQuarantine(control.db, unknown))?.status).toBe('open');
    expect((await getQuarantine(control.db, unknown))?.closedBy).toBeNull();
  });

  it('a dry run closes nothing', async () => {
    const first = await pushTo(sandbox, control, 'candidate.create', [{ name: 'Bad', email: 'nope' }], {
      inputKey: FILE,
    });
    const id = first.results[0]?.quarantineId as number;
    const dry = await pushTo(sandbox, control, 'candidate.create', [{ name: 'Bad', email: uniqueEmail() }], {
      inputKey: FILE,
      dryRun: true,
    });
    expect(dry.results[0]?.status).toBe('dry-run');
    expect((await getQuarantine(control.db, id))?.status).toBe('open');
  });
});
