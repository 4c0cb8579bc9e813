import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { findStream, type ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import {
  type Inbox,
  type InfoCaller,
  inboxFor,
  receiveDelivery,
  signBody,
  WebhookApplier,
} from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { DIALECTS, liveRecords, makeTarget, type TestTarget } from '../sync/helpers.js';

type R = Record<string, unknown> & { id: string };
const SECRET = 'whsec-ties-0123456789';

/** Deterministic shuffle (mulberry32), so a failing order can be replayed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe.each(DIALECTS.filter((d) => d !== 'jsonl'))(
  'two versions with the same updatedAt on %s',
  (dialect) => {
    let sandbox: Sandbox;
    let t: TestTarget;
    let sink: Sink;
    let inbox: Inbox;
    let app: R;
    let versions: R[];
    const infoCalls: string[] = [];

    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 10, seed: 17 });
      t = await makeTarget(dialect);
      const summary = await syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target: t.target,
        streams: [findStream('applications') as ResolvedStream],
      });
      expect(summary.exitCode).toBe(0);
      sink = openSink(t.target);
      await sink.open();
      inbox = inboxFor(t.target);
      await inbox.open();
      // The application as it is now, and two other versions stamped with the very same millisecond:
      // which is newest cannot be told from the records.
      app = (expectedStreamRecords(sandbox, 'applications') as R[]).find((a) => a.status === 'Active') as R;
      const stage = app.currentInterviewStage as R;
      const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
        .body.results as R[];
      const others = stages.filter((s) => s.id !== stage.id).slice(0, 2);
      expect(others).toHaveLength(2);
      versions = [app, ...others.map((s) => ({ ...app, currentInterviewStage: s }))];
    });
    afterAll(async () => {
      await inbox?.close();
      await sink?.close();
      await sandbox?.close();
      await t?.cleanup();
    });

    it('settle on the record as Ashby has it, whatever the order and the batches', async () => {
      const real = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url });
      const client: InfoCaller = {
        call: (endpoint, body) => {
          infoCalls.push(endpoint);
          return real.call(endpoint, body);
        },
      };
      let n = 0;
      for (let seed = 1; seed <= 12; seed++) {
        // Each version twice (a version delivered again by another event), in a shuffled order.
        const deliveries = shuffle([...versions, ...versions], seed);
        for (const version of deliveries) {
          n += 1;
          const body = JSON.stringify({
            webhookActionId: `tie-${dialect}-${n}`,
            action: 'applicationUpdate',
            data: { application: version },
          });
          const answer = await receiveDelivery(
            { raw: Buffer.from(body), contentType: 'application/json', signature: signBody(body, SECRET) },
            { inbox, secret: SECRET },
          );
          expect(answer.status).toBe(200);
        }
        // Batches of 1 to 4: the versions meet inside a batch and against the stored row.
        const applier = new WebhookApplier({ inbox, sink, client, batchSize: 1 + (seed % 4) });
        expect(await applier.drain()).toBe(deliveries.length);
        const row = (await liveRecords(sink, 'applications')).find((r) => r.id === app.id);
        expect(row, `seed ${seed}`).toEqual(app);
      }
      // Settled by asking Ashby, not by arrival order.
      expect(infoCalls.length).toBeGreaterThan(0);
      expect(new Set(infoCalls)).toEqual(new Set(['application.info']));
      expect(await liveRecords(sink, 'applications')).toEqual(expectedStreamRecords(sandbox, 'applications'));
    }, 60_000);
  },
);
