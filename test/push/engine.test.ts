import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AshbyPermissionError } from '../../src/ashby/errors.js';
import type { Control } from '../../src/control/open.js';
import { type RecordResult, runPush } from '../../src/push/engine.js';
import type { InputRow } from '../../src/push/input.js';
import { getLedgerEntry, listQuarantine } from '../../src/push/ledger.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { FakeAshby } from './fake-ashby.js';
import { openHomeControl, sqliteOf } from './helpers.js';

const candidateCreate = findOperation('candidate.create') as Operation;

function rows(records: Array<Record<string, unknown>>): InputRow[] {
  return records.map((record, i) => ({ row: i + 1, record, raw: record }));
}

describe('push engine (exactly once, against an in-memory Ashby)', () => {
  let home: string;
  let control: Control;
  let ashby: FakeAshby;
  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
    control = await openHomeControl(home);
    ashby = new FakeAshby();
  });
  afterEach(async () => {
    await control.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const push = (
    records: Array<Record<string, unknown>>,
    extra: Partial<Parameters<typeof runPush>[0]> = {},
  ) => {
    const results: RecordResult[] = [];
    return runPush({
      client: ashby,
      control,
      operation: candidateCreate,
      rows: rows(records),
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
      ...extra,
    }).then((summary) => ({ summary, results: results.sort((a, b) => a.row - b.row) }));
  };

  it('creates each candidate once and a rerun skips the done records, saying how many', async () => {
    const input = [
      { name: 'Ada', email: 'ada@example.com' },
      { name: 'Grace', email: 'grace@example.com' },
    ];
    const first = await push(input);
    expect(first.summary.counts.created).toBe(2);
    const second = await push(input);
    expect(second.summary.counts['skipped-done']).toBe(2);
    expect(ashby.writes).toHaveLength(2);
    expect(second.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
  });

  it('dedupes against Ashby by email: skip (default), update and create policies', async () => {
    ashby.candidates.push({
      id: '3ae2b801-19f6-41ef-ad28-214bd731948f',
      name: 'Old',
      email: 'ada@example.com',
    });
    const skip = await push([{ name: 'Ada', email: 'ada@example.com' }]);
    expect(skip.results[0]).toMatchObject({
      status: 'skipped-existing',
      id: '3ae2b801-19f6-41ef-ad28-214bd731948f',
    });
    const update = await push([{ name: 'Ada L', email: 'ada@example.com' }], { onExisting: 'update' });
    expect(update.results[0]?.status).toBe('updated');
    expect(ashby.writes.map((w) => w.endpoint)).toEqual(['candidate.update']);
    const create = await push([{ name: 'Ada M', email: 'ada@example.com' }], { onExisting: 'create' });
    expect(create.results[0]?.status).toBe('created');
    expect(ashby.createsByEmail.get('ada@example.com')).toBe(1);
  });

  it('reconciles a create whose response was lost instead of sending it again', async () => {
    ashby.loseResponse = 1;
    const { results } = await push([{ name: 'Ada', email: 'ada@example.com' }]);
    expect(results[0]).toMatchObject({ status: 'created', reconciled: true });
    expect(ashby.createsByEmail.get('ada@example.com')).toBe(1);
    expect(ashby.writes).toHaveLength(1);
  });

  it('after a crash mid-write, a rerun reconciles the in-flight record (found → done, not found → sent once)', async () => {
    // Simulate two crashes: one after the create reached Ashby, one before it did.
    ashby.loseResponse = 2;
    const first = await push(
      [
        { name: 'Ada', email: 'ada@example.com' },
        { name: 'Grace', email: 'grace@example.com' },
      ],
      { maxReconcileAttempts: 1, concurrency: 1 },
    );
    expect(first.summary.counts.failed).toBe(2);
    // Grace's create never happened: remove it from Ashby to model a request lost before arrival.
    ashby.candidates = ashby.candidates.filter((c) => c.email !== 'grace@example.com');
    ashby.createsByEmail.delete('grace@example.com');
    const second = await push([
      { name: 'Ada', email: 'ada@example.com' },
      { name: 'Grace', email: 'grace@example.com' },
    ]);
    expect(second.results.map((r) => [r.status, r.reconciled ?? false])).toEqual([
      ['created', true],
      ['created', false],
    ]);
    expect(ashby.createsByEmail.get('ada@example.com')).toBe(1);
    expect(ashby.createsByEmail.get('grace@example.com')).toBe(1);
  });

  it('stops at the first missing permission with one write sent and leaves the rest pending', async () => {
    ashby.denyWrites = true;
    const input = Array.from({ length: 20 }, (_, i) => ({ name: `C${i}`, email: `c${i}@example.com` }));
    const { summary } = await push(input, { concurrency: 8 });
    expect(summary.stopped?.kind).toBe('permission');
    expect(summary.stopped?.message).toMatch(
      /Candidates: Write \(candidatesWrite\).*Admin > Integrations > API Keys/,
    );
    expect(ashby.writes).toHaveLength(0); // the fake refuses before recording; count refusals instead
    const ledger = sqliteOf(control)
      .prepare('SELECT state, COUNT(*) n FROM push_ledger GROUP BY state')
      .all();
    expect(ledger).toEqual([{ state: 'pending', n: expect.any(Number) }]);
  });

  it('sends at most one write to an endpoint until it has succeeded once', async () => {
    let calls = 0;
    const denying = {
      async call(endpoint: string) {
        if (endpoint === 'candidate.search') return { results: [], warnings: [] };
        calls += 1;
        await new Promise((r) => setTimeout(r, 5));
        throw new AshbyPermissionError({ endpoint, code: 'missing_endpoint_permission', message: 'denied' });
      },
    };
    const input = Array.from({ length: 10 }, (_, i) => ({ name: `C${i}`, email: `c${i}@example.com` }));
    const summary = await runPush({
      client: denying as never,
      control,
      operation: candidateCreate,
      rows: rows(input),
      concurrency: 10,
    });
    expect(calls).toBe(1);
    expect(summary.stopped?.kind).toBe('permission');
  });

  it('quarantines invalid records with field path, reason and row, and Ashby refusals with code and requestId', async () => {
    const { summary, results } = await push([
      { name: 'Ada', email: 'not-an-email' },
      { email: 'nameless@example.com' },
      { name: 'Grace', email: 'grace@example.com', favouriteColour: 'blue' },
      { name: 'Linus', email: 'linus@example.com' },
    ]);
    expect(summary.counts).toMatchObject({ quarantined: 3, created: 1 });
    expect(results[0]?.error).toMatchObject({ code: 'invalid_record', path: 'email' });
    expect(results[0]?.error?.message).toMatch(/not a valid email/);
    expect(results[1]?.error).toMatchObject({ path: 'name' });
    expect(results[2]?.error?.message).toMatch(/favouriteColour: unknown field/);
    const q = await listQuarantine(control.db);
    expect(q.map((e) => e.rowNumber)).toEqual([1, 2, 3]);
    expect(q[0]?.raw).toEqual({ name: 'Ada', email: 'not-an-email' });
  });

  it('quarantines a record Ashby refuses and keeps going', async () => {
    const op: Operation = {
      ...candidateCreate,
      fields: { ...candidateCreate.fields, name: { type: 'string' } },
    };
    const summary = await runPush({
      client: ashby,
      control,
      operation: op,
      rows: rows([{ email: 'x@example.com' }, { name: 'Ok', email: 'ok@example.com' }]),
    });
    expect(summary.counts).toMatchObject({ quarantined: 1, created: 1 });
    const [entry] = await listQuarantine(control.db);
    expect(entry).toMatchObject({ errorCode: 'invalid_input', requestId: 'req-bad' });
  });

  it('dry run looks up, reports the body and writes nothing', async () => {
    const { summary, results } = await push([{ name: 'Ada', email: 'ada@example.com' }], { dryRun: true });
    expect(summary.counts['dry-run']).toBe(1);
    expect(results[0]?.wouldSend).toEqual({
      endpoint: 'candidate.create',
      body: { name: 'Ada', email: 'ada@example.com' },
    });
    expect(ashby.writes).toHaveLength(0);
    expect(sqliteOf(control).prepare('SELECT COUNT(*) n FROM push_ledger').get()).toEqual({ n: 0 });
  });

  it('the same record twice in one input is applied once', async () => {
    const { summary } = await push([
      { name: 'Ada', email: 'ada@example.com' },
      { email: 'ada@example.com', name: 'Ada' },
    ]);
    expect(summary.counts).toMatchObject({ created: 1, 'skipped-done': 1 });
    expect(ashby.writes).toHaveLength(1);
  });

  it('--key makes a corrected record the same ledger entry', async () => {
    await push([{ id: 'r1', name: 'Ada', email: 'ada@example.com' }], {
      keyColumn: 'id',
      mapping: { columns: { id: null }, constants: {}, split: {}, ignoreUnknown: false },
    });
    const again = await push([{ id: 'r1', name: 'Ada Lovelace', email: 'ada@example.com' }], {
      keyColumn: 'id',
      mapping: { columns: { id: null }, constants: {}, split: {}, ignoreUnknown: false },
    });
    expect(again.summary.counts['skipped-done']).toBe(1);
    expect((await getLedgerEntry(control.db, 'candidate.create', 'key:r1'))?.state).toBe('done');
  });

  it('a note whose response was lost is found by its text, not written twice', async () => {
    const op = findOperation('candidate.createNote') as Operation;
    ashby.candidates.push({
      id: '3ae2b801-19f6-41ef-ad28-214bd731948f',
      name: 'Ada',
      email: 'ada@example.com',
    });
    ashby.loseResponse = 1;
    const summary = await runPush({
      client: ashby,
      control,
      operation: op,
      reconcileDelayMs: 0,
      rows: rows([{ candidateEmail: 'ada@example.com', note: 'Strong on systems' }]),
    });
    expect(summary.counts.created).toBe(1);
    expect(ashby.notes).toHaveLength(1);
  });

  it('creates one candidate when two different rows of one input carry the same email', async () => {
    const results: RecordResult[] = [];
    const summary = await runPush({
      client: ashby,
      control,
      operation: candidateCreate,
      rows: rows([
        { name: 'Ada Lovelace', email: 'ada@example.com' },
        { name: 'Ada King', email: 'ada@example.com', phoneNumber: '+44 20 0000' },
      ]),
      concurrency: 4,
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
    });
    expect(ashby.createsByEmail.get('ada@example.com')).toBe(1);
    expect(summary.counts.created).toBe(1);
    expect(summary.counts['skipped-existing']).toBe(1);
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
  });
});
