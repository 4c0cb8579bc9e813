import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSink } from '../../src/sinks/index.js';
import { Vault } from '../../src/vault/vault.js';
import { signBody } from '../../src/webhooks/index.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

const SECRET = 'whsec-server-0123456789abcdef';

describe('POST /webhooks/ashby/{flowId} on the server', () => {
  let sandbox: Sandbox;
  let h: Harness;
  let hub: WebhookHub;
  let app: ReturnType<typeof createApp>;
  let headers: Record<string, string>;
  let flowId: string;
  let plainFlowId: string;
  let file: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, scale: 10 });
    h = await harness({ baseUrl: sandbox.url, realSource: true });
    hub = new WebhookHub(h.deps);
    app = createApp(h.deps, { webhookHub: hub });
    headers = await signedInHeaders(h);
    const post = async (p: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await app.request(p, { method: 'POST', headers, body: JSON.stringify(body) });
      return (await res.json()) as Record<string, unknown>;
    };
    const cred = asJson(await post('/api/v1/credentials', { name: 'hooks', apiKey: 'sandbox-full' }))
      .credential.id;
    // The secret as `ashpipe webhooks install` stores it: a vault entry named after the credential.
    await new Vault(h.typed, {
      home: h.home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    }).add({
      name: 'hooks:webhook-secret',
      apiKey: SECRET,
    });
    file = path.join(h.data, 'hooks.db');
    const flow = (options: Record<string, unknown>, name: string) =>
      post('/api/v1/flows', {
        kind: 'source',
        name,
        credentialId: cred,
        streams: ['applications'],
        target: { type: 'sqlite', path: file },
        options,
      });
    flowId = asJson(await flow({ webhooks: true }, 'With webhooks')).flow.id;
    plainFlowId = asJson(await flow({}, 'Without webhooks')).flow.id;
  });
  afterAll(async () => {
    await hub?.close();
    await h?.close();
    await sandbox?.close();
  });

  const deliver = (id: string, body: string, signature = signBody(body, SECRET), host = 'localhost') =>
    app.request(`http://${host}/webhooks/ashby/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ashby-signature': signature },
      body,
    });

  it('takes signed events without a session, applies them, and reports the flow webhook status', async () => {
    const body = JSON.stringify({
      webhookActionId: 'srv-1',
      action: 'applicationUpdate',
      data: { application: { id: 'app-srv-1', status: 'Active', updatedAt: '2026-02-01T00:00:00.000Z' } },
    });
    expect((await deliver(flowId, body)).status).toBe(200);
    const ping = JSON.stringify({ action: 'ping', data: { webhookActionType: 'ping' } });
    expect((await deliver(flowId, ping)).status).toBe(200);
    expect((await deliver(flowId, body, signBody(body, 'other'))).status).toBe(401);
    // Webhooks off is a decision, not an outage: 410, which Ashby does not retry.
    expect((await deliver(plainFlowId, body)).status).toBe(410);
    expect((await deliver('no-such-flow', body)).status).toBe(404);
    // The Host allowlist applies here as everywhere.
    expect((await deliver(flowId, body, undefined, 'evil.example')).status).toBe(403);

    let status: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      const res = await app.request(`/api/v1/flows/${flowId}/webhooks`, { headers });
      expect(res.status).toBe(200);
      status = (await res.json()) as Record<string, unknown>;
      if (asJson(status).stats?.applied === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toMatchObject({
      enabled: true,
      path: `/webhooks/ashby/${flowId}`,
      secretStored: true,
      stats: { eventsToday: 1, applied: 1, pending: 0, parked: 0 },
    });
    const stats = asJson(status).stats;
    expect(typeof stats.lastPingAt).toBe('string');
    expect(typeof stats.lastEventAt).toBe('string');
    expect(typeof stats.lagMs).toBe('number');
    expect(stats.lagP50Ms).toBe(stats.lagMs);
    expect((await app.request(`/api/v1/flows/${flowId}/webhooks`)).status).toBe(401);

    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      const rows = await sink.readRows('applications');
      expect(rows.map((r) => JSON.parse(String(r._ashpipe_raw)))).toEqual([
        { id: 'app-srv-1', status: 'Active', updatedAt: '2026-02-01T00:00:00.000Z' },
      ]);
    } finally {
      await sink.close();
    }
  });
});
