/**
 * The server's side of alerts: after every run, and every minute for freshness promises, the rules of
 * `src/alerts` decide, the notifier tells the channels, and a flow that failed too often is paused.
 * A flow's policy is its `options.alerts`; the channels come from `serve --alert-channels FILE`.
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  type AlertPolicy,
  type Channel,
  type ChannelConfig,
  channelConfigSchema,
  checkFreshness,
  DEFAULT_ALERT_POLICY,
  type Decision,
  decideAfterRun,
  type FreshnessFact,
  type IncidentStore,
  MemoryIncidentStore,
  Notifier,
  openChannel,
} from '../alerts/index.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Flow, Run } from './model.js';

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
  pauseFlow(flowId: string): Promise<unknown> | unknown;
  listFlows(): Promise<Flow[]> | Flow[];
  credentialName(credentialId: string): Promise<string> | string;
}

/** `options.alerts` of a flow, with the defaults filled in. */
export function flowAlertPolicy(options: Record<string, unknown>): AlertPolicy {
  const raw = (options.alerts ?? {}) as {
    autoPauseAfter?: number;
    quarantineThreshold?: number;
    freshnessMinutes?: number;
  };
  return {
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
  /** Channel settings (opened here), or channels already open. */
  channels: ReadonlyArray<ChannelConfig | Channel>;
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
  private queue: Promise<void> = Promise.resolve();

  constructor(options: FlowAlertingOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.notifier = new Notifier(
      options.channels.map((c) => ('deliver' in c ? c : openChannel(c, options.env))),
      options.incidents ?? new MemoryIncidentStore(),
      {
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.retryBaseMs === undefined ? {} : { retryBaseMs: options.retryBaseMs }),
      },
    );
  }

  private async apply(decisions: readonly Decision[]): Promise<void> {
    for (const d of decisions) {
      if (d.type === 'raise') await this.notifier.raise(d.message);
      else if (d.type === 'resolve') await this.notifier.resolve(d.message);
      else {
        await this.store.pauseFlow(d.flowId);
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
          newColumns: [],
        },
        failures,
        policy,
      );
      await this.apply(decisions);
    } catch (error) {
      this.logger?.error('alerting failed', { flowId: flow.id, error: (error as Error).message });
    }
  }

  /** The freshness promises of active flows at `now`, queued after the runs' alerts. Never throws. */
  checkFreshness(now: Date): Promise<void> {
    this.queue = this.queue.then(() => this.freshness(now));
    return this.queue;
  }

  private async freshness(now: Date): Promise<void> {
    try {
      const facts: FreshnessFact[] = [];
      for (const flow of await this.store.listFlows()) {
        const { freshnessSeconds } = flowAlertPolicy(flow.config.options);
        if (freshnessSeconds === undefined || flow.status !== 'active') continue;
        const good = (await this.store.recentRuns(flow.id, 50)).find(
          (r) => r.status === 'succeeded' || r.status === 'partial',
        );
        facts.push({
          flow: { id: flow.id, name: flow.name },
          promiseSeconds: freshnessSeconds,
          lastGoodAt: good?.finishedAt ?? null,
          since: flow.activatedAt ?? flow.createdAt,
        });
      }
      await this.apply(checkFreshness(facts, now));
    } catch (error) {
      this.logger?.error('freshness check failed', { error: (error as Error).message });
    }
  }

  close(): void {
    this.notifier.close();
  }
}
