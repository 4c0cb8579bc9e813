/**
 * Where alerts go: a generic webhook (a JSON body, or a Slack-compatible one) and email over SMTP
 * (nodemailer). A channel only delivers; deciding what to say and how often is the notifier's job.
 */
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { redact, registerSecret } from '../util/redact.js';

/** Every kind of incident ashpipe alerts on. */
export const ALERT_EVENTS = [
  'run_failed',
  'flow_auto_paused',
  'freshness_broken',
  'schema_changed',
  'records_quarantined',
  'credential_failing',
  'webhook_events_parked',
] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** One message: an incident opening, or its recovery. */
export interface AlertMessage {
  event: AlertEvent;
  /** `open` when the incident starts, `recovered` when it ends. */
  state: 'open' | 'recovered';
  /** The incident's key: one message per key while it is open (e.g. `run_failed:flow_123`). */
  incident: string;
  /** One line for a subject or a chat message. */
  title: string;
  /** A few lines for a person: what happened and what to do. */
  text: string;
  /** When it was decided (ISO). */
  at: string;
  flow?: { id: string; name: string };
  /** Counts and ids a receiving program may use. */
  details?: Record<string, unknown>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A notification channel's settings, as the REST API, the console and the flows file give them. */
export const channelConfigSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('webhook'),
      /** Shown in the console and in logs. @example 'ops-slack' */
      name: z.string().trim().min(1).max(100),
      /** Where the JSON is posted. @example 'https://hooks.slack.com/services/…' */
      url: z.string().url(),
      /** `json` (ashpipe's own body) or `slack` (`{ text, blocks }`, which Slack and Mattermost accept). @default 'json' */
      format: z.enum(['json', 'slack']).default('json'),
      /** Events sent to this channel; all when absent. */
      events: z.array(z.enum(ALERT_EVENTS)).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('email'),
      name: z.string().trim().min(1).max(100),
      /** Recipients. @example ['data-team@example.com'] */
      to: z.array(z.string().email()).min(1),
      /** Sender address. @example 'ashpipe@example.com' */
      from: z.string().email(),
      smtp: z
        .object({
          host: z.string().min(1),
          /** @default 587 */
          port: z.number().int().min(1).max(65535).default(587),
          /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. @default false */
          secure: z.boolean().default(false),
          user: z.string().optional(),
          /** Environment variable holding the SMTP password (never the password itself). */
          passwordEnv: z.string().regex(ENV_NAME).optional(),
        })
        .strict(),
      events: z.array(z.enum(ALERT_EVENTS)).optional(),
    })
    .strict(),
]);
export type ChannelConfig = z.infer<typeof channelConfigSchema>;

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
export function openChannel(config: ChannelConfig, env: NodeJS.ProcessEnv = process.env): Channel {
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
  const password = config.smtp.passwordEnv ? env[config.smtp.passwordEnv] : undefined;
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
