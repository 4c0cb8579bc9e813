import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/server/scheduler.js';
import { Logger } from '../../src/util/logger.js';
import { type Harness, harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

/** A flow on an hourly schedule that was activated `hoursAgo` hours ago and never ran. */
async function hourlyFlow(hoursAgo: number) {
  h = await harness();
  const cred = await h.deps.services.credentials.add({ name: 'prod', apiKey: 'full-key-12345678' });
  const flow = await h.deps.store.createFlow({
    kind: 'source',
    name: 'Hourly',
    credentialId: cred.id,
    schedule: '0 * * * *',
    streams: [],
    target: { type: 'sqlite', path: 'x.db' },
    options: {},
  });
  await h.deps.store.setFlowStatus(flow.id, 'active');
  const activatedAt = new Date(Date.now() - hoursAgo * 3600_000).toISOString();
  h.control.db.prepare('UPDATE flows SET activated_at = ? WHERE id = ?').run(activatedAt, flow.id);
  return flow;
}

describe('scheduler', () => {
  it('runs a flow once at startup when slots were missed while stopped, however many', async () => {
    const flow = await hourlyFlow(5);
    const scheduler = new Scheduler(h.deps.store, h.deps.services, new Logger({}));
    await scheduler.start();
    const runs = await h.deps.store.listRuns({ flowId: flow.id });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: 'startup', status: 'running' });
    h.engine.finish();
    await scheduler.stop();
    expect(await h.deps.store.listRuns({ flowId: flow.id })).toHaveLength(1);
  });

  it('does not catch up when the policy is skip, and not when no slot passed', async () => {
    const flow = await hourlyFlow(5);
    const skip = new Scheduler(h.deps.store, h.deps.services, new Logger({}), { missedRuns: 'skip' });
    await skip.start();
    expect(await h.deps.store.listRuns({ flowId: flow.id })).toHaveLength(0);
    await skip.stop();
    // A run just now: no slot passed since it.
    h.control.db
      .prepare(
        "INSERT INTO flow_runs (id, flow_id, kind, trigger, status, started_at) VALUES ('run_1', ?, 'source', 'manual', 'succeeded', ?)",
      )
      .run(flow.id, new Date().toISOString());
    const once = new Scheduler(h.deps.store, h.deps.services, new Logger({}));
    await once.start();
    expect(await h.deps.store.listRuns({ flowId: flow.id })).toHaveLength(1);
    await once.stop();
  });

  it('marks runs a stopped process left running as failed (interrupted)', async () => {
    const flow = await hourlyFlow(0);
    h.control.db
      .prepare(
        "INSERT INTO flow_runs (id, flow_id, kind, trigger, status, started_at) VALUES ('run_old', ?, 'source', 'manual', 'running', ?)",
      )
      .run(flow.id, new Date().toISOString());
    const scheduler = new Scheduler(h.deps.store, h.deps.services, new Logger({}), { missedRuns: 'skip' });
    await scheduler.start();
    expect(await h.deps.store.getRun('run_old')).toMatchObject({
      status: 'failed',
      errors: [{ code: 'interrupted' }],
    });
    await scheduler.stop();
  });

  it('skips a scheduled slot while the previous run is still going', async () => {
    const flow = await hourlyFlow(0);
    const scheduler = new Scheduler(h.deps.store, h.deps.services, new Logger({}), { missedRuns: 'skip' });
    await scheduler.start();
    await scheduler.trigger(flow.id, 'manual');
    await expect(scheduler.trigger(flow.id, 'schedule')).rejects.toThrow(/already running/);
    h.engine.finish();
    await scheduler.stop();
    expect(await h.deps.store.listRuns({ flowId: flow.id })).toHaveLength(1);
  });

  it('starts one run when two triggers of a flow come at once', async () => {
    const flow = await hourlyFlow(0);
    const scheduler = new Scheduler(h.deps.store, h.deps.services, new Logger({}), { missedRuns: 'skip' });
    await scheduler.start();
    const outcomes = await Promise.allSettled([
      scheduler.trigger(flow.id, 'manual'),
      scheduler.trigger(flow.id, 'schedule'),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    h.engine.finish();
    await scheduler.stop();
    expect(await h.deps.store.listRuns({ flowId: flow.id })).toHaveLength(1);
  });
});
