import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AshbyAuthError,
  AshbyCursorError,
  AshbyNotFoundError,
  AshbyPermissionError,
  AshbyServerError,
  AshbySyncTokenError,
} from '../../src/ashby/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { runSync, type SyncOptions } from '../../src/sync/index.js';
import { FakeSource } from './fake-source.js';

let dir: string;
let sink: Sink;
let source: FakeSource;

const cand = (id: string, name: string) => ({
  id,
  name,
  customFields: [{ id: 'cf1', title: 'Level', value: name }],
});

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  sink = openSink(`sqlite:${path.join(dir, 'db.sqlite')}`);
  await sink.open();
  source = new FakeSource(2);
});

afterEach(async () => {
  await sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sync(streams: string[], extra: Partial<SyncOptions> = {}) {
  return runSync({ client: source, sink, streams: selectStreams({ streams }), ...extra });
}

async function live(stream: string) {
  const rows = await sink.readRows(stream, { includeDeleted: false });
  return rows.map((r) => JSON.parse(String(r._ashpipe_raw)) as Record<string, unknown>);
}

async function deletedIds(stream: string) {
  const rows = await sink.readRows(stream, { includeDeleted: true });
  return rows.filter((r) => r._ashpipe_deleted_at != null).map((r) => r.id);
}

describe('sync engine', () => {
  it('reads a full pass first, then only the changes with the stored sync token', async () => {
    source.set('candidate.list', [cand('c1', 'Ada'), cand('c2', 'Bob'), cand('c3', 'Cy')]);
    const first = await sync(['candidates']);
    expect(first.exitCode).toBe(0);
    expect(first.streams[0]).toMatchObject({ status: 'ok', mode: 'full', inserted: 3, records: 3 });
    expect(await live('candidates')).toEqual(source.records('candidate.list'));

    source.upsert('candidate.list', cand('c2', 'Bobby'));
    source.upsert('candidate.list', cand('c4', 'Dee'));
    source.calls.length = 0;
    const second = await sync(['candidates']);
    expect(second.streams[0]).toMatchObject({ mode: 'incremental', inserted: 1, updated: 1, records: 2 });
    expect(source.calls.every((c) => c.syncToken !== undefined)).toBe(true);
    expect(await live('candidates')).toEqual(source.records('candidate.list'));
  });

  it('soft-deletes rows only after a complete full pass, and undeletes rows that come back', async () => {
    source.set('candidate.list', [cand('c1', 'Ada'), cand('c2', 'Bob'), cand('c3', 'Cy'), cand('c4', 'Dee')]);
    await sync(['candidates']);
    source.remove('candidate.list', 'c2');

    // An incremental pass cannot see deletions.
    await sync(['candidates']);
    expect(await deletedIds('candidates')).toEqual([]);

    // A full pass that fails half-way deletes nothing.
    source.fail = (call) =>
      call.cursor === '2' ? new AshbyServerError({ endpoint: call.endpoint, message: 'boom' }) : undefined;
    const failed = await sync(['candidates'], { fullRefresh: true });
    expect(failed.exitCode).toBe(3);
    expect(failed.streams[0]?.status).toBe('failed');
    expect(await deletedIds('candidates')).toEqual([]);

    source.fail = undefined;
    const full = await sync(['candidates'], { fullRefresh: true });
    expect(full.streams[0]?.deleted).toBe(1);
    expect(await deletedIds('candidates')).toEqual(['c2']);

    source.upsert('candidate.list', cand('c2', 'Bob'));
    const back = await sync(['candidates']);
    expect(back.streams[0]?.undeleted).toBe(1);
    expect(await deletedIds('candidates')).toEqual([]);
  });

  it('resumes an interrupted pass from the last committed page', async () => {
    source.set(
      'candidate.list',
      Array.from({ length: 7 }, (_, i) => cand(`c${i}`, `n${i}`)),
    );
    source.fail = (call) =>
      call.cursor === '4' ? new AshbyServerError({ endpoint: call.endpoint, message: 'down' }) : undefined;
    const broken = await sync(['candidates']);
    expect(broken.streams[0]?.status).toBe('failed');
    expect(broken.streams[0]?.error?.message).toContain('down');
    expect((await live('candidates')).length).toBe(4);

    source.fail = undefined;
    source.calls.length = 0;
    const resumed = await sync(['candidates']);
    expect(resumed.streams[0]?.reason).toContain('resumed');
    expect(source.calls[0]?.cursor).toBe('4');
    expect(await live('candidates')).toEqual(source.records('candidate.list'));
    // The resumed pass was a full one: it may delete, and its token makes the next run incremental.
    source.calls.length = 0;
    const next = await sync(['candidates']);
    expect(next.streams[0]?.mode).toBe('incremental');
  });

  it('restarts the pass when the cursor expires', async () => {
    source.set(
      'candidate.list',
      Array.from({ length: 5 }, (_, i) => cand(`c${i}`, `n${i}`)),
    );
    let thrown = false;
    source.fail = (call) => {
      if (call.cursor === '4' && !thrown) {
        thrown = true;
        return new AshbyCursorError({
          endpoint: call.endpoint,
          code: 'next_cursor_expired',
          message: 'expired',
        });
      }
      return undefined;
    };
    const summary = await sync(['candidates']);
    expect(summary.streams[0]).toMatchObject({ status: 'ok', mode: 'full' });
    expect(summary.streams[0]?.reason).toContain('next_cursor_expired');
    expect(source.calls.filter((c) => c.cursor === undefined)).toHaveLength(2);
    expect(await live('candidates')).toEqual(source.records('candidate.list'));
  });

  it('discards an expired sync token and runs a full pass that applies deletes', async () => {
    source.set('candidate.list', [cand('c1', 'Ada'), cand('c2', 'Bob')]);
    await sync(['candidates']);
    source.remove('candidate.list', 'c1');
    source.fail = (call) =>
      call.syncToken
        ? new AshbySyncTokenError({ endpoint: call.endpoint, code: 'sync_token_expired', message: 'old' })
        : undefined;
    const summary = await sync(['candidates']);
    expect(summary.streams[0]).toMatchObject({ status: 'ok', mode: 'full', deleted: 1 });
    expect(summary.streams[0]?.reason).toContain('sync_token_expired');
    expect(await deletedIds('candidates')).toEqual(['c1']);
  });

  it('skips a stream the key cannot read, names scope and module, and finishes the others', async () => {
    source.set('candidate.list', [cand('c1', 'Ada')]);
    source.set('user.list', [{ id: 'u1', firstName: 'Una' }]);
    source.fail = (call) =>
      call.endpoint === 'user.list'
        ? new AshbyPermissionError({
            endpoint: call.endpoint,
            code: 'missing_endpoint_permission',
            message: 'no',
            scope: 'organizationRead',
          })
        : undefined;
    const summary = await sync(['candidates', 'users']);
    expect(summary.exitCode).toBe(3);
    const users = summary.streams.find((s) => s.stream === 'users');
    expect(users?.status).toBe('skipped');
    expect(users?.error?.message).toContain('Organization: Read');
    expect(users?.error?.scope).toBe('organizationRead');
    expect(summary.streams.find((s) => s.stream === 'candidates')?.status).toBe('ok');
  });

  it('stops the whole run on an authentication failure', async () => {
    source.set('candidate.list', [cand('c1', 'Ada')]);
    source.fail = (call) =>
      new AshbyAuthError({ endpoint: call.endpoint, message: 'bad key', httpStatus: 403 });
    const summary = await sync(['candidates', 'users']);
    expect(summary.exitCode).toBe(1);
    expect(summary.fatal?.message).toContain('bad key');
  });

  it('walks every parent for a child stream and resumes inside the parent it stopped at', async () => {
    source.filters.set('interviewStage.list', 'interviewPlanId');
    source.set('interviewPlan.list', [{ id: 'p1' }, { id: 'p2' }, { id: 'p3' }]);
    const stages = [
      ...['a', 'b', 'c'].map((s) => ({ id: `p1${s}`, interviewPlanId: 'p1' })),
      ...['a', 'b', 'c'].map((s) => ({ id: `p2${s}`, interviewPlanId: 'p2' })),
      ...['a'].map((s) => ({ id: `p3${s}`, interviewPlanId: 'p3' })),
    ];
    source.set('interviewStage.list', stages);
    source.fail = (call) =>
      call.endpoint === 'interviewStage.list' && call.body.interviewPlanId === 'p2' && call.cursor === '2'
        ? new AshbyServerError({ endpoint: call.endpoint, message: 'down' })
        : undefined;
    const broken = await sync(['interview_plans', 'interview_stages']);
    expect(broken.streams.find((s) => s.stream === 'interview_stages')?.status).toBe('failed');

    source.fail = undefined;
    source.calls.length = 0;
    const resumed = await sync(['interview_stages']);
    expect(resumed.streams.map((s) => s.stream)).toEqual(['interview_stages']);
    const calls = source.calls.filter((c) => c.endpoint === 'interviewStage.list');
    expect(calls.map((c) => [c.body.interviewPlanId, c.cursor])).toEqual([
      ['p2', '2'],
      ['p3', undefined],
    ]);
    expect(await live('interview_stages')).toEqual(stages);

    // A complete pass deletes the stages of a plan that is gone.
    source.remove('interviewPlan.list', 'p3');
    const again = await sync(['interview_plans', 'interview_stages'], { refresh: true });
    expect(again.streams.find((s) => s.stream === 'interview_stages')?.deleted).toBe(1);
  });

  it('skips a parent deleted since its table was read, and soft-deletes what hung off it', async () => {
    source.filters.set('interviewStage.list', 'interviewPlanId');
    source.set('interviewPlan.list', [{ id: 'p1' }, { id: 'p2' }]);
    source.set('interviewStage.list', [
      { id: 's1', interviewPlanId: 'p1' },
      { id: 's2', interviewPlanId: 'p2' },
    ]);
    await sync(['interview_plans', 'interview_stages']);
    source.fail = (call) =>
      call.body.interviewPlanId === 'p1'
        ? new AshbyNotFoundError({
            endpoint: call.endpoint,
            code: 'interview_plan_not_found',
            message: 'gone',
          })
        : undefined;
    const summary = await sync(['interview_stages'], { refresh: true });
    const stages = summary.streams.find((s) => s.stream === 'interview_stages');
    expect(stages).toMatchObject({ status: 'ok', deleted: 1 });
    expect(stages?.reason).toContain('1 interview_plans no longer found');
    expect(await deletedIds('interview_stages')).toEqual(['s1']);
  });

  it('leaves a stream without a sync token alone while its last read is fresh, and reads it when due or asked', async () => {
    source.filters.set('interviewStage.list', 'interviewPlanId');
    source.set('source.list', [{ id: 's1', title: 'Referral' }]);
    source.set('interviewPlan.list', [{ id: 'p1' }]);
    source.set('interviewStage.list', [{ id: 'st1', interviewPlanId: 'p1' }]);
    source.set('candidate.list', [cand('c1', 'Ada')]);
    const t0 = new Date('2026-03-02T06:00:00.000Z');
    const streams = ['sources', 'interview_plans', 'interview_stages', 'candidates'];
    const first = await sync(streams, { now: () => t0 });
    expect(first.streams.every((s) => s.status === 'ok' && s.notDue === undefined)).toBe(true);
    const requests = () => source.calls.length;

    // Two hours later: only the incremental stream asks Ashby anything, once.
    source.set('source.list', [{ id: 's1', title: 'Referral (renamed)' }]);
    source.calls.length = 0;
    const twoHours = new Date(t0.getTime() + 2 * 3_600_000);
    const quiet = await sync(streams, { now: () => twoHours });
    expect(quiet.exitCode).toBe(0);
    expect(source.calls.map((c) => c.endpoint)).toEqual(['candidate.list']);
    expect(requests()).toBe(1);
    for (const name of ['sources', 'interview_plans', 'interview_stages']) {
      const r = quiet.streams.find((s) => s.stream === name);
      expect(r).toMatchObject({ status: 'ok', mode: null, records: 0, requests: 0 });
      expect(r?.notDue?.nextReadAt).toBe('2026-03-03T06:00:00.000Z');
      expect(Date.parse(r?.notDue?.lastReadAt ?? '')).toBeGreaterThan(0);
      expect(r?.reason).toContain('not due: read 2.0h ago; next read after 2026-03-03T06:00:00.000Z');
    }
    expect(quiet.totals.notDue).toBe(3);
    expect((await live('sources'))[0]?.title).toBe('Referral');

    // A per-stream interval of 0 reads that stream every run; --refresh reads them all.
    source.calls.length = 0;
    const perStream = await sync(streams, { now: () => twoHours, refreshAfter: { streams: { sources: 0 } } });
    expect(source.calls.map((c) => c.endpoint).sort()).toEqual(['candidate.list', 'source.list']);
    expect(perStream.totals.notDue).toBe(2);
    expect((await live('sources'))[0]?.title).toBe('Referral (renamed)');
    source.calls.length = 0;
    const forced = await sync(streams, { now: () => twoHours, refresh: true });
    expect(forced.totals.notDue).toBe(0);
    expect(new Set(source.calls.map((c) => c.endpoint))).toEqual(
      new Set(['candidate.list', 'source.list', 'interviewPlan.list', 'interviewStage.list']),
    );

    // A day after the last read, every one of them is due again; a shorter run-wide interval too.
    source.calls.length = 0;
    const nextDay = new Date(t0.getTime() + 26 * 3_600_000);
    const due = await sync(streams, { now: () => nextDay });
    expect(due.totals.notDue).toBe(0);
    expect(new Set(source.calls.map((c) => c.endpoint))).toEqual(
      new Set(['candidate.list', 'source.list', 'interviewPlan.list', 'interviewStage.list']),
    );
  });

  it('adds a parent that never synced when only the child is asked for', async () => {
    source.filters.set('interviewStage.list', 'interviewPlanId');
    source.set('interviewPlan.list', [{ id: 'p1' }]);
    source.set('interviewStage.list', [{ id: 's1', interviewPlanId: 'p1' }]);
    const summary = await sync(['interview_stages']);
    expect(summary.streams.map((s) => s.stream).sort()).toEqual(['interview_plans', 'interview_stages']);
    expect(await live('interview_stages')).toHaveLength(1);
  });

  it('leaves out confidential jobs and what hangs off them, and counts what it dropped', async () => {
    source.set('job.list', [
      { id: 'j1', title: 'Open', confidential: false },
      { id: 'j2', title: 'Secret', confidential: true },
    ]);
    source.set('application.list', [
      { id: 'a1', job: { id: 'j1' } },
      { id: 'a2', job: { id: 'j2' } },
      { id: 'a3', job: { id: 'j2' } },
    ]);
    source.set('offer.list', [
      { id: 'o1', applicationId: 'a1' },
      { id: 'o2', applicationId: 'a2' },
    ]);
    const summary = await sync(['jobs', 'applications', 'offers'], { excludeConfidential: true });
    const by = Object.fromEntries(summary.streams.map((s) => [s.stream, s]));
    expect(by.jobs?.droppedConfidential).toBe(1);
    expect(by.applications?.droppedConfidential).toBe(2);
    expect(by.offers?.droppedConfidential).toBe(1);
    expect((await live('applications')).map((r) => r.id)).toEqual(['a1']);
    expect((await live('offers')).map((r) => r.id)).toEqual(['o1']);

    // The ids are remembered: an incremental run that sees only a new offer still drops it.
    source.upsert('offer.list', { id: 'o3', applicationId: 'a3' });
    const next = await sync(['jobs', 'applications', 'offers'], { excludeConfidential: true });
    expect(next.streams.find((s) => s.stream === 'offers')).toMatchObject({
      mode: 'incremental',
      droppedConfidential: 1,
    });
    expect((await live('offers')).map((r) => r.id)).toEqual(['o1']);
  });

  it('reconciles an incremental stream with a full pass when the last one is too old', async () => {
    source.set('candidate.list', [cand('c1', 'Ada'), cand('c2', 'Bob')]);
    await sync(['candidates']);
    source.remove('candidate.list', 'c1');
    const later = new Date(Date.now() + 8 * 86_400_000);
    const summary = await sync(['candidates'], { now: () => later });
    expect(summary.streams[0]).toMatchObject({ mode: 'full', deleted: 1 });
    expect(summary.streams[0]?.reason).toContain('reconcile');
    const never = await sync(['candidates'], {
      now: () => new Date(later.getTime() + 30 * 86_400_000),
      reconcileAfterMs: null,
    });
    expect(never.streams[0]?.mode).toBe('incremental');
  });

  it('stores custom field values of each object', async () => {
    source.set('candidate.list', [cand('c1', "O'Brien; DROP TABLE x")]);
    await sync(['candidates']);
    expect((await live('candidates'))[0]?.customFields).toEqual([
      { id: 'cf1', title: 'Level', value: "O'Brien; DROP TABLE x" },
    ]);
  });
});
