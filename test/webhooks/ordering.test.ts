import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { findStream, type ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { type Inbox, inboxFor, receiveDelivery, signBody, WebhookApplier } from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

type R = Record<string, unknown> & { id: string };
const SECRET = 'whsec-order';

/** Collects the bodies the sandbox delivers, answering 200. */
async function collector(): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      // The ping that follows webhook.create is not one of the changes.
      if ((JSON.parse(text) as { action?: string }).action !== 'ping') bodies.push(text);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

describe('webhook ordering', () => {
  let sandbox: Sandbox;
  let dir: string;
  let sink: Sink;
  let inbox: Inbox;
  let got: Awaited<ReturnType<typeof collector>>;

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 3, webhookRetryBaseMs: 5 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-order-'));
    const target = `sqlite:${path.join(dir, 'order.db')}`;
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target,
      streams: [findStream('applications') as ResolvedStream],
    });
    expect(summary.exitCode).toBe(0);
    sink = openSink(target);
    await sink.open();
    inbox = inboxFor(target);
    await inbox.open();
    got = await collector();
  });
  afterAll(async () => {
    got?.server.close();
    await inbox?.close();
    await sink?.close();
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('1,000 stage changes delivered in shuffled order leave every application as the sandbox has it', async () => {
    await call(sandbox, 'webhook.create', {
      webhookType: 'candidateStageChange',
      requestUrl: got.url,
      secretToken: SECRET,
    });
    const apps = (expectedStreamRecords(sandbox, 'applications') as R[])
      .filter((a) => a.status === 'Active')
      .slice(0, 20);
    const plans = new Map<string, R[]>();
    for (const app of apps) {
      const planId = String((app.currentInterviewStage as R).interviewPlanId);
      if (!plans.has(planId)) {
        const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: planId })).body
          .results as R[];
        plans.set(
          planId,
          stages.filter((s) => s.type === 'Active'),
        );
      }
    }
    // 50 changes per application, the applications side by side.
    await Promise.all(
      apps.map(async (app, a) => {
        const stages = plans.get(String((app.currentInterviewStage as R).interviewPlanId)) as R[];
        for (let i = 0; i < 50; i++) {
          const stage = stages[(i * 7 + a) % stages.length] as R;
          const r = await call(sandbox, 'application.changeStage', {
            applicationId: app.id,
            interviewStageId: stage.id,
          });
          expect(r.body.success).toBe(true);
        }
      }),
    );
    // A delivery the sandbox timed out on is sent again (same webhookActionId): count distinct events.
    const distinct = () => new Set(got.bodies.map((b) => JSON.parse(b).webhookActionId as string)).size;
    const deadline = Date.now() + 90_000;
    while (distinct() < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(distinct()).toBe(1000);

    const client = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url });
    // Small batches, so versions meet in many orders across batches as well as inside them.
    const applier = new WebhookApplier({ inbox, sink, client, batchSize: 37 });
    for (const body of shuffle([...got.bodies], 9)) {
      const answer = await receiveDelivery(
        { raw: Buffer.from(body), contentType: 'application/json', signature: signBody(body, SECRET) },
        { inbox, secret: SECRET },
      );
      expect(answer.status).toBe(200);
    }
    expect(await applier.drain()).toBe(1000);
    const world = new Map((expectedStreamRecords(sandbox, 'applications') as R[]).map((a) => [a.id, a]));
    const rows = await sink.readRows('applications');
    const changed = new Set(apps.map((a) => a.id));
    const stored = rows.map((r) => JSON.parse(String(r._ashpipe_raw)) as R).filter((r) => changed.has(r.id));
    expect(stored).toHaveLength(apps.length);
    for (const rec of stored) expect(rec, rec.id).toEqual(world.get(rec.id));
    // About 13 s on a quiet machine; the sandbox's 1,000 writes take several times that on a loaded one.
  }, 180_000);
});
