import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, type SandboxKey, startSandbox } from '../../src/sandbox/index.js';
import { FlowAlerting, readAlertChannels } from '../../src/server/alerting.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import type { Flow, Run } from '../../src/server/model.js';
import { Logger } from '../../src/util/logger.js';
import {
  type AlertReceivers,
  type HttpReceiver,
  type SmtpReceiver,
  startAlertReceivers,
  subjectOf,
} from '../support/alert-receivers.js';
import { createApiToken, runAndSettle, tokenClient } from '../support/server-token.js';

const PASSWORD = 'alerting server password';
const SMTP_PASSWORD = 'smtp secret for alerts';
/** A key the test revokes and restores, as an admin would in Ashby (the sandbox reads the flag per request). */
const REVOCABLE: SandboxKey = {
  key: 'revocable-key-for-alerts',
  title: 'Revocable',
  scopes: [...ALL_SCOPES],
  confidential: true,
  deactivated: false,
};

describe('alerts and auto-pause of a running server', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let receivers: AlertReceivers | undefined;
  let smtp: SmtpReceiver;
  let hook: HttpReceiver;
  let home: string;
  let token: string;

  const { api } = tokenClient(() => ({ url: server.url, token }));
  /** Runs the flow now and waits for the run to end, and for its alerts to be sent. */
  const runOnce = (flowId: string) => runAndSettle(api, server, flowId);

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, keys: [REVOCABLE] });
    receivers = await startAlertReceivers(SMTP_PASSWORD);
    ({ smtp, hook } = receivers);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-alerting-'));
    const channelsFile = path.join(home, 'channels.yaml');
    fs.writeFileSync(
      channelsFile,
      `- type: email
  name: ops-mail
  to: [data-team@example.com]
  from: ashpipe@example.com
  smtp: { host: 127.0.0.1, port: ${smtp.port}, user: alerts, passwordEnv: ALERT_SMTP_PASSWORD }
- type: webhook
  name: ops-hook
  url: ${hook.url}
  events: [flow_auto_paused]
`,
    );
    server = await startServer({
      home,
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD, ALERT_SMTP_PASSWORD: SMTP_PASSWORD },
      port: 0,
      logger: new Logger({ level: 'error', sink: () => {} }),
      serviceOptions: { baseUrl: sandbox.url },
      alertChannels: readAlertChannels(channelsFile),
    });
    token = await createApiToken(server.url, PASSWORD);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    await receivers?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('tells each incident once, pauses after the set number of failures, and says when it recovers', async () => {
    const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
      name: 'sandbox',
      apiKey: REVOCABLE.key,
    });
    const { flow } = await api<{ flow: Flow }>('POST', '/flows?activate=true', {
      kind: 'source',
      name: 'Candidates',
      credentialId: credential.id,
      schedule: '0 0 1 1 *',
      streams: ['candidates'],
      target: { type: 'jsonl', path: path.join(home, 'data', 'out') },
      options: { alerts: { autoPauseAfter: 3 } },
    });
    // The key is revoked in Ashby: every run fails the same way.
    REVOCABLE.deactivated = true;
    for (let i = 1; i <= 4; i++) {
      const r = await runOnce(flow.id);
      expect(r.status).toBe('failed');
    }
    expect((await api<{ flow: Flow }>('GET', `/flows/${flow.id}`)).flow.status).toBe('paused');
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Flow "Candidates" failed',
      '[ashpipe] Alert: Ashby refuses the key of credential "sandbox"',
      '[ashpipe] Alert: Flow "Candidates" paused after 3 failed runs',
    ]);
    // The webhook channel takes only auto-pauses.
    expect(hook.posts.map((p) => [p.event, p.state, p.incident])).toEqual([
      ['flow_auto_paused', 'open', `flow_auto_paused:${flow.id}`],
    ]);

    REVOCABLE.deactivated = false;
    await api('POST', `/flows/${flow.id}/activate`);
    expect((await runOnce(flow.id)).status).toBe('succeeded');
    expect(smtp.mails.slice(3).map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Recovered: Flow "Candidates" runs again',
      '[ashpipe] Recovered: Flow "Candidates" runs again after its pause',
      '[ashpipe] Recovered: Ashby accepts the key of credential "sandbox" again',
    ]);
    expect(hook.posts.map((p) => [p.event, p.state])).toEqual([
      ['flow_auto_paused', 'open'],
      ['flow_auto_paused', 'recovered'],
    ]);
    expect((await runOnce(flow.id)).status).toBe('succeeded');
    expect(smtp.mails).toHaveLength(6);
    for (const m of smtp.mails) expect(m.raw).not.toContain(REVOCABLE.key);
  }, 120_000);

  it('checks freshness promises of active flows against the clock, once per breach', async () => {
    const sent: string[] = [];
    const flow = {
      id: 'flow_f',
      name: 'Hourly',
      status: 'active',
      credentialId: 'c',
      createdAt: '2026-12-01T00:00:00.000Z',
      activatedAt: '2026-12-01T00:00:00.000Z',
      config: { options: { alerts: { freshnessMinutes: 120 } } },
    } as unknown as Flow;
    const runs = [{ status: 'succeeded', finishedAt: '2026-12-01T09:00:00.000Z' }] as Run[];
    const recorder = {
      name: 'recorder',
      wants: () => true,
      deliver: async (m: { state: string; incident: string }) => void sent.push(`${m.state} ${m.incident}`),
    };
    const alerting = new FlowAlerting({
      channels: [recorder],
      store: {
        recentRuns: () => runs,
        pauseFlow: () => {},
        listFlows: () => [flow],
        credentialName: () => 'c',
      },
    });
    for (const at of ['10:59', '11:00', '11:01', '11:30', '12:00'])
      await alerting.checkFreshness(new Date(`2026-12-01T${at}:00.000Z`));
    runs.unshift({ status: 'partial', finishedAt: '2026-12-01T12:10:00.000Z' } as Run);
    await alerting.checkFreshness(new Date('2026-12-01T12:11:00.000Z'));
    expect(sent).toEqual(['open freshness_broken:flow_f', 'recovered freshness_broken:flow_f']);
  });

  it('refuses a channels file with a wrong entry, naming it', () => {
    const file = path.join(home, 'bad-channels.yaml');
    fs.writeFileSync(
      file,
      '- type: email\n  name: x\n  to: [not-an-address]\n  from: a@example.com\n  smtp: { host: h }\n',
    );
    expect(() => readAlertChannels(file)).toThrow(/bad-channels\.yaml: \[0\.to\.0\] Invalid email/);
  });
});
