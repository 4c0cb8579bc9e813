/**
 * Where alerts go: a generic webhook (a JSON body, or a Slack-compatible one) and email over SMTP
 * (nodemailer). A channel only delivers; deciding what to say and how often is the notifier's job.
 */
import nodemailer from 'nodemailer';
import { redact, registerSecret } from '../util/redact.js';
import type { AlertEvent, AlertMessage, ChannelConfig, StoredChannelConfig } from './channel-schema.js';

export {
  ALERT_EVENTS,
  type AlertEvent,
  type AlertMessage,
  type ChannelConfig,
  type ChannelEdit,
  channelConfigSchema,
  channelEditSchema,
  type StoredChannelConfig,
  storedChannelSchema,
} from './channel-schema.js';

/** A channel ready to deliver. */
export interface Channel {
  readonly name: string;
  /** Whether this channel wants messages of `event`. */
  wants(event: AlertEvent): boolean;
  /** Delivers one message; throws when the receiver did not take it. */
  deliver(message: AlertMessage): Promise<void>;
  close?(): void;
}

/** The body of a generic webhook: the message itself, redacted. */
export function jsonBody(message: AlertMessage): Record<string, unknown> {
  return JSON.parse(redact(JSON.stringify({ source: 'ashpipe', ...message }))) as Record<string, unknown>;
}

/** A Slack-compatible body: `text` for notifications, one section block for the message. */
export function slackBody(message: AlertMessage): Record<string, unknown> {
  const mark = message.state === 'recovered' ? '✅' : '🔴';
  const text = redact(`${mark} ${message.title}`);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: redact(`*${message.title}*\n${message.text}`) } },
    ],
  };
}

function wants(events: readonly AlertEvent[] | undefined) {
  return (event: AlertEvent) => events === undefined || events.includes(event);
}

/** Builds the channel a configuration describes; `env` supplies SMTP passwords. */
export function openChannel(
  config: ChannelConfig | StoredChannelConfig,
  env: NodeJS.ProcessEnv = process.env,
): Channel {
  if (config.type === 'webhook') {
    return {
      name: config.name,
      wants: wants(config.events),
      async deliver(message) {
        const res = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'ashpipe-alerts' },
          body: JSON.stringify(config.format === 'slack' ? slackBody(message) : jsonBody(message)),
          signal: AbortSignal.timeout(15_000),
          redirect: 'error',
        });
        // The body is read so the connection can be reused; its content does not matter.
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`${config.name}: the webhook answered ${res.status}`);
      },
    };
  }
  const given = 'password' in config.smtp ? config.smtp.password : undefined;
  const password = given ?? (config.smtp.passwordEnv ? env[config.smtp.passwordEnv] : undefined);
  registerSecret(password);
  const transport = nodemailer.createTransport({
    host: config.smtp.host,
    port: config.smtp.port,
    secure: config.smtp.secure,
    ...(config.smtp.user ? { auth: { user: config.smtp.user, pass: password ?? '' } } : {}),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  return {
    name: config.name,
    wants: wants(config.events),
    async deliver(message) {
      const mark = message.state === 'recovered' ? 'Recovered' : 'Alert';
      await transport.sendMail({
        from: config.from,
        to: config.to,
        subject: redact(`[ashpipe] ${mark}: ${message.title}`),
        text: redact(`${message.text}\n\nIncident: ${message.incident}\nAt: ${message.at}\n`),
        headers: { 'X-Ashpipe-Incident': message.incident, 'X-Ashpipe-Event': message.event },
      });
    },
    close: () => transport.close(),
  };
}
