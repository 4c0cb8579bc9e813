import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, type SandboxKey, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import type { Flow, Run } from '../../src/server/model.js';
import { Logger } from '../../src/util/logger.js';
import {
  type HttpReceiver,
  type SmtpReceiver,
  startHttpReceiver,
  startSmtpReceiver,
  subjectOf,
} from '../support/alert-receivers.js';
import { createApiToken } from '../support/server-token.js';
import type { Json } from './helpers.js';

const PASSWORD = 'alert channels server password';
/** Secrets a client gives once and must never read back: canaries searched for in every answer and log. */
const SMTP_PASSWORD = 'smtp-canary-password-4d2b91';
const HOOK_TOKEN = 'T0CANARY/B0CANARY/hooktoken8c1e55';
const REVOCABLE: SandboxKey = {
  key: 'revocable-key-for-channel-tests',
  title: 'Revocable',
  scopes: [...ALL_SCOPES],
  confidential: true,
  deactivated: false,
};

describe('notification channels of a running server', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let smtp: SmtpReceiver;
  let hook: HttpReceiver;
  let fileHook: HttpReceiver;
  let home: string;
  let token: string;
  const logLines: string[] = [];
  /** Every answer's text, searched for the canaries at the end. */
  const answers: string[] = [];

  const start = async () => {
    server = await startServer({
      home,
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD },
      port: 0,
      logger: new Logger({ level: 'debug', sink: (line) => logLines.push(line) }),
      serviceOptions: { baseUrl: sandbox.url },
      alertChannels: [{ type: 'webhook', name: 'from-file', url: fileHook.url, format: 'json' }],
    });
    token = await createApiToken(server.url, PASSWORD);
  };
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Json };
  };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await call(method, route, body);
    if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const runOnce = async (flowId: string): Promise<Run> => {
    const { run } = await api('POST', `/flows/${flowId}/run`);
    for (;;) {
      const { run: now } = await api('GET', `/runs/${run.id}`);
      if (now.status !== 'running') {
        for (let i = 0; i < 100 && (await api('GET', `/flows/${flowId}`)).flow.runningRunId; i++)
          await new Promise((r) => setTimeout(r, 50));
        await server.deps.alerting?.idle();
        return now as Run;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, keys: [REVOCABLE] });
    smtp = await startSmtpReceiver('alerts', SMTP_PASSWORD);
    hook = await startHttpReceiver();
    fileHook = await startHttpReceiver();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-channels-'));
    await start();
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    await smtp?.close();
    await hook?.close();
    await fileHook?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const mailBody = {
    type: 'email',
    name: 'ops-mail',
    to: ['data-team@example.com'],
    from: 'ashpipe@example.com',
    smtp: { host: '127.0.0.1', port: 25, user: 'alerts', password: SMTP_PASSWORD },
  };

  it('adds, lists, edits, tests and deletes channels; secrets are write-only; file channels are read-only', async () => {
    // One clear 422 naming the field.
    const bad = await call('POST', '/alert-channels', { ...mailBody, to: ['not-an-address'] });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([{ path: 'to.0', message: 'Invalid email' }]);
    const badType = await call('POST', '/alert-channels', { type: 'pager', name: 'x' });
    expect(badType.status).toBe(422);
    expect(badType.body.error.details[0].path).toBe('type');

    const { channel: mail } = await api('POST', '/alert-channels', {
      ...mailBody,
      smtp: { ...mailBody.smtp, port: smtp.port },
    });
    expect(mail).toEqual({
      id: expect.stringMatching(/^chn_/),
      name: 'ops-mail',
      type: 'email',
      source: 'console',
      to: ['data-team@example.com'],
      from: 'ashpipe@example.com',
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, user: 'alerts', passwordSet: true },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const { channel: chat } = await api('POST', '/alert-channels', {
      type: 'webhook',
      name: 'chat',
      url: `${hook.url}/${HOOK_TOKEN}`,
    });
    expect(chat.urlPreview).toBe(`${new URL(hook.url).origin}/…`);
    expect(chat.format).toBe('json');

    // Names are unique, file channels included.
    expect((await call('POST', '/alert-channels', { ...mailBody, name: 'from-file' })).status).toBe(409);
    expect((await call('POST', '/alert-channels', { ...mailBody, name: 'chat' })).status).toBe(409);

    const { channels } = await api('GET', '/alert-channels');
    expect(channels.map((c: { id: string; source: string }) => [c.id, c.source])).toEqual([
      [chat.id, 'console'],
      [mail.id, 'console'],
      ['file:from-file', 'file'],
    ]);
    expect((await call('PUT', '/alert-channels/file:from-file', { ...mailBody, name: 'x' })).status).toBe(
      409,
    );
    expect((await call('DELETE', '/alert-channels/file:from-file')).status).toBe(409);
    expect((await call('DELETE', '/alert-channels/chn_nope')).status).toBe(404);

    // Edit without the secrets: they are kept (the test messages below still get through).
    const { channel: edited } = await api('PUT', `/alert-channels/${mail.id}`, {
      ...mailBody,
      events: ['run_failed', 'credential_failing'],
      smtp: { host: '127.0.0.1', port: smtp.port, user: 'alerts' },
    });
    expect(edited.smtp.passwordSet).toBe(true);
    expect(edited.events).toEqual(['run_failed', 'credential_failing']);
    await api('PUT', `/alert-channels/${chat.id}`, { type: 'webhook', name: 'chat', format: 'slack' });

    expect(await api('POST', `/alert-channels/${mail.id}/test`)).toEqual({ delivered: true });
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Test message from ashpipe to "ops-mail"',
    ]);
    expect(await api('POST', `/alert-channels/${chat.id}/test`)).toEqual({ delivered: true });
    expect(hook.posts).toEqual([expect.objectContaining({ text: '🔴 Test message from ashpipe to "chat"' })]);
    expect(await api('POST', '/alert-channels/file:from-file/test')).toEqual({ delivered: true });
    expect(fileHook.posts).toHaveLength(1);
    // A receiver that refuses: the test says so, in words without the secret.
    hook.failNext = 1;
    const refused = await api('POST', `/alert-channels/${chat.id}/test`);
    expect(refused).toEqual({ delivered: false, error: 'chat: the webhook answered 500' });

    // Back to the JSON body for the incidents below.
    await api('PUT', `/alert-channels/${chat.id}`, { type: 'webhook', name: 'chat', format: 'json' });
    hook.posts.length = 0;
    smtp.mails.length = 0;
    fileHook.posts.length = 0;

    const { channel: gone } = await api('POST', '/alert-channels', {
      type: 'webhook',
      name: 'short-lived',
      url: 'https://hooks.example.com/x',
    });
    expect((await call('DELETE', `/alert-channels/${gone.id}`)).status).toBe(204);
    expect((await call('GET', `/alert-channels/${gone.id}`)).status).toBe(404);
  }, 60_000);

  it('tells an incident once across a restart of the server and still tells its recovery; a flow picks its channels', async () => {
    const { credential } = await api('POST', '/credentials', { name: 'sandbox', apiKey: REVOCABLE.key });
    const { flow } = await api('POST', '/flows?activate=true', {
      kind: 'source',
      name: 'Candidates',
      credentialId: credential.id,
      schedule: '0 0 1 1 *',
      streams: ['candidates'],
      target: { type: 'jsonl', path: path.join(home, 'data', 'out') },
      // Only `chat` hears of this flow; credential alerts go to every channel.
      options: { alerts: { autoPauseAfter: 0, channels: ['chat'] } },
    });
    const events = (r: HttpReceiver) => r.posts.map((p) => `${p.state} ${p.event}`);

    REVOCABLE.deactivated = true;
    expect((await runOnce((flow as Flow).id)).status).toBe('failed');
    expect(events(hook)).toEqual(['open run_failed', 'open credential_failing']);
    expect(events(fileHook)).toEqual(['open credential_failing']);
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Ashby refuses the key of credential "sandbox"',
    ]);

    await server.close();
    await start();
    expect((await runOnce(flow.id)).status).toBe('failed');
    // Nothing new: the incidents were open before the restart.
    expect(events(hook)).toEqual(['open run_failed', 'open credential_failing']);
    expect(events(fileHook)).toEqual(['open credential_failing']);
    expect(smtp.mails).toHaveLength(1);

    REVOCABLE.deactivated = false;
    expect((await runOnce(flow.id)).status).toBe('succeeded');
    expect(events(hook)).toEqual([
      'open run_failed',
      'open credential_failing',
      'recovered run_failed',
      'recovered credential_failing',
    ]);
    expect(events(fileHook)).toEqual(['open credential_failing', 'recovered credential_failing']);
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Ashby refuses the key of credential "sandbox"',
      '[ashpipe] Recovered: Ashby accepts the key of credential "sandbox" again',
    ]);
  }, 120_000);

  it('never shows the secrets of a channel: not in answers, logs, the OpenAPI document or the control store', async () => {
    // The stored rows: the secrets are sealed with the master key.
    const rows = await server.deps.control.db.selectFrom('alert_channels').selectAll().execute();
    expect(rows.map((r) => r.name).sort()).toEqual(['chat', 'ops-mail']);
    const everything = [
      ...answers,
      ...logLines,
      JSON.stringify(await api('GET', '/openapi.json')),
      JSON.stringify(rows),
    ].join('\n');
    expect(everything).toContain('ops-mail');
    expect(everything).not.toContain(SMTP_PASSWORD);
    expect(everything).not.toContain('hooktoken8c1e55');
    expect(everything).not.toContain('CANARY');
  });
});
