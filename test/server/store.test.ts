import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import type { FlowConfig } from '../../src/server/model.js';
import { hashToken } from '../../src/server/security/crypto.js';
import { SESSION_IDLE_MS, ServerStore } from '../../src/server/store.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

const source = (name: string, credentialId = 'cred_1'): FlowConfig => ({
  kind: 'source',
  name,
  credentialId,
  schedule: '0 * * * *',
  streams: ['candidates'],
  target: { type: 'sqlite', path: 'x.db' },
  options: {},
});

describe.each(controlDialects('the server store on PostgreSQL'))('server store on %s', (dialect) => {
  /** A store whose clock the test moves. */
  async function open(start = '2026-03-01T10:00:00.000Z') {
    const control = await openTarget(newControlTarget(dialect));
    opened.push(control);
    const clock = { now: new Date(start) };
    const store = new ServerStore(control.db, () => clock.now);
    const tick = (ms: number) => {
      clock.now = new Date(clock.now.getTime() + ms);
    };
    return { control, store, clock, tick };
  }

  it('sets the admin password once, and replaces it only when asked', async () => {
    const { store } = await open();
    expect(await store.passwordHash()).toBeUndefined();
    expect(await store.setPasswordHash('h1')).toBe(true);
    expect(await store.setPasswordHash('h2')).toBe(false);
    expect(await store.passwordHash()).toBe('h1');
    expect(await store.setPasswordHash('h3', true)).toBe(true);
    expect(await store.passwordHash()).toBe('h3');
  });

  it('keeps sessions by hash, slides their expiry on use and forgets them when idle too long', async () => {
    const { control, store, tick } = await open();
    const { token, csrfToken } = await store.createSession();
    const stored = await control.db.selectFrom('console_sessions').selectAll().execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(csrfToken);
    expect(await store.findSession(token)).toEqual({
      tokenHash: hashToken(token),
      csrfHash: hashToken(csrfToken),
    });
    // Used just before it would expire: it lives another idle period from now.
    tick(SESSION_IDLE_MS - 1000);
    expect(await store.findSession(token)).toBeDefined();
    tick(SESSION_IDLE_MS - 1000);
    expect(await store.findSession(token)).toBeDefined();
    tick(SESSION_IDLE_MS);
    expect(await store.findSession(token)).toBeUndefined();
    expect(await control.db.selectFrom('console_sessions').selectAll().execute()).toEqual([]);
    const other = await store.createSession();
    await store.createSession();
    await store.deleteSession(hashToken(other.token));
    expect(await store.findSession(other.token)).toBeUndefined();
    await store.deleteAllSessions();
    expect(await control.db.selectFrom('console_sessions').selectAll().execute()).toEqual([]);
  });

  it('stores API tokens by hash, records their use and revokes them', async () => {
    const { control, store, tick } = await open();
    const a = await store.createApiToken('ci');
    tick(1000);
    const b = await store.createApiToken('grafana');
    expect(a.token.startsWith('ashp_')).toBe(true);
    expect(a.info.prefix).toBe(a.token.slice(0, 9));
    expect(JSON.stringify(await control.db.selectFrom('api_tokens').selectAll().execute())).not.toContain(
      a.token,
    );
    expect(await store.verifyApiToken('ashp_not-a-token')).toBeUndefined();
    tick(1000);
    expect(await store.verifyApiToken(b.token)).toBe(b.info.id);
    expect(await store.listApiTokens()).toEqual([
      { ...a.info, lastUsedAt: null },
      { ...b.info, lastUsedAt: '2026-03-01T10:00:02.000Z' },
    ]);
    expect(await store.deleteApiToken(a.info.id)).toBe(true);
    expect(await store.deleteApiToken(a.info.id)).toBe(false);
    expect(await store.verifyApiToken(a.token)).toBeUndefined();
    await store.createApiToken('third');
    expect(await store.deleteAllApiTokens()).toBe(2);
    expect(await store.listApiTokens()).toEqual([]);
  });

  it('creates, edits, activates, pauses, lists and deletes flows', async () => {
    const { store, tick } = await open();
    const flow = await store.createFlow(source('Nightly'));
    expect(flow).toMatchObject({
      name: 'Nightly',
      kind: 'source',
      credentialId: 'cred_1',
      schedule: '0 * * * *',
      status: 'paused',
      config: source('Nightly'),
      createdAt: '2026-03-01T10:00:00.000Z',
      activatedAt: null,
      pausedAt: null,
      pausedReason: null,
    });
    tick(60_000);
    const second = await store.createFlow({ ...source('Hourly', 'cred_2'), schedule: undefined });
    expect(second.schedule).toBeNull();
    tick(60_000);
    expect(await store.setFlowStatus(flow.id, 'active')).toMatchObject({
      status: 'active',
      activatedAt: '2026-03-01T10:02:00.000Z',
    });
    tick(60_000);
    // Pausing keeps when it was last activated; a person's pause has no reason.
    expect(await store.setFlowStatus(flow.id, 'paused')).toMatchObject({
      status: 'paused',
      activatedAt: '2026-03-01T10:02:00.000Z',
      updatedAt: '2026-03-01T10:03:00.000Z',
      pausedAt: '2026-03-01T10:03:00.000Z',
      pausedReason: null,
    });
    // A pause by ashpipe keeps its reason until the flow is activated again.
    tick(60_000);
    expect(
      await store.setFlowStatus(second.id, 'paused', 'paused after 5 failed runs in a row'),
    ).toMatchObject({
      status: 'paused',
      pausedAt: '2026-03-01T10:04:00.000Z',
      pausedReason: 'paused after 5 failed runs in a row',
    });
    expect(await store.setFlowStatus(second.id, 'active')).toMatchObject({
      status: 'active',
      activatedAt: '2026-03-01T10:04:00.000Z',
      pausedAt: null,
      pausedReason: null,
    });
    expect(await store.setFlowStatus(second.id, 'paused')).toMatchObject({ pausedReason: null });
    const edited = await store.updateFlow(flow.id, { ...source('Nightly v2'), schedule: '5 * * * *' });
    expect(edited).toMatchObject({ name: 'Nightly v2', schedule: '5 * * * *' });
    expect(await store.updateFlow('flow_missing', source('x'))).toBeUndefined();
    expect((await store.listFlows()).map((f) => f.name)).toEqual(['Nightly v2', 'Hourly']);
    expect((await store.flowsUsingCredential('cred_2')).map((f) => f.name)).toEqual(['Hourly']);
    expect(await store.setFlowStatus('flow_missing', 'active')).toBeUndefined();
    expect(await store.deleteFlow(flow.id)).toBe(true);
    expect(await store.deleteFlow(flow.id)).toBe(false);
    expect(await store.getFlow(flow.id)).toBeUndefined();
  });

  it('records runs: progress, end, analytics kept on a later finish, interrupted runs failed', async () => {
    const { store, tick } = await open();
    const flow = await store.createFlow(source('Nightly'));
    const run = await store.startRun(flow, 'manual');
    expect(run).toEqual({
      id: run.id,
      flowId: flow.id,
      kind: 'source',
      trigger: 'manual',
      status: 'running',
      startedAt: '2026-03-01T10:00:00.000Z',
      finishedAt: null,
      counts: [],
      errors: [],
      dryRun: false,
      analytics: null,
      worker: null,
    });
    const counts = [{ name: 'candidates', status: 'running' as const, read: 10, written: 10 }];
    await store.updateRunCounts(run.id, counts);
    expect((await store.getRun(run.id))?.counts).toEqual(counts);
    tick(5000);
    const analytics = { installed: ['pipeline_funnel'], skipped: [] };
    const done = await store.finishRun(run.id, 'succeeded', counts, [], analytics);
    expect(done).toMatchObject({ status: 'succeeded', finishedAt: '2026-03-01T10:00:05.000Z', analytics });
    // A cancel after the fact names no analytics: what the run recorded stays.
    const cancelled = await store.finishRun(run.id, 'cancelled', counts, [
      { code: 'cancelled', message: 'x' },
    ]);
    expect(cancelled).toMatchObject({ status: 'cancelled', analytics });

    tick(1000);
    const dry = await store.startRun(flow, 'test', true);
    expect(dry.dryRun).toBe(true);
    tick(1000);
    const left = await store.startRun(flow, 'schedule');
    expect((await store.lastRun(flow.id))?.id).toBe(left.id);
    expect(await store.failInterruptedRuns()).toBe(2);
    expect(await store.getRun(left.id)).toMatchObject({
      status: 'failed',
      finishedAt: '2026-03-01T10:00:07.000Z',
      errors: [{ code: 'interrupted', message: 'The server stopped while this run was going.' }],
    });
    expect(await store.failInterruptedRuns()).toBe(0);
    expect((await store.listRuns({ flowId: flow.id })).map((r) => r.id)).toEqual([left.id, dry.id, run.id]);
    expect((await store.listRuns({ limit: 1, offset: 1 })).map((r) => r.id)).toEqual([dry.id]);
    expect(await store.listRuns({ flowId: 'flow_other' })).toEqual([]);
    tick(1000);
    const newestDry = await store.startRun(flow, 'test', true);
    expect((await store.lastRun(flow.id))?.id).toBe(left.id);
    expect((await store.lastRun(flow.id, true))?.id).toBe(newestDry.id);
  });

  it('records a queued run: queued, taken by a worker, taken over, handed back, closed', async () => {
    const { store, tick } = await open();
    const flow = await store.createFlow(source('Queued'));
    const jobId = '4b0c1e8e-0000-4000-8000-000000000001';
    const queued = await store.queueRun(flow, 'manual', 'run_q1', jobId);
    expect(queued).toMatchObject({ id: 'run_q1', status: 'queued', worker: null, finishedAt: null });
    expect((await store.activeRun(flow.id))?.id).toBe('run_q1');
    expect(await store.openQueueRuns()).toEqual([
      { id: 'run_q1', flowId: flow.id, jobId, status: 'queued', cancelRequested: false },
    ]);

    // The first take starts the run's clock; a takeover after a dead worker keeps it.
    tick(3000);
    const first = await store.claimRun('run_q1', flow, 'manual', 'w1', jobId);
    expect(first).toMatchObject({ previousWorker: null, ended: false });
    expect(first.run).toMatchObject({
      status: 'running',
      worker: 'w1',
      startedAt: '2026-03-01T10:00:03.000Z',
    });
    tick(3000);
    const takeover = await store.claimRun('run_q1', flow, 'manual', 'w2', jobId);
    expect(takeover).toMatchObject({ previousWorker: 'w1', ended: false });
    expect(takeover.run).toMatchObject({ worker: 'w2', startedAt: '2026-03-01T10:00:03.000Z' });

    // The dead worker's hand-back changes nothing: the run is w2's now. w2's own puts it back in the queue.
    await store.requeueRun('run_q1', 'w1');
    expect(await store.getRun('run_q1')).toMatchObject({ status: 'running', worker: 'w2' });
    await store.requeueRun('run_q1', 'w2');
    expect(await store.getRun('run_q1')).toMatchObject({ status: 'queued', worker: null });

    // A queued run is the server's to leave alone when it restarts: only its own runs are failed.
    const local = await store.startRun(flow, 'test', true);
    expect(await store.failInterruptedRuns({ inProcessOnly: true })).toBe(1);
    expect((await store.getRun(local.id))?.status).toBe('failed');
    expect((await store.getRun('run_q1'))?.status).toBe('queued');

    // The queue's row written after a worker already took the job leaves the worker's row as it is.
    await store.claimRun('run_q1', flow, 'manual', 'w3', jobId);
    await store.queueRun(flow, 'manual', 'run_q1', jobId);
    expect(await store.getRun('run_q1')).toMatchObject({ status: 'running', worker: 'w3' });

    tick(1000);
    expect(await store.endOpenRun('run_q1', 'failed', [{ code: 'run_lost', message: 'gone' }])).toBe(true);
    expect(await store.endOpenRun('run_q1', 'cancelled', [])).toBe(false);
    expect(await store.getRun('run_q1')).toMatchObject({
      status: 'failed',
      finishedAt: '2026-03-01T10:00:07.000Z',
      errors: [{ code: 'run_lost', message: 'gone' }],
    });
    // An ended run is never taken again.
    const again = await store.claimRun('run_q1', flow, 'manual', 'w4', jobId);
    expect(again).toMatchObject({ ended: true, previousWorker: 'w3' });
    expect(again.run.status).toBe('failed');
    expect(await store.activeRun(flow.id)).toBeUndefined();
    expect(await store.openQueueRuns()).toEqual([]);
  });

  it('records a cancel asked for a run on a worker; the run is ended cancelled, never taken again', async () => {
    const { store, tick } = await open();
    const flow = await store.createFlow(source('Cancelled'));
    const jobId = '4b0c1e8e-0000-4000-8000-000000000002';
    await store.queueRun(flow, 'manual', 'run_c1', jobId);
    await store.claimRun('run_c1', flow, 'manual', 'w1', jobId);
    await store.updateRunCounts('run_c1', [
      { name: 'candidates', status: 'succeeded', read: 10, written: 10 },
      { name: 'applications', status: 'running', read: 4, written: 4 },
      { name: 'candidate.create', status: 'running', read: 0, written: 0, message: 'waiting for a push' },
    ]);
    expect(await store.cancelRequested('run_c1')).toBe(false);
    tick(1000);
    expect(await store.requestCancel('run_c1')).toBe(true);
    tick(1000);
    // Asked twice: the first time is kept.
    expect(await store.requestCancel('run_c1')).toBe(true);
    expect(await store.cancelRequested('run_c1')).toBe(true);
    const row = await store.db
      .selectFrom('flow_runs')
      .select('cancel_requested_at')
      .where('id', '=', 'run_c1')
      .executeTakeFirstOrThrow();
    expect(row.cancel_requested_at).toBe('2026-03-01T10:00:01.000Z');
    expect(await store.openQueueRuns()).toEqual([
      { id: 'run_c1', flowId: flow.id, jobId, status: 'running', cancelRequested: true },
    ]);
    // w1 died before it noticed: the worker that takes the job over ends the run instead of resuming it.
    tick(1000);
    const takeover = await store.claimRun('run_c1', flow, 'manual', 'w2', jobId);
    expect(takeover).toMatchObject({ ended: true, previousWorker: 'w1' });
    expect(takeover.run).toMatchObject({
      status: 'cancelled',
      worker: 'w1',
      finishedAt: '2026-03-01T10:00:03.000Z',
      errors: [],
      counts: [
        { name: 'candidates', status: 'succeeded', read: 10, written: 10 },
        { name: 'applications', status: 'cancelled', read: 4, written: 4 },
        { name: 'candidate.create', status: 'cancelled', read: 0, written: 0 },
      ],
    });
    // The waiting note was about a run that is over now: gone.
    expect(takeover.run.counts[2]).toEqual({
      name: 'candidate.create',
      status: 'cancelled',
      read: 0,
      written: 0,
    });
    expect(await store.endCancelledRun('run_c1')).toBe(false);
    expect(await store.requestCancel('run_c1')).toBe(false);
    expect(await store.openQueueRuns()).toEqual([]);
    expect(await store.requestCancel('run_missing')).toBe(false);
  });
});

describe('server store on PostgreSQL at rest', () => {
  const pg = controlDialects('the pg_dump canary scan').includes('postgres');
  it.runIf(pg)('a dump of the schema holds no session cookie, CSRF token or API token', async () => {
    const target = newControlTarget('postgres');
    const control = await openTarget(target);
    opened.push(control);
    const store = new ServerStore(control.db);
    const session = await store.createSession();
    const api = await store.createApiToken('ci');
    expect(await store.verifyApiToken(api.token)).toBe(api.info.id);
    const url = new URL(target.url ?? '');
    const schema = url.searchParams.get('schema') ?? '';
    url.searchParams.delete('schema');
    const dump = execFileSync('pg_dump', ['--data-only', '--schema', schema, url.toString()], {
      encoding: 'utf8',
    });
    expect(dump).toContain(hashToken(api.token));
    for (const secret of [session.token, session.csrfToken, api.token]) expect(dump).not.toContain(secret);
  });
});
