import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { Sink } from '../../src/sinks/index.js';
import { findStream, type ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { type Inbox, type RunningReceiver, signBody } from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { DIALECTS, type TestTarget } from '../sync/helpers.js';
import { startWebhookRig, until, type WebhookRig } from './rig.js';

type R = Record<string, unknown> & { id: string };
const SECRET = 'whsec-test-0123456789';
const STREAMS = ['candidates', 'applications', 'jobs', 'offers'].map((n) => findStream(n) as ResolvedStream);
const TYPES = ['applicationSubmit', 'candidateStageChange', 'candidateDelete', 'candidateMerge'];

/** Every row of a stream as stored: raw record, deletion and merge, by id. */
async function rowsOf(sink: Sink, stream: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = await sink.readRows(stream);
  return new Map(
    rows.map((r) => {
      const raw = JSON.parse(String(r._ashpipe_raw)) as R;
      return [
        raw.id,
        { raw, deleted: r._ashpipe_deleted_at != null, mergedInto: r._ashpipe_merged_into ?? null },
      ];
    }),
  );
}

describe.each(DIALECTS)('webhooks end to end on %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  let sink: Sink;
  let inbox: Inbox;
  let receiver: RunningReceiver;

  let rig: WebhookRig | undefined;
  beforeAll(async () => {
    rig = await startWebhookRig({
      dialect,
      secret: SECRET,
      scale: 30,
      seed: 11,
      streams: STREAMS,
      types: TYPES,
      copies: ['a', 'b'],
    });
    ({ sandbox, t, sink, inbox, receiver } = rig);
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('applies create, stage change, delete and merge once each; the next incremental sync changes nothing', async () => {
    const world = sandbox.world;
    const apps = expectedStreamRecords(sandbox, 'applications') as R[];
    const active = apps.find((a) => a.status === 'Active') as R;
    const stage = active.currentInterviewStage as R;
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const target = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
    const candidates = expectedStreamRecords(sandbox, 'candidates') as R[];
    const jobs = (expectedStreamRecords(sandbox, 'jobs') as R[]).filter((j) => j.status === 'Open');
    const [deleted, mergedAway, survivor, applicant] = candidates.slice(-4) as [R, R, R, R];

    expect(
      (
        await call(sandbox, 'application.changeStage', {
          applicationId: active.id,
          interviewStageId: target.id,
        })
      ).body.success,
    ).toBe(true);
    const created = await call(sandbox, 'application.create', {
      candidateId: applicant.id,
      jobId: (jobs[0] as R).id,
    });
    expect(created.body.success).toBe(true);
    const newApp = created.body.results as R;
    world.delete(deleted.id);
    world.delete(mergedAway.id, survivor.id);

    // Four events, each delivered to two webhooks.
    await until(
      async () => (await inbox.stats('1970-01-01T00:00:00.000Z')).applied >= 4,
      'four applied events',
    );
    await until(
      async () => sandbox.webhookDeliveries().filter((d) => d.status === 200).length >= 8,
      'eight deliveries',
    );
    const stats = await inbox.stats('1970-01-01T00:00:00.000Z');
    expect({ applied: stats.applied, pending: stats.pending, parked: stats.parked }).toEqual({
      applied: 4,
      pending: 0,
      parked: 0,
    });

    // Replaying every stored delivery three more times, signed, stores nothing new.
    for (const event of await inbox.list('applied')) {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(receiver.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'ashby-signature': signBody(event.body, SECRET) },
          body: event.body,
        });
        expect(await res.json()).toEqual({ ok: true, duplicate: true });
      }
    }
    expect((await inbox.stats('1970-01-01T00:00:00.000Z')).applied).toBe(4);

    const appRows = await rowsOf(sink, 'applications');
    const candRows = await rowsOf(sink, 'candidates');
    const worldApps = new Map((expectedStreamRecords(sandbox, 'applications') as R[]).map((a) => [a.id, a]));
    expect(appRows.get(active.id)?.raw).toEqual(worldApps.get(active.id));
    expect((appRows.get(active.id)?.raw as R | undefined)?.currentInterviewStage).toMatchObject({
      id: target.id,
    });
    expect(appRows.get(newApp.id)?.raw).toEqual(worldApps.get(newApp.id));
    expect(candRows.get(deleted.id)).toMatchObject({ deleted: true, mergedInto: null });
    expect(candRows.get(mergedAway.id)).toMatchObject({ deleted: true, mergedInto: survivor.id });
    const worldCands = new Map((expectedStreamRecords(sandbox, 'candidates') as R[]).map((c) => [c.id, c]));
    expect(candRows.get(survivor.id)).toEqual({
      raw: worldCands.get(survivor.id),
      deleted: false,
      mergedInto: null,
    });

    // The sync's state was not touched: the next run is incremental and leaves every row as it is.
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
    });
    expect(summary.exitCode).toBe(0);
    expect(await rowsOf(sink, 'applications')).toEqual(appRows);
    // Ashby sends no event for a candidate's own changes: the new application's candidate (its
    // applicationIds) is the one row only the sync brings up to date.
    const after = await rowsOf(sink, 'candidates');
    const changed = [...after].filter(
      ([id, row]) => JSON.stringify(row) !== JSON.stringify(candRows.get(id)),
    );
    expect(changed.map(([id]) => id)).toEqual([applicant.id]);
  });
});
