/**
 * The alerts' tables of the control store (migration `0060-alerts`), on SQLite or PostgreSQL alike:
 * notification channels made in the console, the REST API or a flows file, and the incidents open now.
 */
import type { Kysely } from 'kysely';
import { type StoredChannelConfig, storedChannelSchema } from '../alerts/channels.js';
import type { Incident, IncidentStore } from '../alerts/notifier.js';
import type { ControlDatabase } from '../control/schema.js';
import { registerSecret } from '../util/redact.js';
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

/** Notification channels in the control store. Names are unique (the table says so). */
export class AlertChannelStore {
  constructor(
    private readonly db: Kysely<ControlDatabase>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private toChannel(row: {
    id: string;
    config: string;
    created_at: string;
    updated_at: string;
  }): StoredChannel {
    // Parsed again: a row written by an older build gets today's defaults, and a broken one says so.
    const config = storedChannelSchema.parse(JSON.parse(row.config));
    registerChannelSecrets(config);
    return { id: row.id, config, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  async list(): Promise<StoredChannel[]> {
    const rows = await this.db.selectFrom('alert_channels').selectAll().orderBy('name').execute();
    return rows.map((r) => this.toChannel(r));
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
        config: JSON.stringify(config),
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
        config: JSON.stringify(config),
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
