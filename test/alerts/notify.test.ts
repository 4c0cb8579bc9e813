import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
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

const SMTP_PASSWORD = 'smtp-password-for-tests';
const CANARY = 'canary-alerts-0123456789abcdef';

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

describe('alerts through a real SMTP server and a real HTTP receiver', () => {
  let smtp: SMTPServer;
  let smtpPort: number;
  const mails: Mail[] = [];
  let receiver: http.Server;
  let receiverUrl: string;
  const posts: Array<Record<string, unknown>> = [];
  /** The receiver answers 500 to this many posts before taking one. */
  let failNext = 0;

  beforeAll(async () => {
    smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'alerts' && auth.password === SMTP_PASSWORD) callback(null, { user: 'alerts' });
        else callback(new Error('wrong user or password'));
      },
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(500).end();
          return;
        }
        posts.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    clearSecrets();
  });

  beforeEach(() => {
    mails.length = 0;
    posts.length = 0;
    failNext = 0;
  });

  const channels = () => [
    openChannel(
      {
        type: 'email',
        name: 'ops-mail',
        to: ['data-team@example.com'],
        from: 'ashpipe@example.com',
        smtp: { host: '127.0.0.1', port: smtpPort, secure: false, user: 'alerts', passwordEnv: 'SMTP_PASS' },
      },
      { SMTP_PASS: SMTP_PASSWORD },
    ),
    openChannel({ type: 'webhook', name: 'ops-hook', url: receiverUrl, format: 'json' }),
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
    expect(mails.map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Alert: Flow "Warehouse" failed',
      '[ashpipe] Alert: Flow "Warehouse" paused after 5 failed runs',
    ]);
    expect(
      mails.every((m) => m.from === 'ashpipe@example.com' && m.to.join() === 'data-team@example.com'),
    ).toBe(true);
    expect(posts.map((p) => [p.event, p.state, p.incident])).toEqual([
      ['run_failed', 'open', 'run_failed:flow_1'],
      ['flow_auto_paused', 'open', 'flow_auto_paused:flow_1'],
    ]);
    expect(posts[0]?.text).toBe(
      'The run of flow "Warehouse" failed: Ashby answered 500 for key [REDACTED]. Later failures are not announced again; a run that succeeds ends the incident.',
    );
    for (const m of mails) expect(m.raw).not.toContain(CANARY);
    for (const p of posts) expect(JSON.stringify(p)).not.toContain(CANARY);

    await play(notifier, [
      run('succeeded', '2026-12-01T07:00:00.000Z'),
      run('succeeded', '2026-12-01T08:00:00.000Z'),
    ]);
    expect(mails.slice(2).map((m) => subjectOf(m.raw))).toEqual([
      '[ashpipe] Recovered: Flow "Warehouse" runs again',
      '[ashpipe] Recovered: Flow "Warehouse" runs again after its pause',
    ]);
    expect(posts.slice(2).map((p) => [p.event, p.state])).toEqual([
      ['run_failed', 'recovered'],
      ['flow_auto_paused', 'recovered'],
    ]);
    notifier.close();
  });

  it('retries a channel that failed and tells it once, without repeating to the channel that took it', async () => {
    const notifier = new Notifier(channels(), new MemoryIncidentStore(), { attempts: 2, retryBaseMs: 1 });
    failNext = 2; // both attempts of the first message fail at the receiver
    const first = await notifier.raise(message('2026-12-01T01:00:00.000Z'));
    expect(first).toEqual({ outcome: 'opened', delivered: ['ops-mail'], failed: ['ops-hook'] });
    expect(posts).toHaveLength(0);
    const second = await notifier.raise(message('2026-12-01T02:00:00.000Z'));
    expect(second).toEqual({ outcome: 'folded', delivered: ['ops-hook'], failed: [] });
    const third = await notifier.raise(message('2026-12-01T03:00:00.000Z'));
    expect(third).toEqual({ outcome: 'folded', delivered: [], failed: [] });
    expect(mails).toHaveLength(1);
    expect(posts).toHaveLength(1);
    notifier.close();
  });

  it('speaks Slack: text and one mrkdwn section', async () => {
    const slack = openChannel({ type: 'webhook', name: 'slack', url: receiverUrl, format: 'slack' });
    const notifier = new Notifier([slack], new MemoryIncidentStore());
    await notifier.raise(message('2026-12-01T01:00:00.000Z'));
    expect(posts).toEqual([
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
        smtp: { host: '127.0.0.1', port: smtpPort, secure: false, user: 'alerts', passwordEnv: 'P' },
      },
      { P: 'not-the-password' },
    );
    const notifier = new Notifier([wrong], new MemoryIncidentStore(), { attempts: 1 });
    expect(await notifier.raise(message('2026-12-01T01:00:00.000Z'))).toEqual({
      outcome: 'opened',
      delivered: [],
      failed: ['bad-mail'],
    });
    expect(mails).toHaveLength(0);
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

/** The Subject header of a raw message, unfolded (nodemailer folds and may encode long subjects). */
function subjectOf(raw: string): string {
  const header = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const line = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(header)?.[1] ?? '';
  // Unfolding removes the line break only; white space between two encoded words is not text (RFC 2047).
  const unfolded = line.replace(/\r?\n(?=[ \t])/g, '').replace(/\?=[ \t]+=\?/g, '?==?');
  return unfolded.replace(/=\?utf-8\?Q\?(.*?)\?=/gi, (_m, q: string) =>
    Buffer.from(
      q
        .replace(/_/g, ' ')
        .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8'),
  );
}
