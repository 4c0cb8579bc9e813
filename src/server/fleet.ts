/**
 * The server's flows on the fleet's run queue (a PostgreSQL control store): the scheduler and "run now"
 * queue runs ({@link queueDispatch}), workers take them and run them with the server's engines
 * ({@link startFlowWorker}), each run's requests paced by its key's fleet-wide budget.
 *
 * A run's record (`flow_runs`) goes `queued` → `running` (with the worker's name) → its outcome. The
 * record's id travels in the job, so a run resumed by another worker (the first died, its lease expired)
 * is the same run, marked by the worker that resumes it. A run whose job ended without it — the job's
 * retries ran out, or it was cancelled — is closed as failed by {@link reconcileRuns}, which the server
 * and every worker call periodically: no run stays `queued` or `running` forever.
 *
 * A cancel of a run a worker has is a request recorded on the run (`cancel_requested_at`): the worker
 * running it reads it every poll interval and stops the run at its next checkpoint, which then ends
 * `cancelled` and its job completed. A run whose worker died first is not resumed: the worker that takes
 * it over, or {@link reconcileRuns}, ends it `cancelled`.
 */
import pg from 'pg';
import { Limiter } from '../ashby/limiter.js';
import { ensureBudgetTable, PostgresRateBudget } from '../fleet/budget.js';
import {
  type FleetWorker,
  type RunOutcome as JobOutcome,
  QUEUE_DEFAULTS,
  RunQueue,
  type WorkerOptions,
} from '../fleet/queue.js';
import { parsePostgresTarget } from '../sinks/postgres.js';
import { defined } from '../util/defined.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { sourceRequestOptions } from './engines.js';
import type { Flow, Run, RunErrorInfo, RunStatus, RunTrigger } from './model.js';
import { type RunFlowDeps, runFlow } from './run-flow.js';
import type { ServerStore } from './store.js';

/** How the scheduler hands runs to the fleet instead of running them itself. */
export interface RunDispatch {
  /**
   * Queues a run of the flow under the record id `runId`, unless one of the flow is queued or running
   * anywhere in the fleet.
   * @returns the job id and the id of the run that waits or runs: `runId` when this call queued it
   */
  enqueue(
    flow: Flow,
    trigger: QueueTrigger,
    runId: string,
  ): Promise<{ jobId: string; runId: string; queued: boolean }>;
  /** Takes a queued run out of the queue before a worker takes it; answers whether it did. */
  cancelQueued(flow: Flow, run: Run): Promise<boolean>;
  /**
   * Asks the worker that has the run to stop it (the run ends `cancelled`); answers false when the run
   * has ended already.
   */
  requestCancel(run: Run): Promise<boolean>;
  /** Closes runs whose job ended without them (see {@link reconcileRuns}). */
  reconcile(): Promise<number>;
  /** How often the server calls {@link reconcile}, in milliseconds. */
  readonly reconcileMs: number;
}

/** The triggers whose runs go through the queue; dry runs and replays stay in the server's process. */
export type QueueTrigger = 'schedule' | 'manual' | 'startup';

/** The run queue's key of a flow: its credential, so each credential's runs wait in a queue of their own. */
export function flowKeyId(flow: Pick<Flow, 'credentialId'>): string {
  return flow.credentialId;
}

/** A {@link RunDispatch} on a {@link RunQueue}. */
export function queueDispatch(
  queue: RunQueue,
  store: ServerStore,
  options: { leaseSeconds: number; reconcileSeconds: number; logger?: Logger },
): RunDispatch {
  return {
    reconcileMs: options.reconcileSeconds * 1000,
    async enqueue(flow, trigger, runId) {
      const result = await queue.enqueue(
        { flowId: flow.id, keyId: flowKeyId(flow), trigger, runId },
        { leaseSeconds: options.leaseSeconds },
      );
      if (result.queued) return { jobId: result.jobId, runId, queued: true };
      const waiting = await store.activeRun(flow.id);
      return { jobId: result.jobId, runId: waiting?.id ?? result.jobId, queued: false };
    },
    async cancelQueued(flow, run) {
      const jobId = await jobIdOf(store, run.id);
      if (!jobId || !(await queue.cancelQueued(flowKeyId(flow), jobId))) return false;
      // A run handed back by a stopping worker waits with what it did so far: recorded as cut short.
      return store.endCancelledRun(run.id);
    },
    requestCancel: (run) => store.requestCancel(run.id),
    reconcile: () => reconcileRuns(queue, store, options.logger),
  };
}

async function jobIdOf(store: ServerStore, runId: string): Promise<string | undefined> {
  const row = await store.db
    .selectFrom('flow_runs')
    .select('job_id')
    .where('id', '=', runId)
    .executeTakeFirst();
  return row?.job_id ?? undefined;
}

/**
 * Closes the runs still `queued` or `running` whose job has ended or is gone: the job's retries ran out
 * (its workers kept dying), it was cancelled, or it completed without the run recording its end (the
 * worker died between the two). Each is marked failed with the reason. A run someone asked to cancel is
 * ended `cancelled` instead, once no worker runs it: its job ended, or waits in the queue again (its
 * worker died before it noticed the cancel; the job is taken out of the queue).
 * @returns how many runs were closed
 */
export async function reconcileRuns(queue: RunQueue, store: ServerStore, logger?: Logger): Promise<number> {
  const open = await store.openQueueRuns();
  if (open.length === 0) return 0;
  const states = await queue.jobStates(open.map((r) => r.jobId));
  let closed = 0;
  for (const run of open) {
    const job = states.get(run.jobId);
    if (run.cancelRequested) {
      // An active job's worker stops the run itself (or loses its lease, and the job waits again).
      if (job === undefined || job.state === 'active') continue;
      if (job.state === 'created' || job.state === 'retry') {
        if (!(await queue.cancelQueued(undefined, run.jobId))) continue;
      }
      if (await store.endCancelledRun(run.id)) {
        closed++;
        logger?.info('cancelled run closed: no worker runs it', {
          flowId: run.flowId,
          runId: run.id,
          jobState: job.state,
        });
      }
      continue;
    }
    const reason = endedWithout(job?.state);
    if (reason === undefined) continue;
    // A job queued a moment ago may not be visible yet to this read: only a job's end closes a run.
    if (job === undefined) continue;
    const errors: RunErrorInfo[] = [{ code: 'run_lost', message: reason }];
    if (await store.endOpenRun(run.id, 'failed', errors)) {
      closed++;
      logger?.warn('run closed: its job ended without it', {
        flowId: run.flowId,
        runId: run.id,
        jobState: job.state,
      });
    }
  }
  return closed;
}

function endedWithout(state: string | undefined): string | undefined {
  if (state === 'failed')
    return 'The run was given up: its workers stopped or died before it ended, more times than its retries allow.';
  if (state === 'cancelled') return 'The run was taken out of the queue.';
  if (state === 'completed') return 'The run ended on its worker, but its end was not recorded.';
  return undefined;
}

/** Options of {@link startFlowWorker}. */
export interface FlowWorkerOptions extends Omit<WorkerOptions, 'execute'> {
  /** The worker's name, also written on the runs it takes. */
  name: string;
  /**
   * Connections to the fleet's PostgreSQL for the keys' rate budgets (`ashpipe_rate_budget` in `schema`,
   * which must exist: `ensureBudgetTable`).
   */
  budgetPool: pg.Pool;
  /** Schema of the budget table. @example 'ashpipe' */
  budgetSchema: string;
  /** Told of every run that ended here (metrics, alerting). */
  onRunFinished?: (flow: Flow, run: Run) => void;
  /**
   * How often a running run's record is read for a cancel asked from the server.
   * @default the worker's `pollSeconds` (2)
   */
  cancelCheckSeconds?: number;
}

const EXIT_CODES: Record<Exclude<RunStatus, 'queued' | 'running'>, number> = {
  succeeded: 0,
  partial: 3,
  failed: 1,
  cancelled: 1,
};

/**
 * Starts a worker that takes runs from the queue and runs each with the server's engines
 * ({@link runFlow}), recording it in the control store. A run handed back (the worker stops, or lost its
 * lease) is left to the worker that takes it next.
 */
export function startFlowWorker(queue: RunQueue, deps: RunFlowDeps, options: FlowWorkerOptions): FleetWorker {
  const { store } = deps;
  const { budgetPool, budgetSchema, onRunFinished, cancelCheckSeconds, ...workerOptions } = options;
  const cancelCheckMs =
    (cancelCheckSeconds ?? workerOptions.pollSeconds ?? QUEUE_DEFAULTS.pollSeconds) * 1000;
  return queue.worker({
    ...workerOptions,
    execute: async (job, signal): Promise<JobOutcome> => {
      const runId = job.runId ?? job.jobId;
      const logger = deps.logger.child({ flowId: job.flowId, runId, worker: options.name });
      const flow = await store.getFlow(job.flowId);
      if (!flow) {
        await store.endOpenRun(runId, 'failed', [
          { code: 'flow_deleted', message: 'The flow was deleted before the run could start.' },
        ]);
        return { exitCode: 1, runId, status: 'failed' };
      }
      const claim = await store.claimRun(runId, flow, job.trigger as RunTrigger, options.name, job.jobId);
      if (claim.ended) {
        logger.info('run already ended; not run again', { status: claim.run.status });
        return { exitCode: exitCode(claim.run.status), runId, status: claim.run.status };
      }
      if (claim.previousWorker && claim.previousWorker !== options.name)
        logger.warn('resuming a run its worker left (it died or lost its lease)', {
          previousWorker: claim.previousWorker,
          attempt: job.attempt,
        });
      else logger.info('run taken', { attempt: job.attempt });
      const budget = new PostgresRateBudget({ pool: budgetPool, schema: budgetSchema, keyId: job.keyId });
      const cancel = watchCancel(store, runId, cancelCheckMs, () =>
        logger.info('cancel asked: stopping the run at its next checkpoint'),
      );
      let finished: Run | undefined;
      try {
        finished = await runFlow(deps, flow, claim.run, AbortSignal.any([signal, cancel.signal]), {
          dryRun: false,
          limiter: (f) => new Limiter({ ...limiterOptions(f), shared: budget }),
          // A cancelled run ends here even when the worker is stopping too: a person asked for its end.
          handedBack: () => signal.aborted && !cancel.signal.aborted,
          cancelled: () => cancel.signal.aborted,
        });
      } finally {
        cancel.stop();
      }
      if (!finished) {
        // Back to `queued` unless another worker has it already (this one lost its lease).
        await store.requeueRun(runId, options.name);
        logger.info('run handed back to the queue');
        throw signal.reason instanceof Error ? signal.reason : new Error('the run was handed back');
      }
      onRunFinished?.(flow, finished);
      logger.info('run finished', { status: finished.status });
      return { exitCode: exitCode(finished.status), runId, status: finished.status };
    },
  });
}

/**
 * Reads the run's record every `everyMs` for a cancel asked from the server; aborts `signal` when one was.
 * A read that fails is tried again at the next interval (the run goes on meanwhile).
 */
function watchCancel(
  store: ServerStore,
  runId: string,
  everyMs: number,
  onCancel: () => void,
): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  let reading = false;
  const timer = setInterval(() => {
    if (reading || controller.signal.aborted) return;
    reading = true;
    store
      .cancelRequested(runId)
      .then(
        (asked) => {
          if (!asked || controller.signal.aborted) return;
          onCancel();
          controller.abort(new Error('the run was cancelled'));
        },
        () => undefined,
      )
      .finally(() => {
        reading = false;
      });
  }, everyMs);
  timer.unref();
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/** The flow's own request options as the limiter's (a destination flow has no rate of its own). */
function limiterOptions(flow: Flow): { requestsPerSecond?: number; maxConcurrent?: number } {
  if (flow.config.kind !== 'source') return {};
  return defined(sourceRequestOptions(flow.config.options));
}

function exitCode(status: RunStatus): number {
  return status === 'queued' || status === 'running' ? 1 : EXIT_CODES[status];
}

/**
 * The queue's timings, in seconds: stated, and the same for the server and its workers. A dead worker's
 * run is taken up again at most `leaseSeconds + maintenanceSeconds + pollSeconds` after its last heartbeat
 * (82 s with the defaults).
 */
export interface FleetTimings {
  /** A run's lease without a heartbeat. @default 60 */
  leaseSeconds: number;
  /** How often a running run's lease is renewed. @default 15 */
  heartbeatSeconds: number;
  /** How often an idle worker looks for runs. @default 2 */
  pollSeconds: number;
  /** How often expired leases go back to the queue (and runs whose job ended are closed). @default 20 */
  maintenanceSeconds: number;
  /** On SIGTERM, how long running runs may go on before they are cut at a checkpoint and handed back. @default 30 */
  drainSeconds: number;
}

/** The environment variables of {@link FleetTimings}, e.g. `ASHPIPE_QUEUE_LEASE_SECONDS=120`. */
export const FLEET_TIMING_ENV: Record<keyof FleetTimings, string> = {
  leaseSeconds: 'ASHPIPE_QUEUE_LEASE_SECONDS',
  heartbeatSeconds: 'ASHPIPE_QUEUE_HEARTBEAT_SECONDS',
  pollSeconds: 'ASHPIPE_QUEUE_POLL_SECONDS',
  maintenanceSeconds: 'ASHPIPE_QUEUE_MAINTENANCE_SECONDS',
  drainSeconds: 'ASHPIPE_QUEUE_DRAIN_SECONDS',
};

/**
 * The queue's timings from the environment ({@link FLEET_TIMING_ENV}), defaults otherwise.
 * @throws ConfigError naming the variable that is not a positive number, or a heartbeat not under the lease
 */
export function fleetTimings(env: NodeJS.ProcessEnv): FleetTimings {
  const timings = { ...QUEUE_DEFAULTS } as Record<keyof FleetTimings, number>;
  for (const [field, name] of Object.entries(FLEET_TIMING_ENV) as Array<[keyof FleetTimings, string]>) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new ConfigError(`${name}=${raw} is not a positive number of seconds`);
    timings[field] = value;
  }
  if (timings.heartbeatSeconds >= timings.leaseSeconds)
    throw new ConfigError(
      `${FLEET_TIMING_ENV.heartbeatSeconds} (${timings.heartbeatSeconds}) must be less than ${FLEET_TIMING_ENV.leaseSeconds} (${timings.leaseSeconds}): a lease would expire between heartbeats`,
    );
  return {
    leaseSeconds: timings.leaseSeconds,
    heartbeatSeconds: timings.heartbeatSeconds,
    pollSeconds: timings.pollSeconds,
    maintenanceSeconds: timings.maintenanceSeconds,
    drainSeconds: timings.drainSeconds,
  };
}

/** The fleet of a PostgreSQL control store: its run queue and the connections of its keys' budgets. */
export interface Fleet {
  queue: RunQueue;
  budgetPool: pg.Pool;
  /** The control store's schema: the budget table's too. */
  schema: string;
  timings: FleetTimings;
  close(): Promise<void>;
}

/**
 * Opens the fleet of a PostgreSQL control store: pg-boss in the schema `<control schema>_queue` (created
 * and migrated once, whoever starts first) and the budget table in the control store's schema.
 * @example const fleet = await openFleet(controlUrl, fleetTimings(process.env));
 */
export async function openFleet(url: string, timings: FleetTimings): Promise<Fleet> {
  const target = parsePostgresTarget(url);
  const queueSchema = `${target.schema}_queue`.slice(0, 63);
  const budgetPool = new pg.Pool({ connectionString: target.connectionString, max: 2 });
  budgetPool.on('error', () => undefined);
  try {
    await ensureBudgetTable(budgetPool, target.schema);
    const queue = await RunQueue.open({
      connectionString: target.connectionString,
      schema: queueSchema,
      maintenanceSeconds: timings.maintenanceSeconds,
    });
    return {
      queue,
      budgetPool,
      schema: target.schema,
      timings,
      close: async () => {
        await queue.close();
        await budgetPool.end();
      },
    };
  } catch (error) {
    await budgetPool.end();
    throw error;
  }
}
