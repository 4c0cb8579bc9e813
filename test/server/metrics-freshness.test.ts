/**
 * The freshness gauges of `GET /metrics` read the control store at scrape time, through the typed query
 * layer: the same answers on SQLite and PostgreSQL, from runs written straight into the tables.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

/** The value of the series `name{labels}` in exposition text, or `undefined`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (wanted.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

describe.each(controlDialects('GET /metrics on PostgreSQL'))('metrics freshness on %s', (dialect) => {
  it('seconds since the last success of each flow and stream, dry and failed runs left out', async () => {
    const control = await openTarget(newControlTarget(dialect));
    opened.push(control);
    const now = new Date().toISOString();
    const flow = (id: string, name: string) => ({
      id,
      name,
      kind: 'source' as const,
      credential_id: 'cred_1',
      schedule: null,
      config: '{}',
      created_at: now,
      updated_at: now,
      activated_at: null,
    });
    await control.db
      .insertInto('flows')
      .values([flow('f1', 'Nightly'), flow('f2', 'Never')])
      .execute();
    const counts = (streams: Record<string, string>) =>
      JSON.stringify(
        Object.entries(streams).map(([name, status]) => ({ name, status, read: 1, written: 1 })),
      );
    const run = (
      id: string,
      flowId: string,
      status: string,
      finishedAgo: number,
      streams: Record<string, string>,
      dry = 0,
    ) => ({
      id,
      flow_id: flowId,
      kind: 'source' as const,
      trigger: 'manual',
      status,
      started_at: ago(finishedAgo + 10),
      finished_at: ago(finishedAgo),
      counts: counts(streams),
      dry_run: dry,
    });
    await control.db
      .insertInto('flow_runs')
      .values([
        run('r1', 'f1', 'succeeded', 7200, { candidates: 'succeeded', jobs: 'succeeded' }),
        run('r2', 'f1', 'partial', 3600, { candidates: 'succeeded', jobs: 'failed' }),
        run('r3', 'f1', 'failed', 60, { candidates: 'failed', jobs: 'failed' }),
        run('r4', 'f1', 'succeeded', 30, { candidates: 'succeeded', jobs: 'succeeded' }, 1),
        run('r5', 'f2', 'failed', 10, { candidates: 'failed' }),
      ])
      .execute();
    const text = await new ServerMetrics(control.db).text();
    // By hand: the flow's last success is r1 (r2 partial, r3 failed, r4 dry); candidates last succeeded in
    // r2, jobs in r1; the flow that never succeeded is absent.
    const near = (value: number | undefined, expected: number) => {
      expect(value).toBeDefined();
      expect(Math.abs((value ?? 0) - expected)).toBeLessThan(30);
    };
    near(sample(text, 'ashpipe_flow_seconds_since_last_success', { flow_id: 'f1' }), 7200);
    expect(sample(text, 'ashpipe_flow_seconds_since_last_success', { flow_id: 'f2' })).toBeUndefined();
    const stream = (name: string) =>
      sample(text, 'ashpipe_stream_seconds_since_last_success', { flow_id: 'f1', stream: name });
    near(stream('candidates'), 3600);
    near(stream('jobs'), 7200);
    expect(sample(text, 'ashpipe_stream_seconds_since_last_success', { flow_id: 'f2' })).toBeUndefined();
  });
});
