/**
 * The server's side of alerts: after every run, and every minute for freshness promises, the rules of
 * `src/alerts` decide, the notifier tells the channels, and a flow that failed too often is paused.
 * A flow's policy is its `options.alerts`; the channels come from `serve --alert-channels FILE` (read-only)
 * and from the control store (made in the console, the REST API or a flows file).
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  type AlertMessage,
  type AlertPolicy,
  type Channel,
  type ChannelConfig,
  channelConfigSchema,
  checkFreshness,
  DEFAULT_ALERT_POLICY,
  type Decision,
  decideAfterRun,
  decideParked,
  type FreshnessFact,
  type FreshnessWithdrawal,
  freshnessIncident,
  type IncidentStore,
  MemoryIncidentStore,
  Notifier,
  openChannel,
  withdrawFreshness,
} from '../alerts/index.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import type { AlertChannelStore } from './alert-store.js';
import type { Flow, Run } from './model.js';
import type { ServerServices } from './services.js';
import type { ServerStore } from './store.js';

/** Codes a run's error carries when Ashby refused the key itself (HTTP 401/403 without a permission code). */
const KEY_REFUSED = new Set([
  'unauthorized',
  'forbidden',
  'unauthenticated',
  'invalid_api_key',
  'AshbyAuthError',
]);
/** The client's own wording of a refused key (`src/ashby/errors.ts`), whatever code Ashby sent with it. */
const KEY_REFUSED_MESSAGE = /^Ashby (refused the API key|rejected the request as unauthenticated)/;

/** Whether a run error says Ashby refused the key (revoked or rotated in Ashby), not one request. */
export function isKeyRefused(error: { code?: string | undefined; message: string }): boolean {
  return KEY_REFUSED.has(error.code ?? '') || KEY_REFUSED_MESSAGE.test(error.message);
}

/** What alerting needs of the control store. */
export interface AlertingStore {
  /** The flow's latest runs, newest first, dry runs left out. */
  recentRuns(flowId: string, limit: number): Promise<Run[]> | Run[];
  /** Pauses the flow, keeping `reason` with it for the console and the REST API. */
  pauseFlow(flowId: string, reason: string): Promise<unknown> | unknown;
  listFlows(): Promise<Flow[]> | Flow[];
  credentialName(credentialId: string): Promise<string> | string;
}

/** `options.alerts` of a flow, with the defaults filled in; `channels` absent: every channel. */
export function flowAlertPolicy(options: Record<string, unknown>): AlertPolicy & { channels?: string[] } {
  const raw = (options.alerts ?? {}) as {
    autoPauseAfter?: number;
    quarantineThreshold?: number;
    freshnessMinutes?: number;
    channels?: string[];
  };
  return {
    ...(raw.channels === undefined ? {} : { channels: raw.channels }),
    autoPauseAfter: raw.autoPauseAfter ?? DEFAULT_ALERT_POLICY.autoPauseAfter,
    quarantineThreshold: raw.quarantineThreshold ?? DEFAULT_ALERT_POLICY.quarantineThreshold,
    ...(raw.freshnessMinutes === undefined ? {} : { freshnessSeconds: raw.freshnessMinutes * 60 }),
  };
}

/** Reads and checks `--alert-channels FILE` (YAML or JSON: a list of channels). */
export function readAlertChannels(file: string): ChannelConfig[] {
  let data: unknown;
  try {
    data = parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`--alert-channels ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = z.array(channelConfigSchema).safeParse(data);
  if (!parsed.success)
    throw new ConfigError(
      `--alert-channels ${file}: ${parsed.error.issues
        .map((i) => `[${i.path.join('.')}] ${i.message}`)
        .join('; ')}`,
    );
  const names = parsed.data.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ConfigError(`--alert-channels ${file}: two channels are named "${twice}"`);
  return parsed.data;
}

export interface FlowAlertingOptions {
  /** Channel settings (opened here), or channels already open: `--alert-channels FILE`, read-only. */
  channels: ReadonlyArray<ChannelConfig | Channel>;
  /**
   * Channels made in the console, the REST API or a flows file; read at {@link FlowAlerting.reloadChannels}.
   * @default none
   */
  channelStore?: AlertChannelStore;
  store: AlertingStore;
  /** @default incidents kept in memory (a restart may repeat one alert per open incident) */
  incidents?: IncidentStore;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Delivery retries, for tests. */
  retryBaseMs?: number;
}

/** Alerts, auto-pause and freshness promises of the server's flows. */
export class FlowAlerting {
  private readonly notifier: Notifier;
  private readonly store: AlertingStore;
  private readonly logger: Logger | undefined;
  private readonly fixed: readonly Channel[];
  private readonly fixedConfigs: readonly ChannelConfig[];
  private readonly channelStore: AlertChannelStore | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: FlowAlertingOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.channelStore = options.channelStore;
    this.env = options.env;
    this.fixed = options.channels.map((c) => ('deliver' in c ? c : openChannel(c, options.env)));
    this.fixedConfigs = options.channels.filter((c): c is ChannelConfig => !('deliver' in c));
    this.notifier = new Notifier(this.fixed, options.incidents ?? new MemoryIncidentStore(), {
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryBaseMs === undefined ? {} : { retryBaseMs: options.retryBaseMs }),
    });
  }

  /** The channels of `--alert-channels FILE`, as configured (listed read-only by the API). */
  fileChannels(): readonly ChannelConfig[] {
    return this.fixedConfigs;
  }

  /**
   * Reads the stored channels again and delivers through them from now on (after one is added, edited or
   * deleted). Queued after the alerts being sent, so a message is never sent to half a list.
   */
  reloadChannels(): Promise<void> {
    this.queue = this.queue.then(async () => {
      try {
        const stored = (await this.channelStore?.list()) ?? [];
        const fileNames = new Set(this.fixed.map((c) => c.name));
        this.notifier.setChannels([
          ...this.fixed,
          // A file channel keeps its name: a stored one with the same name is refused by the API.
          ...stored.filter((c) => !fileNames.has(c.config.name)).map((c) => openChannel(c.config, this.env)),
        ]);
      } catch (error) {
        this.logger?.error('alert channels not read', { error: (error as Error).message });
      }
    });
    return this.queue;
  }

  /**
   * Sends one test message through a channel of these settings (one attempt, no incident): says whether
   * the receiver took it, or what went wrong.
   */
  async sendTest(
    config: ChannelConfig | Parameters<typeof openChannel>[0],
    at = new Date(),
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    const channel = openChannel(config, this.env);
    const message: AlertMessage = {
      event: 'run_failed',
      state: 'open',
      incident: `test:${config.name}`,
      title: `Test message from ashpipe to "${config.name}"`,
      text: 'This is a test of the channel, sent from the console or the REST API. Nothing failed.',
      at: at.toISOString(),
      details: { test: true },
    };
    try {
      await channel.deliver(message);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: redact((error as Error).message) };
    } finally {
      channel.close?.();
    }
  }

  private async apply(decisions: readonly Decision[], only?: readonly string[]): Promise<void> {
    for (const d of decisions) {
      // A credential is shared by flows: its alerts go to every channel, whatever one flow chose.
      const to = d.type !== 'pause' && d.message.event === 'credential_failing' ? undefined : only;
      if (d.type === 'raise') await this.notifier.raise(d.message, to);
      else if (d.type === 'resolve') await this.notifier.resolve(d.message);
      else {
        await this.store.pauseFlow(d.flowId, d.reason);
        this.logger?.warn('flow paused', { flowId: d.flowId, reason: d.reason });
      }
    }
  }

  /**
   * After a run: alerts, recoveries, and the pause of a flow that failed too often. Runs one after the
   * other (two runs ending together must not open one incident twice); never throws.
   */
  runFinished(flow: Flow, run: Run): Promise<void> {
    this.queue = this.queue.then(() => this.afterRun(flow, run));
    return this.queue;
  }

  /** Resolves when every alert queued so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  private async afterRun(flow: Flow, run: Run): Promise<void> {
    if (run.dryRun || run.status === 'running' || run.status === 'queued') return;
    try {
      const policy = flowAlertPolicy(flow.config.options);
      const recent = await this.store.recentRuns(flow.id, Math.max(policy.autoPauseAfter, 1) + 1);
      let failures = 0;
      for (const r of recent) {
        if (r.status !== 'failed') break;
        failures++;
      }
      const quarantined = run.counts.reduce((n, c) => n + (c.quarantined ?? 0), 0);
      const decisions = decideAfterRun(
        {
          flow: { id: flow.id, name: flow.name },
          credential: { id: flow.credentialId, name: await this.store.credentialName(flow.credentialId) },
          status: run.status,
          finishedAt: run.finishedAt ?? new Date().toISOString(),
          ...(run.errors[0] ? { error: run.errors[0].message } : {}),
          authFailed: run.status === 'failed' && run.errors.some(isKeyRefused),
          quarantined,
          newColumns: run.counts.flatMap((c) => (c.newColumns ?? []).map((column) => `${c.name}.${column}`)),
        },
        failures,
        policy,
      );
      await this.apply(decisions, policy.channels);
    } catch (error) {
      this.logger?.error('alerting failed', { flowId: flow.id, error: (error as Error).message });
    }
  }

  /**
   * The number of the flow's parked webhook events changed (the receiver parked one, or retried ones were
   * applied): some parked opens the incident, none ends it. Queued after the runs' alerts; never throws.
   */
  parkedEvents(flow: Pick<Flow, 'id' | 'name' | 'config'>, parked: number, at = new Date()): Promise<void> {
    this.queue = this.queue.then(async () => {
      try {
        const { channels } = flowAlertPolicy(flow.config.options);
        await this.apply(
          [decideParked({ id: flow.id, name: flow.name }, parked, at.toISOString())],
          channels,
        );
      } catch (error) {
        this.logger?.error('alerting failed', { flowId: flow.id, error: (error as Error).message });
      }
    });
    return this.queue;
  }

  /** The freshness promises of active flows at `now`, queued after the runs' alerts. Never throws. */
  checkFreshness(now: Date): Promise<void> {
    this.queue = this.queue.then(() => this.freshness(now));
    return this.queue;
  }

  private async freshness(now: Date): Promise<void> {
    try {
      const flows = await this.store.listFlows();
      for (const flow of flows) {
        const { freshnessSeconds, channels } = flowAlertPolicy(flow.config.options);
        if (freshnessSeconds === undefined || flow.status !== 'active') continue;
        const good = (await this.store.recentRuns(flow.id, 50)).find(
          (r) => r.status === 'succeeded' || r.status === 'partial',
        );
        const fact: FreshnessFact = {
          flow: { id: flow.id, name: flow.name },
          promiseSeconds: freshnessSeconds,
          lastGoodAt: good?.finishedAt ?? null,
          since: flow.activatedAt ?? flow.createdAt,
        };
        await this.apply(checkFreshness([fact], now), channels);
      }
      await this.withdrawn(flows, now);
    } catch (error) {
      this.logger?.error('freshness check failed', { error: (error as Error).message });
    }
  }

  /** Closes the broken promises of flows no longer checked: paused, deleted, or their promise removed. */
  private async withdrawn(flows: readonly Flow[], now: Date): Promise<void> {
    for (const incident of await this.notifier.openIncidents()) {
      if (incident.event !== 'freshness_broken') continue;
      const flow = flows.find((f) => freshnessIncident(f.id) === incident.key);
      const why: FreshnessWithdrawal | undefined = !flow
        ? 'deleted'
        : flow.status !== 'active'
          ? 'paused'
          : flowAlertPolicy(flow.config.options).freshnessSeconds === undefined
            ? 'promise removed'
            : undefined;
      if (why === undefined) continue;
      // A deleted flow is named as the incident kept it.
      const named = flow ? { id: flow.id, name: flow.name } : incident.flow;
      if (!named) continue;
      await this.apply([withdrawFreshness(named, why, now)]);
    }
  }

  close(): void {
    this.notifier.close();
  }
}

/**
 * Alerting's view of the control store, as the server and a fleet worker both give it: recent runs
 * without dry runs, pausing a flow, and a credential's name (its id when the credential is gone).
 */
export function controlAlertingStore(
  store: Pick<ServerStore, 'listRuns' | 'setFlowStatus' | 'listFlows'>,
  services: Pick<ServerServices, 'credentials'>,
): AlertingStore {
  return {
    recentRuns: async (flowId, limit) =>
      (await store.listRuns({ flowId, limit: limit * 2 })).filter((r) => !r.dryRun).slice(0, limit),
    pauseFlow: (flowId, reason) => store.setFlowStatus(flowId, 'paused', reason),
    listFlows: () => store.listFlows(),
    credentialName: async (id) => {
      try {
        return (await services.credentials.get(id)).name;
      } catch {
        return id;
      }
    },
  };
}
