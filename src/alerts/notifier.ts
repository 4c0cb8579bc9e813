/**
 * One message per incident, not per retry: an incident is opened by the first alert with its key, every
 * channel is told once, later alerts with the same key are folded into it, and its end is told once as a
 * recovery. Incidents are kept in an {@link IncidentStore} so a restart neither repeats nor forgets them.
 */
import type { Logger } from '../util/logger.js';
import type { AlertEvent, AlertMessage, Channel } from './channels.js';

/** An open incident. */
export interface Incident {
  key: string;
  event: AlertEvent;
  openedAt: string;
  /** Alerts folded into it since it opened (the first included). */
  count: number;
  /** Channels that have been told; the others are retried at the next alert of the incident. */
  notified: string[];
  flow?: { id: string; name: string };
}

/** Where open incidents are kept. */
export interface IncidentStore {
  get(key: string): Promise<Incident | undefined>;
  put(incident: Incident): Promise<void>;
  remove(key: string): Promise<void>;
  list(): Promise<Incident[]>;
}

/** Incidents in memory: for the CLI's one-shot runs and for tests. */
export class MemoryIncidentStore implements IncidentStore {
  private readonly map = new Map<string, Incident>();
  async get(key: string) {
    const found = this.map.get(key);
    return found ? { ...found, notified: [...found.notified] } : undefined;
  }
  async put(incident: Incident) {
    this.map.set(incident.key, { ...incident, notified: [...incident.notified] });
  }
  async remove(key: string) {
    this.map.delete(key);
  }
  async list() {
    return [...this.map.values()];
  }
}

/** What the notifier did with an alert. */
export type NotifyResult =
  | { outcome: 'opened'; delivered: string[]; failed: string[] }
  | { outcome: 'folded'; delivered: string[]; failed: string[] }
  | { outcome: 'recovered'; delivered: string[]; failed: string[] }
  | { outcome: 'nothing-open' };

export interface NotifierOptions {
  logger?: Logger;
  /**
   * Delivery attempts per channel and message (the first included).
   * @default 3
   */
  attempts?: number;
  /**
   * Pause before the second attempt; each later one waits twice as long.
   * @default 1000
   */
  retryBaseMs?: number;
  /** @default a timer */
  sleep?: (ms: number) => Promise<void>;
}

export class Notifier {
  private readonly attempts: number;
  private readonly retryBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  private channels: readonly Channel[];

  constructor(
    channels: readonly Channel[],
    private readonly store: IncidentStore,
    private readonly options: NotifierOptions = {},
  ) {
    this.channels = channels;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Replaces the channels (one was added, edited or deleted); the old ones are closed. Open incidents keep
   * the names of the channels told, so a channel edited under the same name is not told again.
   */
  setChannels(channels: readonly Channel[]): void {
    const old = this.channels;
    this.channels = channels;
    for (const c of old) if (!channels.includes(c)) c.close?.();
  }

  /** The channels open now. */
  list(): readonly Channel[] {
    return this.channels;
  }

  /**
   * Sends `message` through every channel that wants it (and is in `only`, when given), retrying each;
   * returns who took it.
   */
  private async send(message: AlertMessage, skip: readonly string[] = [], only?: readonly string[]) {
    const delivered: string[] = [];
    const failed: string[] = [];
    await Promise.all(
      this.channels
        .filter(
          (c) =>
            c.wants(message.event) && !skip.includes(c.name) && (only === undefined || only.includes(c.name)),
        )
        .map(async (channel) => {
          for (let attempt = 1; ; attempt++) {
            try {
              await channel.deliver(message);
              delivered.push(channel.name);
              return;
            } catch (error) {
              if (attempt >= this.attempts) {
                failed.push(channel.name);
                this.options.logger?.warn('alert not delivered', {
                  channel: channel.name,
                  incident: message.incident,
                  error: (error as Error).message,
                });
                return;
              }
              await this.sleep(this.retryBaseMs * 2 ** (attempt - 1));
            }
          }
        }),
    );
    return { delivered, failed };
  }

  /**
   * An alert: opens its incident and tells every channel, or folds it into the open incident (channels
   * that missed the first message are tried again; the others hear nothing). `only` limits the channels
   * (a flow's own choice); all when absent.
   */
  async raise(message: AlertMessage & { state: 'open' }, only?: readonly string[]): Promise<NotifyResult> {
    const open = await this.store.get(message.incident);
    if (open) {
      const { delivered, failed } = await this.send(message, open.notified, only);
      await this.store.put({ ...open, count: open.count + 1, notified: [...open.notified, ...delivered] });
      return { outcome: 'folded', delivered, failed };
    }
    // Stored before sending: a crash while sending leaves an open incident, never a second one.
    const incident: Incident = {
      key: message.incident,
      event: message.event,
      openedAt: message.at,
      count: 1,
      notified: [],
      ...(message.flow ? { flow: message.flow } : {}),
    };
    await this.store.put(incident);
    const { delivered, failed } = await this.send(message, [], only);
    await this.store.put({ ...incident, notified: delivered });
    return { outcome: 'opened', delivered, failed };
  }

  /** The end of an incident: one recovery message to the channels that were told it began. */
  async resolve(message: AlertMessage & { state: 'recovered' }): Promise<NotifyResult> {
    const open = await this.store.get(message.incident);
    if (!open) return { outcome: 'nothing-open' };
    await this.store.remove(message.incident);
    const skip = this.channels.map((c) => c.name).filter((n) => !open.notified.includes(n));
    const { delivered, failed } = await this.send(message, skip);
    return { outcome: 'recovered', delivered, failed };
  }

  /** The incidents open now. */
  openIncidents(): Promise<Incident[]> {
    return this.store.list();
  }

  close(): void {
    for (const c of this.channels) c.close?.();
  }
}
