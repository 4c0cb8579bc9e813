/**
 * The fleet's run queue on pg-boss (PostgreSQL): the scheduler and "run now" enqueue a run of a flow,
 * workers on any machine execute it.
 *
 * - **One run per flow, fleet-wide.** A run is refused while another run of the same flow is queued or
 *   running: {@link RunQueue.enqueue} checks under a transaction-scoped advisory lock on the flow, and
 *   each queue's `stately` policy (at most one job per flow in each state) backs that up in the database.
 * - **Fairness across API keys.** Each key has its own queue (`ashpipe-run_<keyId>`); a worker takes one
 *   job at a time from the queues in turn, so one account's forty flows cannot starve another's one.
 * - **Leases.** A job is leased for {@link WorkerOptions.leaseSeconds}; the worker renews the lease every
 *   {@link WorkerOptions.heartbeatSeconds} while the run goes on. A worker that dies (kill -9, a lost
 *   machine) stops renewing; pg-boss's maintenance (run by any live worker every
 *   {@link WorkerOptions.maintenanceSeconds}) puts the expired job back, and another worker runs it. The
 *   run resumes: a sync from the checkpoints in its target, a push from its ledger.
 * - **Graceful stop.** {@link FleetWorker.stop} (SIGTERM) takes no more jobs, lets running ones finish
 *   for up to `drainSeconds`, then aborts them (a sync stops at a page boundary, checkpointed) and hands
 *   them back to the queue.
 *
 * pg-boss 10.x has no lease renewal of its own; the heartbeat moves the job's `expire_in` forward in
 * pg-boss's `job` table (one UPDATE by id, in the schema pg-boss owns).
 */
import { hostname } from 'node:os';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { redact } from '../util/redact.js';

/** pg-boss's schema when none is given. */
export const DEFAULT_QUEUE_SCHEMA = 'ashpipe_queue';
const QUEUE_PREFIX = 'ashpipe-run_';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What a queued run is: which flow, under which key's budget and queue. Never a secret. */
export interface RunRequest {
  /** The flow to run. */
  flowId: string;
  /** The non-secret id of the flow's API key (a credential id or `fleetKeyId`); the queue it waits in. */
  keyId: string;
  /** Why it runs. */
  trigger: 'schedule' | 'manual' | 'startup';
  /**
   * The id of the run's record (`flow_runs`), the same on every attempt; the job id when absent.
   * @example 'run_3f2c…'
   */
  runId?: string;
}

/** A run handed to an executor. */
export interface RunJob extends RunRequest {
  /** pg-boss's job id: also the id of the run, the same on every attempt. */
  jobId: string;
  /** 1 on the first attempt; more when the run is resumed after a dead worker or a release. */
  attempt: number;
}

/** What a run reports back; stored as the job's output. */
export interface RunOutcome {
  /** The run's exit code (0 success, 3 partial, 1 failure). */
  exitCode: number;
  [detail: string]: unknown;
}

/**
 * Runs one job; a run that throws is recorded as ended with exit code 1 and not retried. The signal aborts when the worker stops and the run did not end in time: stop at the
 * next checkpoint and return (or throw); the job is then given back to the queue.
 */
export type RunExecutor = (job: RunJob, signal: AbortSignal) => Promise<RunOutcome>;

/** Where the queue lives. */
export interface RunQueueOptions {
  /**
   * PostgreSQL of the fleet (the control store's database).
   * @example 'postgres://ashpipe@db.internal/ashpipe'
   */
  connectionString: string;
  /**
   * Schema pg-boss keeps its tables in; created and migrated on first start.
   * @default 'ashpipe_queue'
   */
  schema?: string;
  /**
   * Connections pg-boss may open.
   * @default 4
   */
  maxConnections?: number;
  /**
   * How often pg-boss's maintenance runs (expired leases back to the queue, old jobs archived). Every
   * worker supervises; pg-boss lets one of them do it per interval.
   * @default 20
   */
  maintenanceSeconds?: number;
}

/** How a worker takes and runs jobs. */
export interface WorkerOptions {
  /**
   * The worker's name in logs and in the job's output.
   * @default `${hostname()}:${process.pid}`
   * @example 'worker-2'
   */
  name?: string;
  /**
   * Runs at once in this worker.
   * @default 2
   * @example 4
   */
  concurrency?: number;
  /** Runs a job. */
  execute: RunExecutor;
  /**
   * How long a job stays leased without a heartbeat; a dead worker's job goes back to the queue after
   * this plus at most one maintenance interval.
   * @default 60
   */
  leaseSeconds?: number;
  /**
   * How often a running job's lease is renewed; well under `leaseSeconds`.
   * @default 15
   */
  heartbeatSeconds?: number;
  /**
   * How often an idle worker looks for jobs.
   * @default 2
   */
  pollSeconds?: number;
  /**
   * On stop, how long running jobs may go on before they are aborted and handed back.
   * @default 30
   */
  drainSeconds?: number;
  /** Receives what the worker does (job taken, finished, released, lease lost, errors). */
  onEvent?: (event: WorkerEvent) => void;
}

/** What a worker reports. */
export type WorkerEvent =
  | { type: 'taken'; job: RunJob }
  | { type: 'finished'; job: RunJob; outcome: RunOutcome }
  | { type: 'failed'; job: RunJob; error: string }
  | { type: 'released'; job: RunJob }
  | { type: 'lease-lost'; job: RunJob }
  | { type: 'error'; error: string };

/** Run defaults in one place (seconds). */
export const QUEUE_DEFAULTS = {
  leaseSeconds: 60,
  heartbeatSeconds: 15,
  pollSeconds: 2,
  drainSeconds: 30,
  maintenanceSeconds: 20,
  /** Attempts of a run whose worker died or released it, before the job is failed for good. */
  retryLimit: 20,
} as const;

function queueName(keyId: string): string {
  if (!KEY_ID.test(keyId)) throw new Error(`not a key id: "${keyId}"`);
  return `${QUEUE_PREFIX}${keyId}`;
}

const errorText = (error: unknown) => redact(error instanceof Error ? error.message : String(error));

/** The run queue of a fleet; one per process, shared by its scheduler and its worker. */
export class RunQueue {
  readonly boss: PgBoss;
  readonly schema: string;
  /** The queue's connections, shared with pg-boss (its `db`), for the statements pg-boss has no call for. */
  readonly pool: pg.Pool;
  private readonly created = new Map<string, Promise<void>>();

  private constructor(boss: PgBoss, schema: string, pool: pg.Pool) {
    this.boss = boss;
    this.schema = schema;
    this.pool = pool;
  }

  /** Connects, creates or migrates pg-boss's schema, and starts its maintenance. */
  static async open(options: RunQueueOptions): Promise<RunQueue> {
    const schema = options.schema ?? DEFAULT_QUEUE_SCHEMA;
    if (!IDENTIFIER.test(schema)) throw new Error(`not a schema name: "${schema}"`);
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 4,
    });
    pool.on('error', () => undefined);
    const boss = new PgBoss({
      db: { executeSql: (text, values) => pool.query(text, values) },
      schema,
      maintenanceIntervalSeconds: options.maintenanceSeconds ?? QUEUE_DEFAULTS.maintenanceSeconds,
      // Runs are not cron jobs of pg-boss: ashpipe's scheduler decides when flows run.
      schedule: false,
    });
    const queue = new RunQueue(boss, schema, pool);
    boss.on('error', () => undefined);
    await boss.start();
    return queue;
  }

  /**
   * Queues a run of a flow unless one is already queued or running anywhere in the fleet.
   * @returns the job id, and whether this call queued it (false: the run already waiting or running).
   */
  async enqueue(
    request: RunRequest,
    options: { leaseSeconds?: number } = {},
  ): Promise<{ jobId: string; queued: boolean }> {
    const name = queueName(request.keyId);
    await this.ensureQueue(name);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ashpipe-flow:${request.flowId}`]);
      const existing = await client.query<{ id: string }>(
        `SELECT id FROM "${this.schema}".job WHERE name = $1 AND singleton_key = $2 AND state < 'completed' LIMIT 1`,
        [name, request.flowId],
      );
      const found = existing.rows[0];
      if (found) {
        await client.query('COMMIT');
        return { jobId: found.id, queued: false };
      }
      const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
      const id = await this.boss.send(
        name,
        { ...request },
        {
          singletonKey: request.flowId,
          expireInSeconds: options.leaseSeconds ?? QUEUE_DEFAULTS.leaseSeconds,
          retryLimit: QUEUE_DEFAULTS.retryLimit,
          retryDelay: 0,
          db,
        },
      );
      await client.query('COMMIT');
      if (!id) throw new Error(`the run of flow ${request.flowId} was not queued`);
      return { jobId: id, queued: true };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The state of a run's job (`created`, `retry`, `active`, `completed`, `failed`, …); undefined if unknown. */
  async state(
    keyId: string,
    jobId: string,
  ): Promise<{ state: string; output: unknown; retryCount: number } | undefined> {
    const job = await this.boss.getJobById<RunRequest>(queueName(keyId), jobId, { includeArchive: true });
    return job ? { state: job.state, output: job.output, retryCount: job.retryCount } : undefined;
  }

  /**
   * The states of jobs by id, in any key's queue, archived ones included (`created`, `retry`, `active`,
   * `completed`, `cancelled`, `failed`); a job absent from both tables is absent from the map.
   */
  async jobStates(ids: readonly string[]): Promise<Map<string, { state: string; output: unknown }>> {
    const states = new Map<string, { state: string; output: unknown }>();
    if (ids.length === 0) return states;
    const { rows } = await this.pool.query<{ id: string; state: string; output: unknown }>(
      `SELECT id::text AS id, state::text AS state, output FROM "${this.schema}".job WHERE id = ANY($1::uuid[])
       UNION ALL
       SELECT id::text AS id, state::text AS state, output FROM "${this.schema}".archive WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    for (const row of rows) states.set(row.id, { state: row.state, output: row.output });
    return states;
  }

  /**
   * Cancels a job that no worker has taken yet (waiting its first worker, or handed back and waiting to
   * be resumed); answers whether it did. Without `keyId`, the job is found by its id in any key's queue.
   */
  async cancelQueued(keyId: string | undefined, jobId: string): Promise<boolean> {
    const name = keyId === undefined ? undefined : queueName(keyId);
    const result = await this.pool.query(
      `UPDATE "${this.schema}".job SET state = 'cancelled', completed_on = now()
        WHERE id = $1 AND state IN ('created', 'retry') AND left(name, length($2)) = $2 AND ($3::text IS NULL OR name = $3)`,
      [jobId, QUEUE_PREFIX, name ?? null],
    );
    return result.rowCount === 1;
  }

  /**
   * The jobs not ended yet, by key and state (`created`: waiting its first worker, `retry`: handed back
   * or its worker died, waiting to be resumed, `active`: taken by a worker), with every key queue that
   * exists listed (at 0 when nothing waits in it).
   */
  async jobCounts(): Promise<Array<{ keyId: string; state: 'created' | 'retry' | 'active'; jobs: number }>> {
    const names = await this.keyQueues();
    const { rows } = await this.pool.query<{ name: string; state: string; jobs: string }>(
      `SELECT name, state::text AS state, count(*) AS jobs FROM "${this.schema}".job
        WHERE left(name, length($1)) = $1 AND state IN ('created', 'retry', 'active') GROUP BY name, state`,
      [QUEUE_PREFIX],
    );
    const counts = new Map(rows.map((r) => [`${r.name} ${r.state}`, Number(r.jobs)]));
    const out: Array<{ keyId: string; state: 'created' | 'retry' | 'active'; jobs: number }> = [];
    for (const name of new Set([...names, ...rows.map((r) => r.name)]))
      for (const state of ['created', 'retry', 'active'] as const)
        out.push({
          keyId: name.slice(QUEUE_PREFIX.length),
          state,
          jobs: counts.get(`${name} ${state}`) ?? 0,
        });
    return out;
  }

  /** The key queues that exist, in a stable order. */
  async keyQueues(): Promise<string[]> {
    const queues = await this.boss.getQueues();
    return queues
      .map((q) => q.name)
      .filter((n) => n.startsWith(QUEUE_PREFIX))
      .sort();
  }

  /** Starts a worker loop in this process. */
  worker(options: WorkerOptions): FleetWorker {
    return new FleetWorker(this, options);
  }

  /** Stops pg-boss and closes the connections (workers should be stopped first). */
  async close(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true, close: true });
    await this.pool.end();
  }

  private ensureQueue(name: string): Promise<void> {
    let creating = this.created.get(name);
    if (!creating) {
      creating = this.createQueue(name);
      this.created.set(name, creating);
      creating.catch(() => this.created.delete(name));
    }
    return creating;
  }

  /**
   * Creates a key's queue once in the fleet: pg-boss 10 creates a table partition per queue, and two
   * processes creating the same one at once deadlock, so creation is serialised by an advisory lock.
   */
  private async createQueue(name: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`ashpipe-queue:${this.schema}`]);
      if (!(await this.boss.getQueue(name))) {
        await this.boss.createQueue(name, { name, policy: 'stately', retryLimit: QUEUE_DEFAULTS.retryLimit });
      }
    } finally {
      await client
        .query('SELECT pg_advisory_unlock(hashtext($1))', [`ashpipe-queue:${this.schema}`])
        .catch(() => undefined);
      client.release();
    }
  }
}

interface Running {
  job: RunJob;
  queue: string;
  abort: AbortController;
  done: Promise<void>;
}

/** A worker loop: takes jobs round-robin over the keys' queues, up to its concurrency. */
export class FleetWorker {
  readonly name: string;
  private readonly queue: RunQueue;
  private readonly options: Required<Omit<WorkerOptions, 'onEvent' | 'name'>> & {
    onEvent: WorkerOptions['onEvent'] | undefined;
  };
  private readonly running = new Map<string, Running>();
  private stopping = false;
  private cursor = 0;
  private wake: (() => void) | undefined;
  readonly finished: Promise<void>;

  constructor(queue: RunQueue, options: WorkerOptions) {
    this.queue = queue;
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    this.options = {
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 2)),
      execute: options.execute,
      leaseSeconds: options.leaseSeconds ?? QUEUE_DEFAULTS.leaseSeconds,
      heartbeatSeconds: options.heartbeatSeconds ?? QUEUE_DEFAULTS.heartbeatSeconds,
      pollSeconds: options.pollSeconds ?? QUEUE_DEFAULTS.pollSeconds,
      drainSeconds: options.drainSeconds ?? QUEUE_DEFAULTS.drainSeconds,
      onEvent: options.onEvent,
    };
    this.finished = this.loop();
  }

  /** Runs in this worker now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Takes no more jobs, lets the running ones finish for up to `drainSeconds`, then aborts them and hands
   * them back to the queue. Resolves when no job of this worker runs any more.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const drained = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.options.drainSeconds * 1000);
    });
    if ((await Promise.race([drained.then(() => 'drained' as const), late])) === 'late') {
      for (const r of this.running.values()) r.abort.abort(new Error('the worker is stopping'));
      await drained;
    }
    clearTimeout(timer);
    await this.finished;
  }

  /**
   * Aborts the running jobs now, without waiting for `drainSeconds` (a second SIGTERM): each stops at its
   * next checkpoint and is handed back. Call {@link stop} too, to wait for them.
   */
  abort(): void {
    this.stopping = true;
    this.wake?.();
    for (const r of this.running.values()) r.abort.abort(new Error('the worker was told to stop now'));
  }

  private emit(event: WorkerEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A broken listener must not stop the worker.
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.running.size >= this.options.concurrency) {
        await this.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      let took = false;
      try {
        took = await this.takeOne();
      } catch (error) {
        this.emit({ type: 'error', error: errorText(error) });
      }
      if (!took) await this.sleep(this.options.pollSeconds * 1000);
    }
  }

  /** Tries the keys' queues in turn from where the last take left off; takes at most one job. */
  private async takeOne(): Promise<boolean> {
    const names = await this.queue.keyQueues();
    for (let i = 0; i < names.length && !this.stopping; i++) {
      const name = names[(this.cursor + i) % names.length] as string;
      const jobs = await this.queue.boss.fetch<RunRequest>(name, { batchSize: 1, includeMetadata: true });
      const job = jobs?.[0];
      if (!job) continue;
      this.cursor = (this.cursor + i + 1) % names.length;
      if (this.stopping) {
        await this.queue.boss.fail(name, job.id, { released: true, worker: this.name });
        return false;
      }
      this.start(name, {
        ...job.data,
        jobId: job.id,
        attempt: ((job as { retryCount?: number }).retryCount ?? 0) + 1,
      });
      return true;
    }
    return false;
  }

  private start(queue: string, job: RunJob): void {
    const abort = new AbortController();
    this.emit({ type: 'taken', job });
    const heartbeat = setInterval(() => {
      this.renew(job).catch((error: unknown) => this.emit({ type: 'error', error: errorText(error) }));
    }, this.options.heartbeatSeconds * 1000);
    const renewNow = () => this.renew(job).catch(() => undefined);
    const running: Running = {
      job,
      queue,
      abort,
      done: (async () => {
        try {
          // The job was fetched with the lease it was queued with; this worker's lease starts now.
          await renewNow();
          const outcome = await this.options.execute(job, abort.signal);
          clearInterval(heartbeat);
          if (abort.signal.aborted) {
            await this.release(queue, job);
            return;
          }
          await this.queue.boss.complete(queue, job.jobId, { ...outcome, worker: this.name });
          this.emit({ type: 'finished', job, outcome });
        } catch (error) {
          clearInterval(heartbeat);
          if (abort.signal.aborted) await this.release(queue, job);
          else {
            // A run that throws has ended in failure: retrying it at once would only repeat the failure
            // (the scheduler runs the flow again at its next slot). Retries are for runs cut short.
            await this.queue.boss
              .complete(queue, job.jobId, { exitCode: 1, error: errorText(error), worker: this.name })
              .catch(() => undefined);
            this.emit({ type: 'failed', job, error: errorText(error) });
          }
        } finally {
          this.running.delete(job.jobId);
          this.wake?.();
        }
      })(),
    };
    this.running.set(job.jobId, running);
  }

  /** Moves the job's expiry to a lease from now; a job no longer active here is aborted. */
  private async renew(job: RunJob): Promise<void> {
    const result = await this.queue.pool.query(
      `UPDATE "${this.queue.schema}".job
            SET expire_in = (now() - started_on) + make_interval(secs => $2)
          WHERE id = $1 AND state = 'active'`,
      [job.jobId, this.options.leaseSeconds],
    );
    if (result.rowCount === 0) {
      // Expired and handed to another worker (this one stalled past its lease): stop writing.
      const running = this.running.get(job.jobId);
      if (running && !running.abort.signal.aborted) {
        this.emit({ type: 'lease-lost', job });
        running.abort.abort(new Error('the lease of the run was lost'));
      }
    }
  }

  /** Hands an unfinished job back: it is retried at once by whichever worker takes it. */
  private async release(queue: string, job: RunJob): Promise<void> {
    await this.queue.boss
      .fail(queue, job.jobId, { released: true, worker: this.name })
      .catch(() => undefined);
    this.emit({ type: 'released', job });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      function done() {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
