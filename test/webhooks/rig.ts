/**
 * A synced target with a live receiver and applier in front of it, fed by the sandbox's own webhooks: what the
 * end-to-end webhook tests start from.
 */
import { expect } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import type { ResolvedStream } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import {
  type Inbox,
  inboxFor,
  type RunningReceiver,
  startReceiver,
  WebhookApplier,
} from '../../src/webhooks/index.js';
import { call } from '../sandbox/helpers.js';
import { type DIALECTS, makeTarget, type TestTarget } from '../sync/helpers.js';

export interface WebhookRig {
  sandbox: Sandbox;
  t: TestTarget;
  sink: Sink;
  inbox: Inbox;
  applier: WebhookApplier;
  receiver: RunningReceiver;
  close(): Promise<void>;
}

export interface WebhookRigOptions {
  dialect: (typeof DIALECTS)[number];
  scale: number;
  seed: number;
  streams: readonly ResolvedStream[];
  secret: string;
  /** Webhooks registered in the sandbox: one per (type, URL query); `['']` registers the bare URL once. */
  types: readonly string[];
  copies?: readonly string[];
}

/** Syncs `streams` into a new target, then starts a receiver and applier on it and registers the webhooks. */
export async function startWebhookRig(o: WebhookRigOptions): Promise<WebhookRig> {
  const sandbox = await startSandbox({ scale: o.scale, seed: o.seed, webhookRetryBaseMs: 5 });
  const t = await makeTarget(o.dialect);
  const summary = await syncToTarget({
    apiKey: 'sandbox-full',
    baseUrl: sandbox.url,
    target: t.target,
    streams: [...o.streams],
  });
  expect(summary.exitCode).toBe(0);
  const sink = openSink(t.target);
  await sink.open();
  const inbox = inboxFor(t.target);
  await inbox.open();
  const client = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url });
  const applier = new WebhookApplier({ inbox, sink, client, pollMs: 50 });
  const receiver = await startReceiver({ inbox, secret: o.secret, port: 0, onStored: () => applier.kick() });
  applier.start();
  for (const webhookType of o.types) {
    for (const copy of o.copies ?? ['']) {
      const hook = await call(sandbox, 'webhook.create', {
        webhookType,
        requestUrl: copy === '' ? receiver.url : `${receiver.url}?copy=${copy}`,
        secretToken: o.secret,
      });
      expect(hook.body.success).toBe(true);
    }
  }
  return {
    sandbox,
    t,
    sink,
    inbox,
    applier,
    receiver,
    async close() {
      await receiver.close();
      await applier.stop();
      await inbox.close();
      await sink.close();
      await sandbox.close();
      await t.cleanup();
    },
  };
}

/** Resolves once `check` holds, polling; fails naming `what` after `ms`. */
export async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
