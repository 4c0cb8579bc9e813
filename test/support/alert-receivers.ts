/**
 * Real receivers for alert tests: an SMTP server (`smtp-server`) that keeps the messages it accepts, and
 * an HTTP endpoint that keeps the JSON posted to it (and can answer 500 a number of times first).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpReceiver {
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}

/** An SMTP server on 127.0.0.1 that takes `user`/`password` (plain AUTH, no TLS). */
export async function startSmtpReceiver(user: string, password: string): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) callback(null, { user });
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
  return {
    port: (smtp.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}

export interface HttpReceiver {
  url: string;
  posts: Array<Record<string, unknown>>;
  /** The next this-many posts are answered 500 and not kept. */
  failNext: number;
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const receiver: HttpReceiver = {
    url: '',
    posts: [],
    failNext: 0,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (receiver.failNext > 0) {
        receiver.failNext--;
        res.writeHead(500).end();
        return;
      }
      receiver.posts.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

/** The Subject header of a raw message, unfolded and decoded (nodemailer folds and may encode it). */
export function subjectOf(raw: string): string {
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

/** The receivers an alerting suite listens with; `close()` stops them all. */
export interface AlertReceivers {
  /** An SMTP server taking user `alerts` with the given password. */
  smtp: SmtpReceiver;
  /** A webhook for channels made through the API. */
  hook: HttpReceiver;
  /** A second webhook, for a channel read from a file (unused by suites without one). */
  fileHook: HttpReceiver;
  close(): Promise<void>;
}

/** Starts an SMTP receiver (user `alerts`, `smtpPassword`) and two webhook receivers. */
export async function startAlertReceivers(smtpPassword: string): Promise<AlertReceivers> {
  const smtp = await startSmtpReceiver('alerts', smtpPassword);
  const hook = await startHttpReceiver();
  const fileHook = await startHttpReceiver();
  return {
    smtp,
    hook,
    fileHook,
    close: async () => {
      await smtp.close();
      await hook.close();
      await fileHook.close();
    },
  };
}
