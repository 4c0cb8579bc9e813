import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSink } from '../../src/sinks/index.js';
import { signBody } from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { asJson, type Harness, harness, type Json, signedInHeaders } from '../server/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

type R = Record<string, unknown> & { id: string };

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + 20_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a source flow's webhooks over REST", () => {
  let sandbox: Sandbox;
  let h: Harness;
  let hub: WebhookHub;
  let server: Server;
  let origin: string;
  let headers: Record<string, string>;
  let credentialId: string;
  let flowId: string;
  let jsonlFlowId: string;
  let file: string;
  let jsonlDir: string;
  let secret: string;

  const api = async (method: string, p: string, body?: unknown): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${origin}/api/v1${p}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: await res.json().then(asJson) };
  };
  const deliver = (id: string, body: string, key: string) =>
    fetch(`${origin}/webhooks/ashby/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ashby-signature': signBody(body, key) },
      body,
    });
  const status = async (id = flowId) => (await api('GET', `/flows/${id}/webhooks`)).json;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, scale: 10, seed: 5, webhookRetryBaseMs: 5 });
    h = await harness({ baseUrl: sandbox.url, realSource: true });
    // One attempt before an event is parked: the parked list is reached without waiting for backoff.
    hub = new WebhookHub(h.deps, { applier: { maxAttempts: 1, pollMs: 50 } });
    const app = createApp(h.deps, { webhookHub: hub });
    server = createServer(getRequestListener(app.fetch));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    headers = await signedInHeaders(h);
    credentialId = (await api('POST', '/credentials', { name: 'hooks', apiKey: 'sandbox-full' })).json
      .credential.id;
    file = path.join(h.data, 'rest.db');
    jsonlDir = path.join(h.data, 'rest-jsonl');
    const flow = async (name: string, target: unknown) =>
      (
        await api('POST', '/flows', {
          kind: 'source',
          name,
          credentialId,
          streams: ['applications'],
          target,
        })
      ).json.flow.id as string;
    flowId = await flow('Hooks', { type: 'sqlite', path: file });
    jsonlFlowId = await flow('Hooks JSONL', { type: 'jsonl', path: jsonlDir });
  });
  afterAll(async () => {
    await hub?.close();
    await new Promise((r) => server?.close(r));
    await h?.close();
    await sandbox?.close();
  });

  it('is off by default: a delivery is refused with 410 (Ashby does not retry it) and nothing is stored', async () => {
    expect(await status()).toEqual({
      enabled: false,
      path: `/webhooks/ashby/${flowId}`,
      secretStored: false,
      installed: [],
      eventTypes: expect.arrayContaining(['applicationUpdate', 'candidateMerge']),
      stats: null,
    });
    const body = JSON.stringify({ webhookActionId: 'off-1', action: 'applicationUpdate', data: {} });
    const res = await deliver(flowId, body, 'anything');
    expect(res.status).toBe(410);
    expect((await res.json().then(asJson)).error.code).toBe('webhooks_disabled');
    expect(fs.existsSync(file)).toBe(false);
    expect((await deliver('flow_nope', body, 'anything')).status).toBe(404);
  });

  it('turned on and installed through the credential: one webhook per event type, the secret shown once and never listed; the ping and a change are applied', async () => {
    const on = await api('PUT', `/flows/${flowId}/webhooks`, { enabled: true });
    expect(on.status).toBe(200);
    expect(on.json).toMatchObject({ enabled: true, secretStored: false, stats: { applied: 0, parked: 0 } });

    const url = `${origin}/webhooks/ashby/${flowId}`;
    const events = ['candidateStageChange', 'jobCreate'];
    const installed = await api('POST', `/flows/${flowId}/webhooks/install`, { url, events });
    expect(installed.status).toBe(201);
    secret = installed.json.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(installed.json.status.secretStored).toBe(true);
    const hooks = sandbox.world.allOf('webhook');
    expect(hooks.map((w) => w.webhookType).sort()).toEqual([...events].sort());
    expect(hooks.every((w) => w.requestUrl === url && w.secretToken === secret)).toBe(true);
    expect(installed.json.status.installed.map((w: Json) => [w.webhookId, w.webhookType]).sort()).toEqual(
      hooks.map((w) => [w.id, w.webhookType]).sort(),
    );

    // Once: the status, the credentials list and the server log never show it again.
    const credentials = await api('GET', '/credentials');
    expect(credentials.json.credentials.map((c: Json) => c.name)).toEqual(['hooks']);
    expect(JSON.stringify(credentials.json)).not.toContain(secret);
    expect(JSON.stringify(await status())).not.toContain(secret);
    expect(h.logLines.join('\n')).not.toContain(secret);
    // A credential cannot take a webhook secret's name (it would vanish from the list).
    expect(
      (await api('POST', '/credentials', { name: 'x:webhook-secret', apiKey: 'sandbox-full' })).status,
    ).toBe(422);

    // Ashby pings each new webhook; then a stage change made in Ashby arrives and is applied.
    await until(status, (s) => s.stats.lastPingAt !== null, 'the ping');
    const apps = expectedStreamRecords(sandbox, 'applications') as R[];
    const active = apps.find((a) => a.status === 'Active') as R;
    const stage = active.currentInterviewStage as R;
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const next = stages.find((s) => s.type === 'Active' && s.id !== stage.id) as R;
    const moved = await call(sandbox, 'application.changeStage', {
      applicationId: active.id,
      interviewStageId: next.id,
    });
    expect(moved.body.success).toBe(true);
    const s = await until(status, (v) => v.stats.applied === 1, 'the stage change applied');
    expect(s.stats).toMatchObject({ eventsToday: 1, pending: 0, parked: 0 });
    expect(s.stats.lagP50Ms).toBeGreaterThanOrEqual(0);
    expect(s.stats.lagP95Ms).toBeGreaterThanOrEqual(s.stats.lagP50Ms);

    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      const rows = (await sink.readRows('applications')).map((r) => JSON.parse(String(r._ashpipe_raw)));
      const world = (expectedStreamRecords(sandbox, 'applications') as R[]).find((a) => a.id === active.id);
      expect(rows).toEqual([world]);
      expect(rows[0].currentInterviewStage.id).toBe(next.id);
    } finally {
      await sink.close();
    }
  });

  it('a new secret for webhooks set up by hand replaces the old one', async () => {
    const fresh = await api('POST', `/flows/${flowId}/webhooks/secret`);
    expect(fresh.status).toBe(201);
    expect(fresh.json.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh.json.secret).not.toBe(secret);
    const body = JSON.stringify({ action: 'ping', data: { webhookActionType: 'ping' } });
    expect((await deliver(flowId, body, secret)).status).toBe(401);
    expect((await deliver(flowId, body, fresh.json.secret)).status).toBe(200);
    secret = fresh.json.secret;
  });

  it('lists parked events with their reason and applies one again on request', async () => {
    expect((await api('PUT', `/flows/${jsonlFlowId}/webhooks`, { enabled: true })).status).toBe(200);
    const target = `jsonl:${jsonlDir}`;
    // A sync holding the stream: the event fails once and is parked (one attempt in this hub).
    const holder = openSink(target);
    await holder.open();
    const lock = await holder.lock('applications', 'test');
    expect(lock.acquired).toBe(true);
    const record = { id: 'app-parked', status: 'Active', updatedAt: '2026-03-01T00:00:00.000Z' };
    const body = JSON.stringify({
      webhookActionId: 'parked-1',
      action: 'applicationUpdate',
      data: { application: record },
    });
    try {
      expect((await deliver(jsonlFlowId, body, secret)).status).toBe(200);
      await until(
        () => status(jsonlFlowId),
        (s) => s.stats.parked === 1,
        'the event parked',
      );
      const parked = (await api('GET', `/flows/${jsonlFlowId}/webhooks/parked`)).json.events;
      expect(parked).toEqual([
        {
          actionId: 'parked-1',
          action: 'applicationUpdate',
          receivedAt: expect.any(String),
          attempts: 1,
          reason: expect.stringContaining('stream applications is being written by another run'),
        },
      ]);
    } finally {
      if (lock.acquired) await lock.lock.release();
    }
    const retried = await api('POST', `/flows/${jsonlFlowId}/webhooks/parked/parked-1/retry`);
    expect(retried).toEqual({ status: 200, json: { actionId: 'parked-1', requeued: true } });
    await until(
      () => status(jsonlFlowId),
      (s) => s.stats.applied === 1,
      'the retried event applied',
    );
    expect((await api('GET', `/flows/${jsonlFlowId}/webhooks/parked`)).json.events).toEqual([]);
    expect((await holder.readRows('applications')).map((r) => JSON.parse(String(r._ashpipe_raw)))).toEqual([
      record,
    ]);
    await holder.close();
    expect((await api('POST', `/flows/${jsonlFlowId}/webhooks/parked/parked-1/retry`)).status).toBe(404);
  });

  it('DELETE removes the webhooks in Ashby; turned off, deliveries are refused with 410', async () => {
    const removed = await api('DELETE', `/flows/${flowId}/webhooks/install`);
    expect(removed.status).toBe(200);
    expect(removed.json.removed.map((w: Json) => w.webhookType).sort()).toEqual([
      'candidateStageChange',
      'jobCreate',
    ]);
    expect(removed.json.status.installed).toEqual([]);
    expect(sandbox.world.allOf('webhook')).toEqual([]);

    const off = await api('PUT', `/flows/${flowId}/webhooks`, { enabled: false });
    expect(off.json).toMatchObject({ enabled: false, stats: null });
    const body = JSON.stringify({ webhookActionId: 'late-1', action: 'applicationUpdate', data: {} });
    expect((await deliver(flowId, body, secret)).status).toBe(410);
    // Turned on again, the inbox kept what it had: nothing was lost or stored twice.
    const again = await api('PUT', `/flows/${flowId}/webhooks`, { enabled: true });
    expect(again.json.stats).toMatchObject({ applied: 1, pending: 0 });
  });

  it('a deleted flow closes its receiver: its target is released and deliveries are refused with 404', async () => {
    const closed: string[] = [];
    const closeFlow = hub.closeFlow.bind(hub);
    hub.closeFlow = async (id: string) => {
      closed.push(id);
      await closeFlow(id);
    };
    expect((await api('PUT', `/flows/${jsonlFlowId}/webhooks`, { enabled: true })).status).toBe(200);
    const ping = JSON.stringify({ webhookActionId: 'ping-jsonl', action: 'ping', data: {} });
    const key = (await api('POST', `/flows/${jsonlFlowId}/webhooks/secret`)).json.secret as string;
    expect((await deliver(jsonlFlowId, ping, key)).status).toBe(200);
    const gone = await fetch(`${origin}/api/v1/flows/${jsonlFlowId}`, { method: 'DELETE', headers });
    expect(gone.status).toBe(204);
    expect(closed).toEqual([jsonlFlowId]);
    expect((await deliver(jsonlFlowId, ping, key)).status).toBe(404);
  });

  it('refuses unknown flows and unknown event types', async () => {
    expect((await api('GET', '/flows/flow_nope/webhooks')).status).toBe(404);
    expect((await api('DELETE', '/flows/flow_nope/webhooks/install')).status).toBe(404);
    const bad = await api('POST', `/flows/${flowId}/webhooks/install`, {
      url: `${origin}/x`,
      events: ['noSuchEvent'],
    });
    expect(bad.status).toBe(422);
  });
});
