import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { limiterById, limiterId } from '../ashby/limiter.js';
import type { ClientEvent } from '../ashby/types.js';
import type { ControlDatabase } from '../control/schema.js';
import type { RunQueue } from '../fleet/queue.js';
import type { RecordStatus } from '../push/types.js';
import type { SyncEvent } from '../sync/types.js';
import type { ReceiveAnswer, SettledEvent } from '../webhooks/index.js';
import type { Flow, Run, RunCount } from './model.js';

/**
 * Who may read `GET /metrics`.
 * - `loopback`: clients on this machine (127.0.0.0/8, ::1) without a token; others with an API token.
 * - `token`: an API token (`Authorization: Bearer ashp_…`) from everyone, this machine included.
 * - `off`: no `/metrics` route (404).
 */
export type MetricsAccess = 'loopback' | 'token' | 'off';

/** The accepted values of {@link MetricsAccess}, for option parsing. */
export const METRICS_ACCESS: readonly MetricsAccess[] = ['loopback', 'token', 'off'];

/** Buckets of the run duration histogram, in seconds: a one-second run to a six-hour backfill. */
const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/** Buckets of the webhook event-to-row lag, in seconds: a batch gathered at once to an hour of retries. */
const WEBHOOK_LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** What a destination record's status counts as in `ashpipe_push_records_total`; dry runs are not counted. */
const PUSH_OUTCOME: Readonly<Record<RecordStatus, string | undefined>> = {
  created: 'applied',
  updated: 'applied',
  'skipped-existing': 'skipped',
  'skipped-done': 'skipped',
  quarantined: 'quarantined',
  failed: 'failed',
  pending: 'pending',
  'dry-run': undefined,
};

/** The `state` label of `ashpipe_queue_jobs` for each pg-boss state of a job not ended yet. */
const QUEUE_STATE = { created: 'queued', retry: 'retry', active: 'active' } as const;

/** A credential as the series label it: its name and id, never its key. */
interface CredentialLabels {
  credential: string;
  credential_id: string;
}

/** The hooks a run's engine receives from {@link ServerMetrics.runHooks}. */
export interface RunHooks {
  onClientEvent: (event: ClientEvent) => void;
  onSyncEvent?: (event: SyncEvent) => void;
  onPushResult?: (operation: string, status: RecordStatus) => void;
}

/** A flow as the series label it: its name, and its id (names can change, ids cannot). */
interface FlowLabels {
  flow: string;
  flow_id: string;
}

/**
 * The Prometheus series of `ashpipe serve`, in a registry of their own (never the global one, so two
 * servers in one process — the tests — do not share counts). Labels name credentials and flows by their
 * name and id, never by the API key.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'endpoint' | 'status' | 'error_code'>;
  private readonly rateLimited: Counter<'credential' | 'credential_id'>;
  private readonly retryAfter: Counter<'credential' | 'credential_id'>;
  private readonly recordsRead: Counter<'flow' | 'flow_id' | 'stream'>;
  private readonly recordsWritten: Counter<'flow' | 'flow_id' | 'stream'>;
  private readonly runs: Counter<'flow' | 'flow_id' | 'outcome'>;
  private readonly duration: Histogram<'flow' | 'flow_id'>;
  private readonly tokenResets: Counter<'flow' | 'flow_id' | 'stream' | 'reason'>;
  private readonly pushRecords: Counter<'flow' | 'flow_id' | 'operation' | 'outcome'>;
  private readonly webhookDeliveries: Counter<'flow' | 'flow_id' | 'result'>;
  private readonly webhookApplied: Counter<'flow' | 'flow_id'>;
  private readonly webhookParked: Counter<'flow' | 'flow_id'>;
  private readonly webhookLag: Histogram<'flow' | 'flow_id'>;
  /**
   * Credentials whose runs have started, by id: their labels and the id of their process-wide limiter
   * (a hash: the key itself is not kept here).
   */
  private readonly limiters = new Map<string, { labels: CredentialLabels; limiter: string }>();

  /** Whether {@link observeFleet} registered the queue's series already. */
  private fleetObserved = false;

  /** @param db the control store (SQLite or PostgreSQL), read at scrape time for freshness */
  constructor(private readonly db: Kysely<ControlDatabase>) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'ashpipe_ashby_requests_total',
      help: 'Answers from Ashby to flow runs, by endpoint, HTTP status and Ashby error code ("" on success)',
      labelNames: ['endpoint', 'status', 'error_code'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'ashpipe_ashby_rate_limited_total',
      help: 'Answers 429 (or Ashby rate-limit errors) to flow runs, by credential',
      labelNames: ['credential', 'credential_id'],
      registers,
    });
    this.retryAfter = new Counter({
      name: 'ashpipe_ashby_retry_after_seconds_total',
      help: 'Seconds Ashby asked flow runs to wait (Retry-After) after rate-limit answers, by credential',
      labelNames: ['credential', 'credential_id'],
      registers,
    });
    this.recordsRead = new Counter({
      name: 'ashpipe_records_read_total',
      help: 'Records read by finished runs, by flow and stream (source flows) or operation (destinations)',
      labelNames: ['flow', 'flow_id', 'stream'],
      registers,
    });
    this.recordsWritten = new Counter({
      name: 'ashpipe_records_written_total',
      help: 'Records written (inserted, updated, applied) by finished runs, by flow and stream or operation',
      labelNames: ['flow', 'flow_id', 'stream'],
      registers,
    });
    this.runs = new Counter({
      name: 'ashpipe_flow_runs_total',
      help: 'Finished runs by flow and outcome (succeeded, partial, failed, cancelled)',
      labelNames: ['flow', 'flow_id', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ashpipe_flow_run_duration_seconds',
      help: 'Duration of finished runs, by flow',
      labelNames: ['flow', 'flow_id'],
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    this.tokenResets = new Counter({
      name: 'ashpipe_sync_token_resets_total',
      help: "Stored syncTokens left unused for a full pass, by flow, stream and reason (Ashby's code when it refused the token, full_refresh, reconcile)",
      labelNames: ['flow', 'flow_id', 'stream', 'reason'],
      registers,
    });
    this.pushRecords = new Counter({
      name: 'ashpipe_push_records_total',
      help: 'Records of destination runs by flow, operation and outcome (applied, skipped, quarantined, failed, pending)',
      labelNames: ['flow', 'flow_id', 'operation', 'outcome'],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'ashpipe_webhook_events_received_total',
      help: 'Webhook deliveries answered, by flow and result (stored, duplicate, ignored, refused)',
      labelNames: ['flow', 'flow_id', 'result'],
      registers,
    });
    this.webhookApplied = new Counter({
      name: 'ashpipe_webhook_events_applied_total',
      help: "Webhook events written to the flow's target",
      labelNames: ['flow', 'flow_id'],
      registers,
    });
    this.webhookParked = new Counter({
      name: 'ashpipe_webhook_events_parked_total',
      help: 'Webhook events parked after failing every attempt (kept in the inbox, no longer retried)',
      labelNames: ['flow', 'flow_id'],
      registers,
    });
    this.webhookLag = new Histogram({
      name: 'ashpipe_webhook_event_lag_seconds',
      help: 'Seconds from receiving a webhook event to its rows being written, by flow',
      labelNames: ['flow', 'flow_id'],
      buckets: WEBHOOK_LAG_BUCKETS,
      registers,
    });
    const limiters = this.limiters;
    const limiterGauge = (name: string, help: string, read: (id: string) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['credential', 'credential_id'],
        registers,
        collect() {
          this.reset();
          for (const { labels, limiter } of limiters.values()) {
            const value = read(limiter);
            if (value !== undefined) this.set(labels, value);
          }
        },
      });
    limiterGauge(
      'ashpipe_limiter_queued_requests',
      'Requests waiting for the limiter of a credential (concurrency, pace or a Retry-After pause)',
      (id) => limiterById(id)?.stats().queued,
    );
    limiterGauge(
      'ashpipe_limiter_in_flight_requests',
      'Requests of a credential in flight now',
      (id) => limiterById(id)?.stats().inFlight,
    );
    limiterGauge(
      'ashpipe_limiter_learned_requests_per_second',
      "The request rate a credential's limiter learned from 429s (absent before the first one)",
      (id) => limiterById(id)?.stats().learnedRequestsPerSecond,
    );
    const lastSuccess = () =>
      db
        .selectFrom('flows as f')
        .innerJoin('flow_runs as r', 'r.flow_id', 'f.id')
        .select((eb) => ['f.id as id', 'f.name as name', eb.fn.max('r.finished_at').as('finished')])
        .where('r.status', '=', 'succeeded')
        .where('r.dry_run', '=', 0)
        .where('r.finished_at', 'is not', null)
        .groupBy(['f.id', 'f.name'])
        .execute();
    new Gauge({
      name: 'ashpipe_flow_seconds_since_last_success',
      help: 'Seconds since the last successful run of each flow (flows never run successfully are absent)',
      labelNames: ['flow', 'flow_id'],
      registers,
      // Computed at each scrape from the control store, so it keeps growing while nothing runs and
      // survives restarts.
      async collect() {
        const rows = await lastSuccess();
        this.reset();
        const now = Date.now();
        for (const row of rows) {
          const at = Date.parse(row.finished ?? '');
          if (Number.isFinite(at))
            this.set({ flow: row.name, flow_id: row.id }, Math.max(0, (now - at) / 1000));
        }
      },
    });
    const streamFreshness = new StreamFreshness(db);
    new Gauge({
      name: 'ashpipe_stream_seconds_since_last_success',
      help: 'Seconds since the end of the last (not dry) run of each source flow in which the stream succeeded',
      labelNames: ['flow', 'flow_id', 'stream'],
      registers,
      async collect() {
        const streams = await streamFreshness.read();
        this.reset();
        const now = Date.now();
        for (const { flow, flowId, stream, at } of streams)
          this.set({ flow, flow_id: flowId, stream }, Math.max(0, (now - at) / 1000));
      },
    });
  }

  /**
   * The hooks of one run of `flow` made with a credential (named by name and id; the key only finds the
   * credential's limiter and is not kept). A dry run's requests are counted, its records are not.
   */
  runHooks(flow: Flow, credential: { id: string; name: string }, apiKey: string, dryRun: boolean): RunHooks {
    const labels: FlowLabels = { flow: flow.name, flow_id: flow.id };
    this.limiters.set(credential.id, {
      labels: { credential: credential.name, credential_id: credential.id },
      limiter: limiterId(apiKey),
    });
    const onClientEvent = this.clientEvents(credential);
    if (dryRun) return { onClientEvent };
    return {
      onClientEvent,
      onSyncEvent: (event) => {
        if (event.type === 'token-reset')
          this.tokenResets.inc({ ...labels, stream: event.stream, reason: event.reason });
      },
      onPushResult: (operation, status) => {
        const outcome = PUSH_OUTCOME[status];
        if (outcome) this.pushRecords.inc({ ...labels, operation, outcome });
      },
    };
  }

  /** A listener for the settled webhook events of a flow: applied and parked counts, and the lag. */
  webhookSettled(flow: { id: string; name: string }): (events: SettledEvent[], settledAt: Date) => void {
    const labels: FlowLabels = { flow: flow.name, flow_id: flow.id };
    return (events, settledAt) => {
      for (const e of events) {
        if (e.outcome === 'parked') this.webhookParked.inc(labels);
        if (e.outcome !== 'applied') continue;
        this.webhookApplied.inc(labels);
        const lag = (settledAt.getTime() - Date.parse(e.receivedAt)) / 1000;
        if (Number.isFinite(lag)) this.webhookLag.observe(labels, Math.max(0, lag));
      }
    };
  }

  /** Counts the answer to one webhook delivery of a flow. */
  webhookReceived(flow: { id: string; name: string }, answer: ReceiveAnswer): void {
    const body = answer.body;
    const result =
      answer.status !== 200 || !('ok' in body)
        ? 'refused'
        : body.duplicate
          ? 'duplicate'
          : body.ignored
            ? 'ignored'
            : 'stored';
    this.webhookDeliveries.inc({ flow: flow.name, flow_id: flow.id, result });
  }

  /** A listener for the client events of one run made with a credential (name and id, never the key). */
  clientEvents(credential: { id: string; name: string }): (event: ClientEvent) => void {
    const key = { credential: credential.name, credential_id: credential.id };
    return (event) => {
      if (event.type === 'response') {
        this.requests.inc({
          endpoint: event.endpoint,
          status: String(event.httpStatus),
          error_code: event.success ? '' : (event.code ?? ''),
        });
      } else if (event.type === 'rateLimited') {
        this.rateLimited.inc(key);
        if (event.retryAfterMs !== undefined && event.retryAfterMs > 0)
          this.retryAfter.inc(key, event.retryAfterMs / 1000);
      }
    };
  }

  /** Counts a finished run (dry runs are not counted: they write nothing and are not the flow's runs). */
  runFinished(flow: Flow, run: Run): void {
    if (run.dryRun) return;
    const labels: FlowLabels = { flow: flow.name, flow_id: flow.id };
    this.runs.inc({ ...labels, outcome: run.status });
    if (run.finishedAt) {
      const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) this.duration.observe(labels, seconds);
    }
    for (const c of run.counts) {
      if (c.read > 0) this.recordsRead.inc({ ...labels, stream: c.name }, c.read);
      if (c.written > 0) this.recordsWritten.inc({ ...labels, stream: c.name }, c.written);
    }
  }

  /**
   * Adds the series of the fleet's run queue (a PostgreSQL control store), read at each scrape from the
   * queue and the control store, so every process of the fleet answers the same fleet-wide figures:
   * jobs waiting or taken per credential, and runs going per worker. Once per instance.
   */
  observeFleet(queue: Pick<RunQueue, 'jobCounts'>): void {
    if (this.fleetObserved) return;
    this.fleetObserved = true;
    const db = this.db;
    const registers = [this.registry];
    new Gauge({
      name: 'ashpipe_queue_jobs',
      help: "Runs in the fleet's queue not ended yet, by credential and state (queued: waiting for a worker; retry: handed back or its worker died, waiting to be resumed; active: taken by a worker)",
      labelNames: ['credential', 'credential_id', 'state'],
      registers,
      async collect() {
        const [counts, credentials] = await Promise.all([
          queue.jobCounts(),
          db.selectFrom('credentials').select(['id', 'name']).execute(),
        ]);
        // The queue of a key is named by its credential's id; a deleted credential keeps its id only.
        const names = new Map(credentials.map((c) => [c.id, c.name]));
        this.reset();
        for (const { keyId, state, jobs } of counts)
          this.set(
            { credential: names.get(keyId) ?? '', credential_id: keyId, state: QUEUE_STATE[state] },
            jobs,
          );
      },
    });
    // Workers seen running a run: one whose runs all ended answers 0 rather than vanishing.
    const workers = new Set<string>();
    new Gauge({
      name: 'ashpipe_worker_runs',
      help: 'Runs going on each worker of the fleet (workers seen since this process started; 0 when idle)',
      labelNames: ['worker'],
      registers,
      async collect() {
        const rows = await db
          .selectFrom('flow_runs')
          .select((eb) => ['worker', eb.fn.countAll<number | string | bigint>().as('runs')])
          .where('status', '=', 'running')
          .where('worker', 'is not', null)
          .groupBy('worker')
          .execute();
        this.reset();
        const going = new Map(rows.map((r) => [r.worker as string, Number(r.runs)]));
        for (const name of going.keys()) workers.add(name);
        for (const name of workers) this.set({ worker: name }, going.get(name) ?? 0);
      },
    });
  }

  /** The exposition text of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * When each stream of each source flow last succeeded, from the runs in the control store. Runs are read
 * once: each scrape reads only the runs finished since the last one it saw, so a long history costs
 * nothing per scrape, and the answer survives restarts (and counts runs a worker finished).
 */
class StreamFreshness {
  /** Flow id → stream → end of the last run in which the stream succeeded (epoch ms). */
  private readonly last = new Map<string, Map<string, number>>();
  /** `finished_at` of the newest run read; runs finished at that instant are read again (harmless). */
  private seen = '';

  constructor(private readonly db: Kysely<ControlDatabase>) {}

  /** Every (flow, stream) that ever succeeded, of flows that still exist, with their current names. */
  async read(): Promise<Array<{ flow: string; flowId: string; stream: string; at: number }>> {
    const runs = await this.db
      .selectFrom('flow_runs')
      .select(['flow_id as flowId', 'finished_at as finished', 'counts'])
      .where('kind', '=', 'source')
      .where('status', 'in', ['succeeded', 'partial'])
      .where('dry_run', '=', 0)
      .where('finished_at', 'is not', null)
      .where('finished_at', '>=', this.seen)
      .orderBy('finished_at')
      .execute();
    const flows = await this.db
      .selectFrom('flows')
      .select(['id', 'name'])
      .where('kind', '=', 'source')
      .execute();
    for (const row of runs) {
      if (row.finished === null) continue;
      this.seen = row.finished;
      const at = Date.parse(row.finished);
      if (!Number.isFinite(at)) continue;
      const streams = this.last.get(row.flowId) ?? new Map<string, number>();
      this.last.set(row.flowId, streams);
      for (const count of parseCounts(row.counts)) {
        if (count.status !== 'succeeded') continue;
        streams.set(count.name, Math.max(at, streams.get(count.name) ?? 0));
      }
    }
    const out: Array<{ flow: string; flowId: string; stream: string; at: number }> = [];
    for (const flow of flows) {
      for (const [stream, at] of this.last.get(flow.id) ?? [])
        out.push({ flow: flow.name, flowId: flow.id, stream, at });
    }
    return out;
  }
}

/** A run's stored counts; a row that does not parse counts as none. */
function parseCounts(text: string): RunCount[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value)
      ? value.filter(
          (c): c is RunCount =>
            typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.status === 'string',
        )
      : [];
  } catch {
    return [];
  }
}
