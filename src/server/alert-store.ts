/**
 * The alerts' tables of the control store (migration `0060-alerts`), on SQLite or PostgreSQL alike:
 * notification channels made in the console, the REST API or a flows file, and the incidents open now.
 */
import type { Kysely } from 'kysely';
import { type StoredChannelConfig, storedChannelSchema } from '../alerts/channels.js';
import type { Incident, IncidentStore } from '../alerts/notifier.js';
import type { ControlDatabase } from '../control/schema.js';
import { registerSecret } from '../util/redact.js';
import { type Envelope, openApiKey, sealApiKey } from '../vault/crypto.js';
import { newId } from './security/crypto.js';

/** A channel as stored: its settings with their secrets (never handed to a client as they are). */
export interface StoredChannel {
  id: string;
  config: StoredChannelConfig;
  createdAt: string;
  updatedAt: string;
}

/** Registers a channel's secrets for redaction: the webhook URL (its path is a token), the SMTP password. */
export function registerChannelSecrets(config: StoredChannelConfig): void {
  if (config.type === 'webhook') registerSecret(config.url);
  else registerSecret(config.smtp.password);
}

/** A channel's secrets, apart from its other settings. */
interface ChannelSecrets {
  url?: string;
  password?: string;
}

/** An envelope as JSON text: base64 of each part. */
interface SealedJson {
  key: { ciphertext: string; iv: string; tag: string };
  dataKey: { ciphertext: string; iv: string; tag: string };
}

const b64 = (s: { ciphertext: Buffer; iv: Buffer; tag: Buffer }) => ({
  ciphertext: s.ciphertext.toString('base64'),
  iv: s.iv.toString('base64'),
  tag: s.tag.toString('base64'),
});
const unb64 = (s: { ciphertext: string; iv: string; tag: string }) => ({
  ciphertext: Buffer.from(s.ciphertext, 'base64'),
  iv: Buffer.from(s.iv, 'base64'),
  tag: Buffer.from(s.tag, 'base64'),
});

/** The vault's envelope bound to the channel's id: a row's secrets copied onto another channel do not open. */
const sealId = (channelId: string) => `alert-channel:${channelId}`;

/** Splits a channel's settings from its secrets. */
function withoutSecrets(config: StoredChannelConfig): {
  rest: Record<string, unknown>;
  secrets: ChannelSecrets;
} {
  if (config.type === 'webhook') {
    const { url, ...rest } = config;
    return { rest, secrets: { url } };
  }
  const { password, ...smtp } = config.smtp;
  return { rest: { ...config, smtp }, secrets: password === undefined ? {} : { password } };
}

/**
 * Notification channels in the control store. Names are unique (the table says so). With the vault's
 * master key, the secrets (webhook URL, SMTP password) are encrypted at rest in the vault's envelope (a
 * data key per write, wrapped by the master key, the channel id bound as associated data).
 */
export class AlertChannelStore {
  constructor(
    private readonly db: Kysely<ControlDatabase>,
    private readonly now: () => Date = () => new Date(),
    /** The vault's master key; absent: secrets are stored as given (tests of the table alone). */
    private readonly masterKey?: () => Promise<Buffer>,
  ) {}

  /** The `config` column's text: the settings, and the secrets sealed when there is a master key. */
  private async columnOf(id: string, config: StoredChannelConfig): Promise<string> {
    if (!this.masterKey) return JSON.stringify(config);
    const { rest, secrets } = withoutSecrets(config);
    const envelope: Envelope = sealApiKey(await this.masterKey(), sealId(id), JSON.stringify(secrets));
    const sealed: SealedJson = { key: b64(envelope.key), dataKey: b64(envelope.dataKey) };
    return JSON.stringify({ ...rest, sealed });
  }

  private async toChannel(row: {
    id: string;
    name: string;
    config: string;
    created_at: string;
    updated_at: string;
  }): Promise<StoredChannel> {
    const { sealed, ...stored } = JSON.parse(row.config) as Record<string, unknown> & { sealed?: SealedJson };
    let raw: Record<string, unknown> = stored;
    if (sealed) {
      if (!this.masterKey) throw new Error(`channel "${row.name}" is sealed and no master key was given`);
      const secrets = JSON.parse(
        openApiKey(
          await this.masterKey(),
          sealId(row.id),
          { key: unb64(sealed.key), dataKey: unb64(sealed.dataKey) },
          `alert channel ${row.name}`,
        ),
      ) as ChannelSecrets;
      raw =
        stored.type === 'webhook'
          ? { ...stored, url: secrets.url }
          : {
              ...stored,
              smtp: {
                ...(stored.smtp as Record<string, unknown>),
                ...(secrets.password === undefined ? {} : { password: secrets.password }),
              },
            };
    }
    // Parsed again: a row written by an older build gets today's defaults, and a broken one says so.
    const config = storedChannelSchema.parse(raw);
    registerChannelSecrets(config);
    return { id: row.id, config, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  async list(): Promise<StoredChannel[]> {
    const rows = await this.db.selectFrom('alert_channels').selectAll().orderBy('name').execute();
    return Promise.all(rows.map((r) => this.toChannel(r)));
  }

  async get(id: string): Promise<StoredChannel | undefined> {
    const row = await this.db
      .selectFrom('alert_channels')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? this.toChannel(row) : undefined;
  }

  async byName(name: string): Promise<StoredChannel | undefined> {
    const row = await this.db
      .selectFrom('alert_channels')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? this.toChannel(row) : undefined;
  }

  async create(config: StoredChannelConfig): Promise<StoredChannel> {
    const at = this.now().toISOString();
    const id = newId('chn');
    registerChannelSecrets(config);
    await this.db
      .insertInto('alert_channels')
      .values({
        id,
        name: config.name,
        type: config.type,
        config: await this.columnOf(id, config),
        created_at: at,
        updated_at: at,
      })
      .execute();
    return { id, config, createdAt: at, updatedAt: at };
  }

  async update(id: string, config: StoredChannelConfig): Promise<StoredChannel | undefined> {
    registerChannelSecrets(config);
    const result = await this.db
      .updateTable('alert_channels')
      .set({
        name: config.name,
        type: config.type,
        config: await this.columnOf(id, config),
        updated_at: this.now().toISOString(),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? this.get(id) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('alert_channels').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }
}

/** Open incidents in the control store: a restart of the server neither repeats nor forgets them. */
export class ControlIncidentStore implements IncidentStore {
  constructor(private readonly db: Kysely<ControlDatabase>) {}

  private static toIncident(row: {
    key: string;
    event: string;
    opened_at: string;
    count: number;
    notified: string;
    flow: string | null;
  }): Incident {
    return {
      key: row.key,
      event: row.event as Incident['event'],
      openedAt: row.opened_at,
      count: Number(row.count),
      notified: JSON.parse(row.notified) as string[],
      ...(row.flow === null ? {} : { flow: JSON.parse(row.flow) as { id: string; name: string } }),
    };
  }

  async get(key: string): Promise<Incident | undefined> {
    const row = await this.db
      .selectFrom('alert_incidents')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    return row ? ControlIncidentStore.toIncident(row) : undefined;
  }

  async put(incident: Incident): Promise<void> {
    const values = {
      key: incident.key,
      event: incident.event,
      opened_at: incident.openedAt,
      count: incident.count,
      notified: JSON.stringify(incident.notified),
      flow: incident.flow ? JSON.stringify(incident.flow) : null,
    };
    await this.db
      .insertInto('alert_incidents')
      .values(values)
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({ count: values.count, notified: values.notified, flow: values.flow }),
      )
      .execute();
  }

  async remove(key: string): Promise<void> {
    await this.db.deleteFrom('alert_incidents').where('key', '=', key).execute();
  }

  async list(): Promise<Incident[]> {
    const rows = await this.db.selectFrom('alert_incidents').selectAll().orderBy('opened_at').execute();
    return rows.map((r) => ControlIncidentStore.toIncident(r));
  }
}
