/**
 * Webhook-applied changes add history versions too: a stage change delivered by the sandbox's webhook
 * becomes a version, a candidateDelete closes the candidate's current version as deleted; a stream whose
 * history is off gets none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import {
  type Inbox,
  inboxFor,
  type RunningReceiver,
  startReceiver,
  WebhookApplier,
} from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { until } from '../webhooks/rig.js';
import { query, readHistory } from './support.js';

type R = Record<string, unknown> & { id: string };
const SECRET = 'whsec-history-0123456789';
const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(DIALECTS)('history from webhooks on %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  let sink: Sink;
  let inbox: Inbox;
  let receiver: RunningReceiver;
  let applier: WebhookApplier;

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, seed: 23, webhookRetryBaseMs: 5 });
    t = await makeTarget(dialect);
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: selectStreams({ streams: ['candidates', 'applications', 'jobs'] }),
      // jobs stay without history: their webhook writes add no versions.
      history: ['candidates', 'applications'],
    });
    expect(summary.exitCode).toBe(0);
    sink = openSink(t.target);
    await sink.open();
    inbox = inboxFor(t.target);
    await inbox.open();
    const client = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url });
    applier = new WebhookApplier({ inbox, sink, client, pollMs: 50 });
    receiver = await startReceiver({ inbox, secret: SECRET, port: 0, onStored: () => applier.kick() });
    applier.start();
    for (const webhookType of ['candidateStageChange', 'candidateDelete']) {
      const hook = await call(sandbox, 'webhook.create', {
        webhookType,
        requestUrl: receiver.url,
        secretToken: SECRET,
      });
      expect(hook.body.success).toBe(true);
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await applier?.stop();
    await inbox?.close();
    await sink?.close();
    await sandbox?.close();
    await t?.cleanup();
  });

  it('a stage change is a new version; a deleted candidate closes its version as deleted', async () => {
    const apps = expectedStreamRecords(sandbox, 'applications') as R[];
    const active = apps.find((a) => a.status === 'Active') as R;
    const stage = active.currentInterviewStage as R;
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const next = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
    const changed = await call(sandbox, 'application.changeStage', {
      applicationId: active.id,
      interviewStageId: next.id,
    });
    expect(changed.body.success).toBe(true);
    const changedAt = (changed.body.results as R).updatedAt;
    const candidates = expectedStreamRecords(sandbox, 'candidates') as R[];
    const gone = candidates.at(-1) as R;
    sandbox.world.delete(gone.id);

    await until(
      async () => (await inbox.stats('1970-01-01T00:00:00.000Z')).applied >= 2,
      'two applied events',
    );

    const apph = await readHistory(t.target, 'applications');
    const versions = apph.get(active.id) ?? [];
    expect(
      versions.map((v) => [(v.raw.currentInterviewStage as R).id, v.validFrom, v.validTo, v.isCurrent]),
    ).toEqual([
      [stage.id, active.updatedAt, changedAt, false],
      [next.id, changedAt, null, true],
    ]);
    const candh = await readHistory(t.target, 'candidates');
    const [row] = await query(t.target, 'SELECT "_ashpipe_deleted_at" AS d FROM candidates WHERE id = $1', [
      gone.id,
    ]);
    const deletedAt = new Date(row?.d instanceof Date ? row.d : String(row?.d)).toISOString();
    expect(candh.get(gone.id)?.map((v) => [v.validFrom, v.validTo, v.isCurrent, v.deleted])).toEqual([
      [gone.updatedAt, deletedAt, false, true],
    ]);
    // Nothing else moved.
    expect([...apph.values()].filter((l) => l.length > 1)).toHaveLength(1);
    expect([...candh.values()].filter((l) => l.length > 1 || l[0]?.deleted)).toHaveLength(1);
    // jobs keep no history.
    const tables = await query(
      t.target,
      dialect === 'sqlite'
        ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs_history'"
        : "SELECT table_name FROM information_schema.tables WHERE table_name = 'jobs_history' AND table_schema = current_schema()",
    );
    expect(tables).toEqual([]);
  }, 60_000);
});
