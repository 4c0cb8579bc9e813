import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSink } from '../../src/sinks/index.js';
import { Vault } from '../../src/vault/vault.js';
import { signBody } from '../../src/webhooks/index.js';
import { type HttpReceiver, startHttpReceiver } from '../support/alert-receivers.js';
import { asJson, type Harness, harness, signedInCaller } from './helpers.js';

const KEY = 'sandbox-full';

/** New columns and parked webhook events, as the runtime feeds them to the alert rules. */
describe('alerts fed by the runtime', () => {
  let sandbox: Sandbox;
  let hook: HttpReceiver;
  let h: Harness | undefined;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, scale: 10 });
    hook = await startHttpReceiver();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    hook.posts.length = 0;
  });
  afterAll(async () => {
    await sandbox?.close();
    await hook?.close();
  });

  /** A server with one channel (the HTTP receiver) and a credential; `app` may add the webhook routes. */
  async function setup(app?: (h: Harness) => ReturnType<typeof createApp>) {
    h = await harness({ baseUrl: sandbox.url, realSource: true, allowHttpBaseUrl: true });
    const server = app ? app(h) : h.app;
    const call = await signedInCaller(h, server);
    await call('POST', '/alert-channels', { type: 'webhook', name: 'hook', url: hook.url });
    const credentialId = (await call('POST', '/credentials', { name: 'sandbox', apiKey: KEY })).credential.id;
    return { h, server, call, credentialId: credentialId as string };
  }

  it('tells new columns of a sync once, with their stream, and not those of the first sync', async () => {
    const { h, call, credentialId } = await setup();
    const { flow } = await call('POST', '/flows', {
      kind: 'source',
      name: 'Candidates',
      credentialId,
      streams: ['candidates'],
      target: { type: 'sqlite', path: path.join(h.data, 'c.db') },
    });
    const runOnce = async () => {
      const { run } = await call('POST', `/flows/${flow.id}/run`);
      for (let i = 0; i < 400; i++) {
        const now = (await call('GET', `/runs/${run.id}`)).run;
        if (now.status !== 'running') {
          for (let j = 0; j < 100 && (await call('GET', `/flows/${flow.id}`)).flow.runningRunId; j++)
            await new Promise((r) => setTimeout(r, 25));
          await h.deps.alerting?.idle();
          return now;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the run did not end');
    };
    expect((await runOnce()).status).toBe('succeeded');
    expect(hook.posts).toEqual([]);

    // Ashby starts sending a field the target has no column for.
    const target = openSink(`sqlite:${path.join(h.data, 'c.db')}`);
    await target.open();
    const [first] = await target.readRows('candidates').finally(() => target.close());
    sandbox.mutate.updateCandidate(String(first?.id), { sourcingStage: 'Reached out' });
    const second = await runOnce();
    expect(second.counts).toEqual([
      expect.objectContaining({ name: 'candidates', newColumns: ['sourcing_stage'] }),
    ]);
    expect(hook.posts.map((p) => [p.state, p.event, p.incident, p.details])).toEqual([
      [
        'open',
        'schema_changed',
        `schema_changed:${flow.id}:candidates.sourcing_stage`,
        { columns: ['candidates.sourcing_stage'] },
      ],
    ]);
    // The column exists now: the next run adds none, and nothing more is said.
    await runOnce();
    expect(hook.posts).toHaveLength(1);
  }, 60_000);

  it('tells when webhook events are parked, and when none are any more', async () => {
    const secret = 'whsec-alerts-0123456789abcdef';
    let hub: WebhookHub | undefined;
    const { h, server, call, credentialId } = await setup((h) => {
      // One attempt before an event is parked, so a parked event needs no backoff.
      hub = new WebhookHub(h.deps, { applier: { maxAttempts: 1, pollMs: 20, retryBaseMs: 10 } });
      return createApp(h.deps, { webhookHub: hub });
    });
    await new Vault(h.typed, {
      home: h.home,
      env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
    }).add({ name: 'sandbox:webhook-secret', apiKey: secret });
    // A JSONL target: its stream files take one writer at a time, so a held stream parks events.
    const dir = path.join(h.data, 'hooks');
    const { flow } = await call('POST', '/flows', {
      kind: 'source',
      name: 'Live',
      credentialId,
      streams: ['applications'],
      target: { type: 'jsonl', path: dir },
      options: { webhooks: true },
    });
    const event = JSON.stringify({
      webhookActionId: 'alert-1',
      action: 'applicationUpdate',
      data: { application: { id: 'app-alert-1', status: 'Active', updatedAt: '2026-02-01T00:00:00.000Z' } },
    });
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 400 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
      await h.deps.alerting?.idle();
    };
    try {
      const holder = openSink(`jsonl:${dir}`);
      await holder.open();
      try {
        expect((await holder.lock('applications', 'test')).acquired).toBe(true);
        const res = await server.request(`http://localhost/webhooks/ashby/${flow.id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'ashby-signature': signBody(event, secret) },
          body: event,
        });
        expect(res.status).toBe(200);
        await until(() => hook.posts.length >= 1);
      } finally {
        await holder.close();
      }
      expect(hook.posts.map((p) => [p.state, p.event, asJson(p.details)?.parked])).toEqual([
        ['open', 'webhook_events_parked', 1],
      ]);
      // Retried once the stream is free: applied, and the incident ends.
      await call('POST', `/flows/${flow.id}/webhooks/parked/alert-1/retry`);
      await until(() => hook.posts.length >= 2);
      expect(hook.posts.map((p) => [p.state, p.event, p.incident])).toEqual([
        ['open', 'webhook_events_parked', `webhook_events_parked:${flow.id}`],
        ['recovered', 'webhook_events_parked', `webhook_events_parked:${flow.id}`],
      ]);
      expect((await call('GET', `/flows/${flow.id}/webhooks`)).stats).toMatchObject({
        parked: 0,
        applied: 1,
      });
    } finally {
      await hub?.close();
    }
  }, 60_000);
});
