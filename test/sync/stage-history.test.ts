import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import type { Rec } from '../../src/sandbox/world.js';
import { selectStreams } from '../../src/streams/index.js';
import { type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { call } from '../sandbox/helpers.js';
import { worldRecords } from '../support/world-oracle.js';
import { DIALECTS, expectedRecords, liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

const STREAMS = selectStreams({ streams: ['applications', 'application_stage_history'] });
const HISTORY = STREAMS.find((s) => s.name === 'application_stage_history');
const fast = { limit: 6, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false };

function historyOf(summary: SyncSummary) {
  const s = summary.streams.find((r) => r.stream === 'application_stage_history');
  if (!s) throw new Error('no result for application_stage_history');
  return s;
}

/** Moves an application to the next stage of its plan through the API, as a recruiter would. */
async function advance(sandbox: Sandbox, app: Rec): Promise<void> {
  const current = app.currentInterviewStage as Rec;
  const stages = sandbox.world.stagesOfPlan(String(current.interviewPlanId));
  const next = stages.find((s) => s.type !== 'Archived' && s.id !== current.id);
  if (!next) throw new Error('no stage to move to');
  const answer = await call(sandbox, 'application.changeStage', {
    applicationId: app.id,
    interviewStageId: next.id,
  });
  expect(answer.body.success).toBe(true);
}

describe.each(DIALECTS)('application_stage_history into %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, seed: 11 });
    t = await makeTarget(dialect);
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });
  const run = (options: Partial<Parameters<typeof syncToTarget>[0]> = {}) =>
    syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
      retry: fast,
      ...options,
    });
  const check = async () => {
    if (!HISTORY) throw new Error('stream missing');
    await withSink(t.target, async (sink) => {
      expect(await liveRecords(sink, HISTORY.name)).toEqual(expectedRecords(sandbox, HISTORY));
    });
  };

  it('a first run reads every application history with application.listHistory', async () => {
    const summary = await run();
    expect(summary.exitCode).toBe(0);
    const h = historyOf(summary);
    const apps = worldRecords(sandbox.world, 'application').length;
    expect(h.mode).toBe('full');
    expect(h.requests).toBe(apps);
    expect(h.reason).toContain('with application.listHistory');
    await check();
  });

  it('an incremental run reads only the applications whose stage changed, one request each', async () => {
    const apps = worldRecords(sandbox.world, 'application').filter((a) => a.status === 'Active');
    const moved = apps.slice(0, 3);
    for (const app of moved) await advance(sandbox, app);
    const summary = await run();
    const h = historyOf(summary);
    expect(h.mode).toBe('incremental');
    expect(h.requests).toBe(3);
    expect(h.reason).toContain('read 3 changed applications');
    await check();
    // Each moved application's previous stage now has a leftStageAt and its new stage is open.
    await withSink(t.target, async (sink) => {
      const rows = await liveRecords(sink, 'application_stage_history');
      for (const app of moved) {
        const mine = rows.filter((r) => r.applicationId === app.id);
        expect(mine.filter((r) => r.leftStageAt === undefined)).toHaveLength(1);
        expect(mine.filter((r) => r.durationSeconds === null)).toHaveLength(1);
      }
    });
  });

  it('a run with nothing changed asks Ashby for no history at all', async () => {
    const h = historyOf(await run());
    expect(h.mode).toBe('incremental');
    expect(h.requests).toBe(0);
    await check();
  });

  it('--full-refresh reads every history again', async () => {
    const h = historyOf(await run({ fullRefresh: true }));
    expect(h.mode).toBe('full');
    expect(h.requests).toBe(worldRecords(sandbox.world, 'application').length);
    await check();
  });
});

describe('application_stage_history stopped half way', () => {
  let sandbox: Sandbox;
  let t: TestTarget;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 9 });
    t = await makeTarget('sqlite');
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('resumes after the last application it committed, and reads each application once overall', async () => {
    const apps = worldRecords(sandbox.world, 'application').length;
    const stop = new AbortController();
    const first = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
      retry: fast,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'page' && e.stream === 'application_stage_history' && e.pages === 5) stop.abort();
      },
    });
    expect(historyOf(first).status).toBe('aborted');
    sandbox.resetStats();
    const second = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
      retry: fast,
    });
    const h = historyOf(second);
    expect(h.status).toBe('ok');
    expect(h.reason).toContain('resumed the interrupted full pass');
    // The five committed applications are not read again.
    expect(sandbox.stats().requests['application.listHistory']).toBe(apps - 5);
    if (!HISTORY) throw new Error('stream missing');
    await withSink(t.target, async (sink) => {
      expect(await liveRecords(sink, HISTORY.name)).toEqual(expectedRecords(sandbox, HISTORY));
    });
  });
});

describe('application_stage_history where application.listHistory is not served', () => {
  let sandbox: Sandbox;
  let t: TestTarget;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 5, unservedEndpoints: ['application.listHistory'] });
    t = await makeTarget('sqlite');
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('falls back to application.info and says so', async () => {
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
      retry: fast,
    });
    expect(summary.streams.filter((s) => s.status !== 'ok')).toEqual([]);
    expect(summary.exitCode).toBe(0);
    const h = historyOf(summary);
    const apps = worldRecords(sandbox.world, 'application').length;
    expect(h.reason).toContain('with application.info');
    // One refused listHistory, then one application.info per application.
    expect(sandbox.stats().requests['application.listHistory']).toBe(1);
    expect(sandbox.stats().requests['application.info']).toBe(apps);
    expect(h.requests).toBe(apps + 1);
    if (!HISTORY) throw new Error('stream missing');
    await withSink(t.target, async (sink) => {
      expect(await liveRecords(sink, HISTORY.name)).toEqual(expectedRecords(sandbox, HISTORY));
    });
  });
});
