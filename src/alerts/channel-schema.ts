/**
 * The vocabulary of alerts: events, messages and channel settings, as zod schemas. Depends on zod alone,
 * so the REST API's contract (and through it the console's types) can use it.
 */
import { z } from 'zod';

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

const channelName = z.string().trim().min(1).max(100);
const eventsField = z.array(z.enum(ALERT_EVENTS)).optional();

const webhookFields = {
  type: z.literal('webhook'),
  /** Shown in the console and in logs. @example 'ops-slack' */
  name: channelName,
  /** Where the JSON is posted; a secret (Slack's URL is its token). @example 'https://hooks.slack.com/services/…' */
  url: z.string().url(),
  /** `json` (ashpipe's own body) or `slack` (`{ text, blocks }`, which Slack and Mattermost accept). @default 'json' */
  format: z.enum(['json', 'slack']).default('json'),
  /** Events sent to this channel; all when absent. */
  events: eventsField,
};

const smtpFields = {
  host: z.string().min(1).max(255),
  /** @default 587 */
  port: z.number().int().min(1).max(65535).default(587),
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. @default false */
  secure: z.boolean().default(false),
  user: z.string().max(255).optional(),
  /** Environment variable of the server holding the SMTP password (never the password itself). */
  passwordEnv: z
    .string()
    .regex(ENV_NAME, 'an environment variable name (letters, digits, underscores)')
    .optional(),
};

const emailFields = {
  type: z.literal('email'),
  name: channelName,
  /** Recipients. @example ['data-team@example.com'] */
  to: z.array(z.string().email()).min(1).max(50),
  /** Sender address. @example 'ashpipe@example.com' */
  from: z.string().email(),
  smtp: z.object(smtpFields).strict(),
  events: eventsField,
};

/** A notification channel's settings as `serve --alert-channels FILE` gives them (passwords by env var only). */
export const channelConfigSchema = z.discriminatedUnion('type', [
  z.object(webhookFields).strict(),
  z.object(emailFields).strict(),
]);
export type ChannelConfig = z.infer<typeof channelConfigSchema>;

/**
 * A channel as the control store keeps it (made in the console, the REST API or a flows file): the file's
 * settings, an SMTP password given itself (write-only), and the flows file that manages it.
 */
export const storedChannelSchema = z.discriminatedUnion('type', [
  z
    .object({
      ...webhookFields,
      /** The flows file that manages the channel (`ashpipe apply`). */
      managedBy: z.string().trim().min(1).max(200).optional(),
    })
    .strict(),
  z
    .object({
      ...emailFields,
      smtp: z
        .object({
          ...smtpFields,
          /** The SMTP password itself: write-only, never returned. */
          password: z.string().min(1).max(1024).optional(),
        })
        .strict(),
      managedBy: z.string().trim().min(1).max(200).optional(),
    })
    .strict(),
]);
export type StoredChannelConfig = z.infer<typeof storedChannelSchema>;

/**
 * An edit of a stored channel: its settings again, with the secrets optional — a webhook `url` or an SMTP
 * `password` left out keeps the stored one (a client never reads them back to send them again).
 */
export const channelEditSchema = z.discriminatedUnion('type', [
  storedChannelSchema.options[0].extend({ url: z.string().url().optional() }),
  storedChannelSchema.options[1],
]);
export type ChannelEdit = z.infer<typeof channelEditSchema>;
