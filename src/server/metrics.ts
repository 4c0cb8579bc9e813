import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClientEvent } from '../ashby/types.js';
import type { SqliteDatabase } from '../util/sqlite.js';
import type { Flow, Run } from './model.js';

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

  /** @param db the control store, read at scrape time for freshness */
  constructor(db: SqliteDatabase) {
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
    const lastSuccess = db.prepare(
      `SELECT f.id AS id, f.name AS name, MAX(r.finished_at) AS finished
         FROM flows f JOIN flow_runs r ON r.flow_id = f.id
        WHERE r.status = 'succeeded' AND r.dry_run = 0 AND r.finished_at IS NOT NULL
        GROUP BY f.id, f.name`,
    );
    new Gauge({
      name: 'ashpipe_flow_seconds_since_last_success',
      help: 'Seconds since the last successful run of each flow (flows never run successfully are absent)',
      labelNames: ['flow', 'flow_id'],
      registers,
      // Computed at each scrape from the control store, so it keeps growing while nothing runs and
      // survives restarts.
      collect() {
        this.reset();
        const now = Date.now();
        for (const row of lastSuccess.all() as Array<{ id: string; name: string; finished: string }>) {
          const at = Date.parse(row.finished);
          if (Number.isFinite(at))
            this.set({ flow: row.name, flow_id: row.id }, Math.max(0, (now - at) / 1000));
        }
      },
    });
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

  /** The exposition text of every series. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
