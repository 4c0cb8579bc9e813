import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { Sink } from '../../src/sinks/index.js';
import { findStream, type ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { type Inbox, type RunningReceiver, signBody } from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { DIALECTS, deletedIds, liveRecords, type TestTarget } from '../sync/helpers.js';
import { startWebhookRig, until, type WebhookRig } from './rig.js';

type R = Record<string, unknown> & { id: string };
const SECRET = 'whsec-actions-0123456789';
const STREAMS = ['jobs', 'job_postings', 'applications'].map((n) => findStream(n) as ResolvedStream);

describe.each(DIALECTS)('job posting and interview plan events on %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  let sink: Sink;
  let inbox: Inbox;
  let receiver: RunningReceiver;
  const applied = async () => (await inbox.stats('1970-01-01T00:00:00.000Z')).applied;
  const deliver = async (payload: unknown) => {
    const body = JSON.stringify(payload);
    const res = await fetch(receiver.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ashby-signature': signBody(body, SECRET) },
      body,
    });
    expect(await res.json()).toEqual({ ok: true });
  };

  let rig: WebhookRig | undefined;
  beforeAll(async () => {
    rig = await startWebhookRig({
      dialect,
      secret: SECRET,
      scale: 20,
      seed: 21,
      streams: STREAMS,
      types: ['jobPostingPublish', 'jobPostingUnpublish'],
    });
    ({ sandbox, t, sink, inbox, receiver } = rig);
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('unpublishing and publishing again: postings leave the table and come back as the list shows them', async () => {
    const jobs = expectedStreamRecords(sandbox, 'jobs') as R[];
    const postings = expectedStreamRecords(sandbox, 'job_postings') as R[];
    const job = jobs.find((j) => j.status === 'Open' && postings.some((p) => p.jobId === j.id)) as R;
    const ids = postings.filter((p) => p.jobId === job.id).map((p) => p.id);
    expect(ids.length).toBeGreaterThan(0);
    const before = await applied();

    // Closing the job unpublishes its postings: one event each.
    expect((await call(sandbox, 'job.setStatus', { jobId: job.id, status: 'Closed' })).body.success).toBe(
      true,
    );
    await until(async () => (await applied()) === before + ids.length, 'the unpublish events');
    expect((await deletedIds(sink, 'job_postings')).sort()).toEqual([...ids].sort());
    expect(await liveRecords(sink, 'job_postings')).toEqual(expectedStreamRecords(sandbox, 'job_postings'));

    // Draft, then open again: published again, the soft-deleted rows come back.
    for (const status of ['Draft', 'Open'])
      expect((await call(sandbox, 'job.setStatus', { jobId: job.id, status })).body.success).toBe(true);
    await until(async () => (await applied()) === before + 2 * ids.length, 'the publish events');
    expect(await deletedIds(sink, 'job_postings')).toEqual([]);
    expect(await liveRecords(sink, 'job_postings')).toEqual(expectedStreamRecords(sandbox, 'job_postings'));
  });

  it('a posting update whose payload has another shape stores the list record', async () => {
    const posting = (expectedStreamRecords(sandbox, 'job_postings') as R[])[0] as R;
    const before = await applied();
    // The payload as `jobPosting.info` shapes it: a description the list does not carry.
    await deliver({
      webhookActionId: 'posting-update-1',
      action: 'jobPostingUpdate',
      data: { jobPosting: { ...posting, descriptionHtml: '<p>more</p>', title: 'Changed in the payload' } },
    });
    await until(async () => (await applied()) === before + 1, 'the update');
    const row = (await liveRecords(sink, 'job_postings')).find((r) => r.id === posting.id);
    expect(row).toEqual(posting);
  });

  it('an interview plan transition re-reads the job and its applications', async () => {
    const apps = expectedStreamRecords(sandbox, 'applications') as R[];
    const app = apps.find((a) => a.status === 'Active') as R;
    const jobId = String((app.job as R).id);
    // Changes Ashby sends no subscribed event for here: only the transition brings them in.
    expect((await call(sandbox, 'job.update', { jobId, title: 'Renamed with its plan' })).body.success).toBe(
      true,
    );
    const stage = app.currentInterviewStage as R;
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const next = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
    expect(
      (await call(sandbox, 'application.changeStage', { applicationId: app.id, interviewStageId: next.id }))
        .body.success,
    ).toBe(true);
    const before = await applied();
    await deliver({
      webhookActionId: 'plan-transition-1',
      action: 'interviewPlanTransition',
      data: {
        jobId,
        fromInterviewPlan: { id: stage.interviewPlanId },
        toInterviewPlan: { id: stage.interviewPlanId },
        interviewStageMappings: [],
      },
    });
    await until(async () => (await applied()) === before + 1, 'the transition');
    const job = (await liveRecords(sink, 'jobs')).find((j) => j.id === jobId);
    expect(job?.title).toBe('Renamed with its plan');
    expect(job).toEqual((expectedStreamRecords(sandbox, 'jobs') as R[]).find((j) => j.id === jobId));
    const row = (await liveRecords(sink, 'applications')).find((a) => a.id === app.id);
    expect(row?.currentInterviewStage).toMatchObject({ id: next.id });
    expect(await liveRecords(sink, 'applications')).toEqual(expectedStreamRecords(sandbox, 'applications'));
    // (The other rows these changes touch — the jobs closed and opened above, the renamed job's postings —
    // have events of their own, not subscribed here: the sync below brings them up to date.)

    // The sync's state was not touched: its next run leaves the webhook rows as they are.
    const snapshot = await liveRecords(sink, 'applications');
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: STREAMS,
    });
    expect(summary.exitCode).toBe(0);
    expect(await liveRecords(sink, 'applications')).toEqual(snapshot);
    expect(await liveRecords(sink, 'jobs')).toEqual(expectedStreamRecords(sandbox, 'jobs'));
  });
});
