import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AlertMessage,
  decideAfterRun,
  type FinishedRun,
  MemoryIncidentStore,
  Notifier,
  openChannel,
} from '../../src/alerts/index.js';
import { clearSecrets, registerSecret } from '../../src/util/redact.js';
import {
  type AlertReceivers,
  type HttpReceiver,
  type SmtpReceiver,
  startAlertReceivers,
  subjectOf,
} from '../support/alert-receivers.js';

const SMTP_PASSWORD = 'smtp-password-for-tests';
const CANARY = 'canary-alerts-0123456789abcdef';

describe('alerts through a real SMTP server and a real HTTP receiver', () => {
  let receivers: AlertReceivers;
  let smtp: SmtpReceiver;
  let hook: HttpReceiver;

  beforeAll(async () => {
    receivers = await startAlertReceivers(SMTP_PASSWORD);
    ({ smtp, hook } = receivers);
  });

  afterAll(async () => {
    await receivers.close();
    clearSecrets();
  });

  beforeEach(() => {
    smtp.mails.length = 0;
    hook.posts.length = 0;
    hook.failNext = 0;
  });

  const channels = () => [
    openChannel(
      {
        type: 'email',
        name: 'ops-mail',
        to: ['data-team@example.com'],
        from: 'ashpipe@example.com',
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, user: 'alerts', passwordEnv: 'SMTP_PASS' },
      },
      { SMTP_PASS: SMTP_PASSWORD },
    ),
    openChannel({ type: 'webhook', name: 'ops-hook', url: hook.url, format: 'json' }),
  ];

  const run = (status: FinishedRun['status'], at: string, error?: string): FinishedRun => ({
    flow: { id: 'flow_1', name: 'Warehouse' },
    credential: { id: 'cred_1', name: 'Production' },
    status,
    finishedAt: at,
    ...(error ? { error } : {}),
    authFailed: false,
    quarantined: 0,
    newColumns: [],
  });

  /** The scheduler's part, written out: decisions of each run applied in order. */
  async function play(notifier: Notifier, runs: FinishedRun[], autoPauseAfter = 5) {
    const paused: string[] = [];
    let failures = 0;
    for (const r of runs) {
      failures = r.status === 'failed' ? failures + 1 : 0;
      for (const d of decideAfterRun(r, failures, { autoPauseAfter, quarantineThreshold: 1 })) {
        if (d.type === 'raise') await notifier.raise(d.message);
        else if (d.type === 'resolve') await notifier.resolve(d.message);
        else paused.push(d.reason);
      }
    }
    return paused;
  }

  it('sends one message per incident however often it fails, pauses at the fifth failure, then one recovery', async () => {
    registerSecret(CANARY);
    const notifier = new Notifier(channels(), new MemoryIncidentStore(), { retryBaseMs: 1 });
    const failed = (n: number) =>
      run('failed', `2026-12-01T0${n}:00:00.000Z`, `Ashby answered 500 for key ${CANARY}`);
    const paused = await play(notifier, [1, 2, 3, 4, 5, 6].map(failed));
    expect(paused).toEqual([
      'paused after 5 failed runs in a row (last: Ashby answered 500 for key [REDACTED])',
      'paused after 6 failed runs in a row (last: Ashby answered 500 for key [REDACTED])',
    ]);
    // Two incidents (the failure, the pause), each told once on each channel.
    expect(smtp.mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Flow "Warehouse" failed',
      '[ashpipe] Alert: Flow "Warehouse" paused after 5 failed runs',
    ]);
    expect(
      smtp.mails.every((m) => m.from === 'ashpipe@example.com' && m.to.join() === 'data-team@example.com'),
    ).toBe(true);
    expect(hook.posts.map((p) => [p.event, p.state, p.incident])).toEqual([
      ['run_failed', 'open', 'run_failed:flow_1'],
      ['flow_auto_paused', 'open', 'flow_auto_paused:flow_1'],
    ]);
    expect(hook.posts[0]?.text).toBe(
      'The run of flow "Warehouse" failed: Ashby answered 500 for key [REDACTED]. Later failures are not announced again; a run that succeeds ends the incident.',
    );
    for (const m of smtp.mails) expect(m.raw).not.toContain(CANARY);
    for (const p of hook.posts) expect(JSON.stringify(p)).not.toContain(CANARY);

    await play(notifier, [
      run('succeeded', '2026-12-01T07:00:00.000Z'),
      run('succeeded', '2026-12-01T08:00:00.000Z'),
    ]);
    expect(smtp.mails.slice(2).map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Recovered: Flow "Warehouse" runs again',
      '[ashpipe] Recovered: Flow "Warehouse" runs again after its pause',
    ]);
    expect(hook.posts.slice(2).map((p) => [p.event, p.state])).toEqual([
      ['run_failed', 'recovered'],
      ['flow_auto_paused', 'recovered'],
    ]);
    notifier.close();
  });

  it('retries a channel that failed and tells it once, without repeating to the channel that took it', async () => {
    const notifier = new Notifier(channels(), new MemoryIncidentStore(), { attempts: 2, retryBaseMs: 1 });
    hook.failNext = 2; // both attempts of the first message fail at the receiver
    const first = await notifier.raise(message('2026-12-01T01:00:00.000Z'));
    expect(first).toEqual({ outcome: 'opened', delivered: ['ops-mail'], failed: ['ops-hook'] });
    expect(hook.posts).toHaveLength(0);
    const second = await notifier.raise(message('2026-12-01T02:00:00.000Z'));
    expect(second).toEqual({ outcome: 'folded', delivered: ['ops-hook'], failed: [] });
    const third = await notifier.raise(message('2026-12-01T03:00:00.000Z'));
    expect(third).toEqual({ outcome: 'folded', delivered: [], failed: [] });
    expect(smtp.mails).toHaveLength(1);
    expect(hook.posts).toHaveLength(1);
    notifier.close();
  });

  it('speaks Slack: text and one mrkdwn section', async () => {
    const slack = openChannel({ type: 'webhook', name: 'slack', url: hook.url, format: 'slack' });
    const notifier = new Notifier([slack], new MemoryIncidentStore());
    await notifier.raise(message('2026-12-01T01:00:00.000Z'));
    expect(hook.posts).toEqual([
      {
        text: '🔴 Flow "Warehouse" failed',
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: '*Flow "Warehouse" failed*\nIt failed.' } },
        ],
      },
    ]);
  });

  it('a wrong SMTP password is a failed delivery, not a crash', async () => {
    const wrong = openChannel(
      {
        type: 'email',
        name: 'bad-mail',
        to: ['x@example.com'],
        from: 'ashpipe@example.com',
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, user: 'alerts', passwordEnv: 'P' },
      },
      { P: 'not-the-password' },
    );
    const notifier = new Notifier([wrong], new MemoryIncidentStore(), { attempts: 1 });
    expect(await notifier.raise(message('2026-12-01T01:00:00.000Z'))).toEqual({
      outcome: 'opened',
      delivered: [],
      failed: ['bad-mail'],
    });
    expect(smtp.mails).toHaveLength(0);
    notifier.close();
  });
});

function message(at: string): AlertMessage & { state: 'open' } {
  return {
    event: 'run_failed',
    state: 'open',
    incident: 'run_failed:flow_1',
    title: 'Flow "Warehouse" failed',
    text: 'It failed.',
    at,
    flow: { id: 'flow_1', name: 'Warehouse' },
  };
}
